"""``python -m vcc_core precompute --data FILE.h5ad [--pred PRED.h5ad ...]``: fill the cache ahead of a demo."""

from __future__ import annotations

import sys
import time

from vcc_core.cache import default_cache
from vcc_core.dataset import open_dataset
from vcc_core.models import REGISTRY, make_model
from vcc_core.precompute import DEFAULT_MODELS, plan, run


def register(subparsers) -> None:
    parser = subparsers.add_parser("precompute", help="compute and cache what the dashboard shows for a dataset")
    parser.add_argument("--data", required=True, help="real dataset .h5ad, or a preset name (small, tiny, vcc)")
    parser.add_argument("--pred", action="append", default=[], help="a predictions .h5ad to score (repeatable)")
    parser.add_argument(
        "--models", default=",".join(DEFAULT_MODELS), help=f"comma-separated, from {', '.join(REGISTRY)}"
    )
    parser.add_argument("--ceiling-seeds", type=int, default=3, help="split-half replicate seeds (0: skip)")
    parser.add_argument("--no-des-sweep", action="store_true", help="skip the DES scaling sweep")
    parser.add_argument("--pert-col")
    parser.add_argument("--control")
    parser.set_defaults(func=main)


def main(args) -> int:
    store = default_cache()
    if not store.enabled:
        print("error: the cache is switched off (VCC_CACHE=off); nothing would be kept", file=sys.stderr)
        return 2
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for model in models:
        make_model(model)  # an unknown name fails now, not after an hour of computing
    start = time.perf_counter()
    print(f"opening {args.data} …", file=sys.stderr, flush=True)
    dataset = open_dataset(args.data, pert_col=args.pert_col, control=args.control)
    steps = plan(
        dataset, models=models, predictions=args.pred, ceiling_seeds=args.ceiling_seeds, des=not args.no_des_sweep
    )
    print(f"opened in {time.perf_counter() - start:.1f} s; {len(steps)} steps", file=sys.stderr, flush=True)

    def progress(done: int, total: int, label: str, seconds: float) -> None:
        print(f"[{done}/{total}] {label}: {seconds:.1f} s", file=sys.stderr, flush=True)

    run(steps, progress=progress)
    info = store.info()
    print(
        f"done in {time.perf_counter() - start:.1f} s; cache {info.location}: {info.entries} entries, "
        f"{info.total_bytes / 1e6:.1f} MB",
        file=sys.stderr,
    )
    return 0
