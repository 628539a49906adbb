"""Time ``vcc_core.evaluation.evaluate`` against ``cell-eval run`` on the same files, and check they agree.

    .venv/bin/python bench/bench_evaluate.py [--genes 18080 --perts 50 --cells 100 --controls 5000]
        [--profile vcc] [--no-reference] [--stream] [--reference /work/refenv/bin/python] [--workdir DIR]
        [--cli [--reference-env NAME=VALUE] [--repeat N]]

Builds (once per shape, kept in ``--workdir``) a simulated screen as the real file (raw counts) and a prediction
made of resampled real cells (70% of each perturbation's cells drawn from its own, 30% from the next one's;
controls resampled), then runs each tool in its own process on the two files: ours (this environment) and
cell-eval 0.8.2 (``MetricsEvaluator(...).compute(profile)``, 2 threads). Each process reports the time of the
evaluation alone (files read, normalised, DE, metrics; imports excluded) and its peak resident memory
(``resource.getrusage``); the wall time of the whole process is shown too. Finally the per-perturbation results
are compared metric by metric (largest relative difference).

``--cli`` times the two command lines instead, as a user runs them, each a whole process from start to exit:
``python -m vcc_core evaluate --profile P`` against ``cell-eval run --profile P --num-threads 2`` (the ``cell-eval``
next to ``--reference``). ``--reference-env NAME=VALUE`` sets a variable for cell-eval's process too (e.g. the
``NUMPY_MADVISE_HUGEPAGE=0`` our command sets for itself), to see what it is worth to the reference. ``--repeat N``
runs each command N times, alternating them, and compares the medians (the machines are shared: one run of ours
can take 3.4 s or 4.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

REFERENCE_CHILD = """
import json, resource, sys, time
real, pred, out, profile = sys.argv[1:5]
from cell_eval import MetricsEvaluator
start = time.perf_counter()
ev = MetricsEvaluator(adata_pred=pred, adata_real=real, control_pert="non-targeting", pert_col="target_gene",
                      num_threads=2, outdir=out, skip_de=profile == "pds")
ev.compute(profile=profile)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_files(workdir: Path, *, genes: int, perts: int, cells: int, controls: int) -> tuple[Path, Path]:
    """Real (simulated counts) and predicted (resampled real cells) ``.h5ad`` files, built once per shape."""
    import anndata as ad

    from vcc_core.data.simulate import SimConfig, write_simulation

    folder = workdir / f"g{genes}_p{perts}_c{cells}_n{controls}"
    real_path, pred_path = folder / "real.h5ad", folder / "pred.h5ad"
    if real_path.exists() and pred_path.exists():
        return real_path, pred_path
    folder.mkdir(parents=True, exist_ok=True)
    cfg = SimConfig(n_genes=genes, n_perts=perts, cells_per_pert=cells, n_control=controls, n_programs=10)
    print(f"simulating {controls + perts * cells:,} cells x {genes:,} genes -> {real_path}", file=sys.stderr)
    write_simulation(real_path, cfg)
    resampled_prediction(ad.read_h5ad(real_path)).write_h5ad(pred_path)
    return real_path, pred_path


def resampled_prediction(real, *, seed: int = 0):
    """A prediction of resampled real cells: 70% of each perturbation's cells drawn from its own, 30% from the next
    one's (sorted names), controls resampled from the controls; the real counts, labels in ``obs[PERT_COL]``."""
    import anndata as ad

    from vcc_core.keys import CONTROL, PERT_COL

    labels = real.obs[PERT_COL].astype(str).to_numpy()
    names = sorted(set(labels) - {CONTROL})
    rng = np.random.default_rng(seed)
    rows, out_labels = [], []
    for i, name in enumerate([CONTROL, *names]):
        own = np.flatnonzero(labels == name)
        other = own if name == CONTROL else np.flatnonzero(labels == names[i % len(names)])
        k = round(0.7 * own.size)
        rows.append(np.concatenate([rng.choice(own, k), rng.choice(other, own.size - k)]))
        out_labels += [name] * own.size
    pred = ad.AnnData(X=real.X[np.concatenate(rows)], obs=pd.DataFrame({PERT_COL: out_labels}), var=real.var[[]].copy())
    pred.obs_names = [f"p{i}" for i in range(pred.n_obs)]
    return pred


