"""``python -m vcc_core ceiling --data FILE.h5ad --out DIR [--seeds 3]``: split-half replicate ceilings as CSVs."""

from __future__ import annotations

import sys
from pathlib import Path

from vcc_core.analyses.ceiling import FLOORS, ceiling
from vcc_core.data.dataset import open_dataset


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ceiling", help="DES/PDS noise ceilings from split-half replicates of the real data (CSV tables)"
    )
    parser.add_argument("--data", required=True, help="real dataset .h5ad, or a preset name (small, tiny, vcc)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seeds", type=int, default=3, help="random splits averaged (default: %(default)s)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    parser.add_argument(
        "--floors",
        type=float,
        nargs="+",
        default=list(FLOORS),
        help="expression floors (mean log1p control expression) for the DES-vs-floor table",
    )
    parser.add_argument("--pert-col")
    parser.add_argument("--control")
    parser.set_defaults(func=run)


def run(args) -> int:
    dataset = open_dataset(args.data, pert_col=args.pert_col, control=args.control)

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    result = ceiling(dataset, seeds=args.seeds, split=args.split, floors=args.floors, progress=progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "replicate_values.csv": result.replicate_values().rename_axis("metric").to_frame(),
        "per_perturbation.csv": result.per_perturbation(),
        "per_seed.csv": result.per_seed.set_index(["seed", "perturbation"]),
        "genes.csv": result.genes.set_index("gene"),
        "floors.csv": result.floor_curve(),
    }
    for name, table in tables.items():
        table.to_csv(out / name)
    print(f"wrote {', '.join(tables)} to {out}", file=sys.stderr)
    r = result.replicate_values()
    print("\n".join(f"{name}\t{r[name]:.6g}" for name in ("overlap_at_N", "discrimination_score_l1", "mae")))
    return 0
