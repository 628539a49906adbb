"""``python -m vcc_core simulate --preset small|tiny|vcc --out FILE.h5ad``: write a synthetic screen."""

from __future__ import annotations

import os
import sys
import time

from vcc_core.commands._outputs import output_file
from vcc_core.data.simulate import PRESETS, write_simulation


def register(subparsers) -> None:
    parser = subparsers.add_parser("simulate", help="write a synthetic Perturb-seq screen with known ground truth")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--out", required=True, help="output .h5ad path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes simulating blocks (default: 2)"
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    output_file(args.out)
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        print(f"\rsimulating cells: {done:,}/{total:,} ({done / total:.0%})", end="", file=sys.stderr, flush=True)

    path = write_simulation(args.out, args.preset, seed=args.seed, progress=progress, workers=args.workers)
    print(f"\nwrote {path} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0
