"""``python -m vcc_core precompute --data FILE.h5ad [--pred PRED.h5ad ...]``: fill the cache ahead of a demo.

The steps call the same cached functions with the same arguments as the pages, so afterwards every page of every
session opens from the cache: the real side (profiles and DE), each model's training, predicted cells and their DE,
the DES scaling sweep, split-half ceilings and the scores of given prediction files.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcc_core.analyses.ceiling import ceiling
from vcc_core.analyses.sweep import DES_SCALES, SCALES
from vcc_core.analyses.sweep_runs import des_sweep, source_sweep
from vcc_core.cache import default_cache
from vcc_core.data.dataset import Dataset, open_dataset
from vcc_core.evaluation.sides import predicted_side, real_side
from vcc_core.evaluation.sources import PredictionSource, source_inputs
from vcc_core.models import DEFAULT_MODELS, REGISTRY, make_model
from vcc_core.models.training import train_predict


def register(subparsers) -> None:
    parser = subparsers.add_parser("precompute", help="compute and cache what the dashboard shows for a dataset")
    parser.add_argument("--data", required=True, help="real dataset .h5ad, or a preset name (small, tiny, vcc)")
    parser.add_argument(
        "--pred", action="append", default=[], help="a prediction file (cells .h5ad, or a .csv/.parquet/.h5ad table) "
        "whose sides, DE and sweep the pages will read (repeatable)",
    )  # fmt: skip
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


@dataclass(frozen=True)
class Step:
    label: str
    run: Callable[[], object]


def plan(
    dataset: Dataset,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    predictions: Sequence[str | Path] = (),
    ceiling_seeds: int = 3,
    des: bool = True,
) -> list[Step]:
    """The cached computations behind the pages, in the order a visitor would meet them."""
    steps = [
        Step("real test cells: pseudobulk and Wilcoxon DE vs control", lambda: real_side(dataset)),
    ]
    for model in models:
        steps += [
            Step(f"{model}: train and predict", lambda m=model: train_predict(dataset, m)),
            Step(f"{model}: predicted cells and their DE", lambda m=model: predicted_side(dataset, m)),
        ]
    if des:
        steps.append(
            Step("mean_baseline: DES at s = 1", lambda: des_sweep(dataset, "mean_baseline", scales=np.array([1.0])))
        )
        for model in models:
            steps.append(Step(f"{model}: DES scaling sweep", lambda m=model: des_sweep(dataset, m, scales=DES_SCALES)))
    if ceiling_seeds:
        steps.append(
            Step(f"split-half ceilings ({ceiling_seeds} seeds)", lambda: ceiling(dataset, seeds=ceiling_seeds))
        )
    for path in predictions:
        source = PredictionSource.file(path)
        steps += [
            Step(f"{source.label}: sides and DE", lambda s=source: source_inputs(dataset, s)),
            Step(f"{source.label}: scaling sweep", lambda s=source: source_sweep(dataset, s, scales=SCALES)),
        ]
    return steps


def run(steps: Sequence[Step], *, progress: Callable[[int, int, str, float], None] | None = None) -> list[float]:
    """Run ``steps`` in order; ``progress(done, total, label, seconds)`` after each. Returns the seconds taken."""
    seconds = []
    for i, step in enumerate(steps):
        start = time.perf_counter()
        step.run()
        seconds.append(time.perf_counter() - start)
        if progress is not None:
            progress(i + 1, len(steps), step.label, seconds[-1])
    return seconds
