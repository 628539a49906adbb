"""``python -m vcc_core train --model NAME --data FILE.h5ad --out PRED.h5ad``: fit, predict, write a submission."""

from __future__ import annotations

import sys

from vcc_core.commands._outputs import output_file
from vcc_core.data.dataset import open_dataset
from vcc_core.data.io import MIN_CELLS
from vcc_core.evaluation.submission import to_submission
from vcc_core.models import REGISTRY
from vcc_core.models.training import train_predict


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a model and write its predictions as a VCC submission")
    parser.add_argument("--model", required=True, help=f"one of {', '.join(REGISTRY)} or scaled:NAME")
    parser.add_argument("--data", required=True, help="real dataset .h5ad, or a preset name (small, tiny, vcc)")
    parser.add_argument("--out", required=True, help="output submission .h5ad")
    parser.add_argument("--predict", default="test", choices=["train", "val", "test", "all"])
    parser.add_argument("--space", default="log1p", choices=["log1p", "counts"])
    parser.add_argument("--cells-per-pert", type=int, default=100)
    parser.add_argument("--pert-col")
    parser.add_argument("--control")
    parser.set_defaults(func=run)


def run(args) -> int:
    output_file(args.out)
    if args.cells_per_pert < MIN_CELLS:
        msg = f"--cells-per-pert must be at least {MIN_CELLS} (DE compares cells), got {args.cells_per_pert}"
        raise ValueError(msg)
    dataset = open_dataset(args.data, pert_col=args.pert_col, control=args.control)

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    pred = train_predict(dataset, args.model, predict=args.predict, progress=progress)
    sub = to_submission(pred, dataset, cells_per_pert=args.cells_per_pert, space=args.space)
    sub.write_h5ad(args.out)
    print(f"wrote {args.out}: {sub.n_obs:,} cells x {sub.n_vars:,} genes", file=sys.stderr)
    return 0
