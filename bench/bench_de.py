"""Time ``vcc_core.de.wilcoxon.wilcoxon_de`` against pdex 0.3.0 (as cell-eval 0.8.2 calls it) on one synthetic dataset.

    .venv/bin/python bench/bench_de.py --genes 18080 --perts 50 --cells 100 --controls 5000

Counts are negative-binomial (gamma-Poisson) with heavy-tailed gene means and a shifted subset of genes per
perturbation, normalised like cell-eval (total count to the median, then log1p, float32). pdex runs in
``/work/refenv`` through a subprocess when that environment exists (after a small warm-up call, so numba's
compilation is not timed); the script prints both times and the largest deviations between the two tables.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcc_core.de.wilcoxon import wilcoxon_de
from vcc_core.keys import CONTROL, PERT_COL

REFENV = Path("/work/refenv/bin/python")
PDEX_SCRIPT = """
import sys, time, anndata as ad, numpy as np
from pdex import pdex
kw = dict(groupby="{pert_col}", mode="ref", reference="{control}", is_log1p=True, epsilon=0.0, threads=0)
a = ad.read_h5ad(sys.argv[1])
pdex(a[np.r_[0:3, -3:0]].copy(), **kw)  # compile numba kernels outside the timing
t = time.perf_counter()
df = pdex(a, **kw)
print(time.perf_counter() - t)
df.write_parquet(sys.argv[2])
"""


def synthetic(*, genes: int, perts: int, cells: int, controls: int, seed: int = 0) -> ad.AnnData:
    """Log1p-normalised float32 CSR data with ``perts`` perturbations of ``cells`` cells and ``controls`` controls."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([CONTROL] + [f"P{i:04d}" for i in range(perts)], [controls] + [cells] * perts)
    rate = np.exp(rng.normal(-2.5, 1.8, genes))
    effect = np.exp(rng.normal(0, 1.0, (perts + 1, genes)) * (rng.random((perts + 1, genes)) < 0.05))
    effect[0] = 1.0
    group = np.repeat(np.arange(perts + 1), [controls] + [cells] * perts)
    blocks = []
    for start in range(0, labels.size, 2000):
        g = group[start : start + 2000]
        lib = rng.lognormal(0, 0.4, (g.size, 1))
        mean = lib * rate * effect[g]
        blocks.append(sparse.csr_matrix(rng.poisson(rng.gamma(2.0, mean / 2.0)).astype(np.float32)))
    counts = sparse.vstack(blocks).tocsr()
    totals = np.asarray(counts.sum(axis=1)).ravel()
    scale = (np.median(totals) / np.maximum(totals, 1)).astype(np.float32)
    x = sparse.diags(scale) @ counts
    x.data = np.log1p(x.data)
    adata = ad.AnnData(x.astype(np.float32).tocsr())
    adata.obs[PERT_COL] = labels
    adata.var_names = [f"G{i:05d}" for i in range(genes)]
    return adata


def run_pdex(adata: ad.AnnData, workdir: Path) -> tuple[float, pd.DataFrame]:
    """pdex in the reference environment; returns its run time (seconds) and table."""
    src, out = workdir / "input.h5ad", workdir / "pdex.parquet"
    adata.write_h5ad(src)
    code = PDEX_SCRIPT.format(pert_col=PERT_COL, control=CONTROL)
    done = subprocess.run([str(REFENV), "-c", code, str(src), str(out)], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1]), pd.read_parquet(out)


def deviation(ours: pd.DataFrame, ref: pd.DataFrame, column: str) -> tuple[float, float]:
    """Largest absolute and relative deviation of ``column`` (equal infinities count as 0, unequal as inf)."""
    a, b = ours[column].to_numpy(np.float64), ref[column].to_numpy(np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)) or np.any(a[~both] != b[~both]):
        return np.inf, np.inf
    diff = np.abs(a[both] - b[both])
    rel = diff / np.maximum(np.abs(b[both]), 1e-300)
    return float(diff.max(initial=0.0)), float(rel.max(initial=0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=18_080)
    parser.add_argument("--perts", type=int, default=50)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--controls", type=int, default=5_000)
    parser.add_argument("--batch-entries", type=int, default=1 << 27)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pdex", action="store_true", help="time vcc_core only")
    args = parser.parse_args()
    adata = synthetic(genes=args.genes, perts=args.perts, cells=args.cells, controls=args.controls)
    print(f"data: {adata.n_obs} cells x {adata.n_vars} genes, {adata.X.nnz / np.prod(adata.shape):.1%} nonzero")
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        result = wilcoxon_de(adata.X, adata.obs[PERT_COL], genes=adata.var_names, batch_entries=args.batch_entries)
        times.append(time.perf_counter() - t)
    print(
        f"vcc_core.de.wilcoxon: best {min(times):.2f} s of {args.repeats} (all: {', '.join(f'{s:.2f}' for s in times)})"
    )
    if args.no_pdex or not REFENV.exists():
        return
    with tempfile.TemporaryDirectory() as tmp:
        seconds, ref = run_pdex(adata, Path(tmp))
    ours = result.to_frame()
    print(f"pdex 0.3.0: {seconds:.2f} s  (speed-up x{seconds / min(times):.1f})")
    for column in ("statistic", "p_value", "fdr", "log2_fold_change", "target_mean", "ref_mean"):
        absolute, relative = deviation(ours, ref, column)
        print(f"  {column:>16}: max absolute deviation {absolute:.3g}, max relative {relative:.3g}")
    calls = (ours["fdr"] < 0.05).to_numpy() != (ref["fdr"] < 0.05).to_numpy()
    print(f"  significant calls that differ (FDR < 0.05): {int(calls.sum())} of {calls.size}")


if __name__ == "__main__":
    main()
