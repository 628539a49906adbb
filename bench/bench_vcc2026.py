"""Time ``python -m vcc_core evaluate --profile vcc2026`` against ``cell-eval2 run --preset vcc2026``, whole
processes on the same files in one run, and check that they agree.

    .venv/bin/python bench/bench_vcc2026.py [--genes 18080 --perts 50 --cells 100 --controls 5000]
        [--no-reference] [--reference /work/refenv2/bin/cell-eval2] [--workdir DIR] [--stream]

The files are those of ``bench/bench_evaluate.py`` (a simulated screen, raw counts, and a prediction of resampled
real cells), built once per shape in ``--workdir``. Each command runs as a user would start it, imports and
file reading included; cell-eval2 0.20.0 (CPU, pdex 0.3.0; every core, its default) lives in its own environment.
Reported: the wall time of each process and its peak resident memory (``os.wait4``), their ratio, and the
largest relative difference per metric. The first run after an install also compiles our kernels (cached after):
``--warm`` runs ours once before timing. ``--stream`` also times ``--scheduler stream`` (bounded memory, 1 GiB of
DE values) and compares it with the in-process run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from bench.bench_evaluate import build_files  # noqa: E402


def timed(command: list[str]) -> dict:
    """Wall time and peak RSS (MB, of the process itself: ``os.wait4``) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[0]} failed:\n{stderr[-3000:]}")
    return {"wall": wall, "peak_mb": usage.ru_maxrss / 1024}


def compare(ours: Path, theirs: Path) -> pd.DataFrame:
    """Largest relative difference per metric of the two long ``results.csv`` and of the ratio of sums."""
    a = pd.read_csv(ours / "results.csv")
    b = pd.read_csv(theirs / "results.csv")
    merged = b.merge(a, on=["perturbation", "metric"], how="outer", suffixes=("_ref", ""), indicator=True)
    rows = []
    for metric, part in merged.groupby("metric"):
        x, y = part["value"].to_numpy(float), part["value_ref"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(x - y) / np.maximum(np.abs(y), 1e-300)
        rows.append(
            {
                "metric": metric,
                "rows": len(part),
                "same_rows": bool((part["_merge"] == "both").all()),
                "same_nan": bool(np.array_equal(np.isnan(x), np.isnan(y))),
                "max_rel_diff": float(np.nanmax(rel, initial=0.0)),
            }
        )
    derived = "expr_mse_unbiased_capped_norm"
    x = pd.read_csv(ours / "agg_results.csv", index_col=0).loc["mean", derived]
    y = pd.read_csv(theirs / "agg_results.csv", index_col=0).loc["mean", derived]
    rows.append(
        {"metric": derived, "rows": 1, "same_rows": True, "same_nan": True, "max_rel_diff": abs(x - y) / abs(y)}
    )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=18_080)
    parser.add_argument("--perts", type=int, default=50)
    parser.add_argument("--cells", type=int, default=100, help="cells per perturbation")
    parser.add_argument("--controls", type=int, default=5_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vcc-bench"))
    parser.add_argument("--reference", default="/work/refenv2/bin/cell-eval2", help="the cell-eval2 command")
    parser.add_argument("--no-reference", action="store_true", help="time ours only")
    parser.add_argument("--warm", action="store_true", help="run ours once first (compiles and caches the kernels)")
    parser.add_argument("--stream", action="store_true", help="time --scheduler stream too")
    args = parser.parse_args(argv)
    real, pred = build_files(args.workdir, genes=args.genes, perts=args.perts, cells=args.cells, controls=args.controls)
    outs = {"ours": args.workdir / "vcc2026_ours", "cell-eval2": args.workdir / "vcc2026_cell_eval2"}
    outs["stream"] = args.workdir / "vcc2026_stream"
    ours = [sys.executable, "-m", "vcc_core", "evaluate", "--profile", "vcc2026"]
    ours += ["--real", str(real), "--pred", str(pred), "--out", str(outs["ours"])]
    if args.warm:
        timed(ours)
    reports = {"ours": timed(ours)}
    if args.stream:
        streamed = [*ours[:-1], str(outs["stream"]), "--scheduler", "stream", "--memory-gb", "1"]
        reports["stream"] = timed(streamed)
    if not args.no_reference and Path(args.reference).exists():
        theirs = [args.reference, "run", "-ar", str(real), "-ap", str(pred), "-o", str(outs["cell-eval2"])]
        theirs += ["--preset", "vcc2026", "--pert-col", "target_gene"]
        reports["cell-eval2"] = timed(theirs)
    cells = args.controls + args.perts * args.cells
    print(f"{args.genes:,} genes x {args.perts} perturbations x {args.cells} cells + {args.controls:,} controls "
          f"({cells:,} cells per file)")  # fmt: skip
    print(f"{'tool':12s} {'process (s)':>12s} {'peak RSS (MB)':>14s}")
    for tool, r in reports.items():
        print(f"{tool:12s} {r['wall']:12.2f} {r['peak_mb']:14.0f}")
    if "cell-eval2" in reports:
        print(f"speed-up (whole process): {reports['cell-eval2']['wall'] / reports['ours']['wall']:.1f}x")
        print(compare(outs["ours"], outs["cell-eval2"]).to_string(index=False))
    if "stream" in reports:
        print(f"stream / in-process wall time: {reports['stream']['wall'] / reports['ours']['wall']:.2f}")
        print(compare(outs["stream"], outs["ours"]).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
