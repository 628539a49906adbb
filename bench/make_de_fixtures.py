"""Golden differential-expression fixtures from pdex 0.3.0, called the way cell-eval 0.8.2 calls it.

Run in the reference environment (cell-eval 0.8.2, pdex 0.3.0) from the repository root::

    /work/refenv/bin/python bench/make_de_fixtures.py

For each dataset it writes ``tests/fixtures/de_<name>.h5ad`` (``X``: the log1p values pdex saw, float32 CSR;
``layers["counts"]``: the raw counts when there were any; ``obs["target_gene"]``) and
``tests/fixtures/de_<name>_pdex.parquet`` (pdex's table, unchanged). Normalisation and the pdex arguments come from
cell-eval's own helpers (``_convert_to_normlog``, ``_build_pdex_kwargs``), so inputs and call match ``cell-eval run``.

Datasets
- ``synthetic``: 300 genes, 300 control cells and 8 perturbations of 40-80 cells plus one of a single cell;
  negative-binomial counts over heavy-tailed gene means with per-cell library sizes, a knockdown of each target gene
  and shifted genes; one gene never expressed, one expressed only in control, one only in one perturbation.
- ``repeated``: the normalised ``synthetic`` data with the cells of 5 perturbations replaced by copies of their mean
  profile (the pseudobulk-as-cells predictions that make p-values extreme; all values tie within a group).
- ``papalexi``: the real ECCITE-seq screen in ``/work/shared/data`` (299 genes, raw UMI counts): 8 perturbations
  (at most 150 cells each, seeded draw) and all 1,923 ``non-targeting`` cells; ``unassigned`` cells dropped.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from cell_eval._evaluator import _build_pdex_kwargs, _convert_to_normlog
from pdex import pdex
from scipy import sparse

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures"
PAPALEXI = Path("/work/shared/data/papalexi2021_sceptredata_lowmoi.h5ad")
PAPALEXI_PERTS = ["CUL3", "IFNGR1", "IRF1", "JAK2", "MYC", "SMAD4", "SPI1", "STAT1"]
PERT_COL, CONTROL = "target_gene", "non-targeting"


def synthetic_counts(seed: int = 0) -> ad.AnnData:
    """Raw counts of the ``synthetic`` dataset (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_genes = 300
    genes = np.array([f"G{i:03d}" for i in range(n_genes)], dtype=object)
    genes[-3:] = ["NEVER", "CONTROL_ONLY", "PERT_ONLY"]
    targets = rng.choice(n_genes - 3, size=9, replace=False)
    sizes = [300, *rng.integers(40, 81, size=8), 1]
    labels = np.repeat([CONTROL, *genes[targets]], sizes)
    rate = np.exp(rng.normal(-1.0, 1.5, n_genes))
    effect = np.ones((len(sizes), n_genes))
    for p in range(1, len(sizes)):
        shifted = rng.random(n_genes) < 0.08
        effect[p, shifted] = np.exp(rng.normal(0.0, 1.0, shifted.sum()))
        effect[p, targets[p - 1]] = rng.uniform(0.05, 0.3)
    group = np.repeat(np.arange(len(sizes)), sizes)
    library = rng.lognormal(0.0, 0.4, size=(group.size, 1))
    mean = library * rate * effect[group]
    counts = rng.negative_binomial(2, 2 / (2 + mean)).astype(np.float32)
    counts[:, -3] = 0
    counts[group != 0, -2] = 0
    counts[group != 1, -1] = 0
    counts[group == 1, -1] = rng.integers(1, 4, size=sizes[1])
    adata = ad.AnnData(sparse.csr_matrix(counts), var=pd.DataFrame(index=genes))
    adata.obs[PERT_COL] = pd.Categorical(labels)
    return adata


def papalexi_counts(seed: int = 0) -> ad.AnnData:
    """Raw counts of the ``papalexi`` subset (see the module docstring)."""
    rng = np.random.default_rng(seed)
    full = ad.read_h5ad(PAPALEXI)
    labels = full.obs[PERT_COL].astype(str).to_numpy()
    rows = [np.flatnonzero(labels == CONTROL)]
    for pert in PAPALEXI_PERTS:
        hits = np.flatnonzero(labels == pert)
        rows.append(np.sort(rng.choice(hits, size=min(150, hits.size), replace=False)))
    subset = full[np.sort(np.concatenate(rows))]
    adata = ad.AnnData(sparse.csr_matrix(subset.X, dtype=np.float32), var=pd.DataFrame(index=subset.var_names))
    adata.obs[PERT_COL] = pd.Categorical(subset.obs[PERT_COL].astype(str))
    return adata


def repeated(normalised: ad.AnnData) -> ad.AnnData:
    """``normalised`` with 5 perturbations' cells replaced by copies of their mean log1p profile."""
    x = normalised.X.toarray()
    labels = normalised.obs[PERT_COL].astype(str).to_numpy()
    for pert in [p for p in normalised.obs[PERT_COL].cat.categories if p != CONTROL][:5]:
        rows = labels == pert
        x[rows] = x[rows].mean(axis=0, dtype=np.float64).astype(np.float32)
    adata = ad.AnnData(sparse.csr_matrix(x), var=normalised.var.copy())
    adata.obs[PERT_COL] = normalised.obs[PERT_COL].copy()
    return adata


def run_pdex(adata: ad.AnnData, name: str) -> None:
    """Normalise like cell-eval (when ``adata`` holds counts), run pdex like cell-eval, write both files."""
    if not adata.X.data.size or np.all(np.modf(adata.X.data)[0] == 0):
        adata.layers["counts"] = adata.X.copy()
    _convert_to_normlog(adata, which=name)
    kwargs = _build_pdex_kwargs(reference=CONTROL, groupby=PERT_COL, threads=1, allow_discrete=False)
    table = pdex(adata=adata, mode="ref", **kwargs)
    adata.write_h5ad(OUT / f"de_{name}.h5ad", compression="gzip")
    table.write_parquet(OUT / f"de_{name}_pdex.parquet")
    print(f"{name}: {adata.n_obs} cells x {adata.n_vars} genes, pdex kwargs {kwargs}, {table.height} rows")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    synthetic = synthetic_counts()
    run_pdex(synthetic, "synthetic")
    run_pdex(repeated(synthetic), "repeated")
    run_pdex(papalexi_counts(), "papalexi")


if __name__ == "__main__":
    main()
