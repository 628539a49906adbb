"""Time a user's submission on the explorer's path: cold (sides computed and cached) and warm (a new process that
only reads the disk cache), each in its own process with its peak resident memory.

    .venv/bin/python bench/bench_predictions.py [--genes 18080 --perts 100 --cells 1000 --controls 38000]
        [--workdir DIR]

Builds (once per shape, kept in ``--workdir``) a simulated screen as the real file (raw counts) and a submission of
resampled real cells (counts), then opens the dataset and runs ``source_inputs`` and the metric loop on the
submission (what the explorer's first view needs; imports excluded, as a running server has them) in a child
process with a fresh cache folder, then again in a second child on the same cache (a server restart). The VCC size
is the default shape (about 3.3 GB per file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

CHILD = """
import json, os, resource, sys, time
real, pred = sys.argv[1:3]
from vcc_core.data.dataset import open_dataset
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.sources import PredictionSource, source_inputs
start = time.perf_counter()
data = open_dataset(real)
source = PredictionSource.file(pred)
metrics = per_perturbation(source_inputs(data, source))
print(json.dumps({"seconds": time.perf_counter() - start, "perturbations": len(metrics),
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=18_080)
    parser.add_argument("--perts", type=int, default=100)
    parser.add_argument("--cells", type=int, default=1_000, help="cells per perturbation")
    parser.add_argument("--controls", type=int, default=38_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vcc-bench"))
    args = parser.parse_args(argv)
    from bench.bench_evaluate import build_files

    real, pred = build_files(args.workdir, genes=args.genes, perts=args.perts, cells=args.cells, controls=args.controls)
    cache = args.workdir / "cache_predictions"
    shutil.rmtree(cache, ignore_errors=True)
    env = {"VCC_CACHE_DIR": str(cache), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    reports = {}
    for run in ("cold", "warm"):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(real), str(pred)],
            check=True, capture_output=True, text=True, env={**os.environ, **env},
        )  # fmt: skip
        reports[run] = json.loads(done.stdout.strip().splitlines()[-1]) | {"process": time.perf_counter() - start}
    print(f"files: {real} ({real.stat().st_size / 1e9:.2f} GB) and {pred} ({pred.stat().st_size / 1e9:.2f} GB)")
    print(f"{'run':6s} {'explorer data (s)':>18s} {'process (s)':>12s} {'peak RSS (GB)':>14s} {'perturbations':>14s}")
    for run, r in reports.items():
        print(f"{run:6s} {r['seconds']:18.1f} {r['process']:12.1f} {r['peak_gb']:14.2f} {r['perturbations']:14d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