def child_ours(real: str, pred: str, out: str, profile: str, mode: str) -> None:
    """Run inside the timed process: evaluate, write the tables, report time and peak memory as JSON.

    ``mode``: ``memory`` (:func:`vcc_core.evaluation.evaluate.evaluate`) or ``stream``
    (:func:`vcc_core.scale.stream.evaluate`, 512 MiB of DE values).
    """
    from vcc_core.evaluation.evaluate import evaluate
    from vcc_core.evaluation.results import write_results
    from vcc_core.scale import stream

    start = time.perf_counter()
    if mode == "stream":
        results, agg = stream.evaluate(real, pred, profile=profile, batch_entries=1 << 27)
    else:
        results, agg = evaluate(real, pred, profile=profile)
    seconds = time.perf_counter() - start
    write_results(results, agg, out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def time_command(command: list[str], env: dict | None = None) -> float:
    """Seconds from start to exit of ``command`` (its output discarded; a failure raises with its stderr).

    The files written before are flushed to disk first (``os.sync``, not timed): cell-eval writes 230 MB of DE tables,
    whose write-back would otherwise fall on whichever command runs next.
    """
    os.sync()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def compare_clis(args, real: Path, pred: Path) -> int:
    """Whole processes of both command lines on the same files, then their results compared."""
    ours_dir, ref_dir = args.workdir / "cli_ours", args.workdir / "cli_cell_eval"
    ours = [sys.executable, "-m", "vcc_core", "evaluate", "--real", str(real), "--pred", str(pred)]
    ours += ["--out", str(ours_dir), "--profile", args.profile]
    cell_eval = str(Path(args.reference).with_name("cell-eval"))
    reference = [cell_eval, "run", "-ar", str(real), "-ap", str(pred), "-o", str(ref_dir), "--profile", args.profile]
    reference += ["--num-threads", "2"]
    env = dict(os.environ, **dict(item.split("=", 1) for item in args.reference_env))
    runs = {"ours": [], "cell-eval": []}
    for _ in range(args.repeat):  # alternated, so that a slow spell of the machine falls on both
        runs["ours"].append(time_command(ours))
        runs["cell-eval"].append(time_command(reference, env))
    times = {tool: float(np.median(seconds)) for tool, seconds in runs.items()}
    if args.repeat > 1:
        for tool, seconds in runs.items():
            print(f"{tool}: {', '.join(f'{s:.2f}' for s in seconds)} s")
    print(
        f"whole process, profile {args.profile}{' (medians)' if args.repeat > 1 else ''}: ours {times['ours']:.2f} s, "
        f"cell-eval {times['cell-eval']:.2f} s ({' '.join(args.reference_env) or 'its default environment'}): "
        f"{times['cell-eval'] / times['ours']:.1f}x"
    )
    print(compare(ours_dir, ref_dir).to_string(index=False))
    return 0


def run_child(command: list[str]) -> dict:
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["wall"] = time.perf_counter() - start
    return report


def compare(ours_dir: Path, ref_dir: Path) -> pd.DataFrame:
    """Largest relative difference per metric column present in both results tables."""
    ours = pd.read_csv(ours_dir / "results.csv", index_col=0)
    ref = pd.read_csv(ref_dir / "results.csv", index_col=0).loc[ours.index]
    rows = []
    for column in [c for c in ours.columns if c in ref.columns]:
        a, b = ours[column].to_numpy(float), ref[column].to_numpy(float)
        same_nan = bool(np.array_equal(np.isnan(a), np.isnan(b)))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
        rows.append({"metric": column, "max_rel_diff": float(np.nanmax(rel, initial=0.0)), "same_nan": same_nan})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=18_080)
    parser.add_argument("--perts", type=int, default=50)
    parser.add_argument("--cells", type=int, default=100, help="cells per perturbation")
    parser.add_argument("--controls", type=int, default=5_000)
    parser.add_argument("--profile", default="vcc")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vcc-bench"))
    parser.add_argument("--reference", default="/work/refenv/bin/python", help="python with cell-eval installed")
    parser.add_argument("--no-reference", action="store_true", help="time ours only")
    parser.add_argument("--stream", action="store_true", help="time the streamed evaluation too (512 MiB of DE values)")
    parser.add_argument("--cli", action="store_true", help="time both command lines as whole processes")
    parser.add_argument("--reference-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--repeat", type=int, default=1, help="--cli: runs of each command, alternated (medians)")
    parser.add_argument("--child", nargs=5, metavar=("REAL", "PRED", "OUT", "PROFILE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_ours(*args.child)
        return 0
    real, pred = build_files(args.workdir, genes=args.genes, perts=args.perts, cells=args.cells, controls=args.controls)
    if args.cli:
        return compare_clis(args, real, pred)
    runs = {"ours": args.workdir / "out_ours"}
    print(f"files: {real} and {pred}; profile {args.profile}", file=sys.stderr)
    child = [sys.executable, __file__, "--child", str(real), str(pred)]
    reports = {"ours": run_child([*child, str(runs["ours"]), args.profile, "memory"])}
    if args.stream:
        runs["streamed"] = args.workdir / "out_streamed"
        reports["streamed"] = run_child([*child, str(runs["streamed"]), args.profile, "stream"])
    if not args.no_reference and Path(args.reference).exists():
        runs["cell-eval"] = args.workdir / "out_cell_eval"
        code = [args.reference, "-c", REFERENCE_CHILD, str(real), str(pred), str(runs["cell-eval"]), args.profile]
        reports["cell-eval"] = run_child(code)
    print(f"{'tool':10s} {'evaluate (s)':>13s} {'process (s)':>12s} {'peak RSS (MB)':>14s}")
    for tool, r in reports.items():
        print(f"{tool:10s} {r['seconds']:13.2f} {r['wall']:12.2f} {r['peak_mb']:14.0f}")
    if "cell-eval" in reports:
        print(f"speed-up (evaluate): {reports['cell-eval']['seconds'] / reports['ours']['seconds']:.1f}x")
        print(compare(runs["ours"], runs["cell-eval"]).to_string(index=False))
    if "streamed" in reports:
        print("streamed vs in memory:")
        print(compare(runs["streamed"], runs["ours"]).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
