"""``prep``: check a submission against the challenge's gene list and write it compact, as ``cell-eval prep`` does.

cell-eval 0.8.2's ``prep`` (``_cli/_prep.py``) reads predicted cells, checks the perturbation column, the control
label, the genes (the same set as the list, put in its order when only the order differs; 18,080 expected), at most
200,000 cells, then writes a minimal AnnData: ``X`` as CSR in float32 (or float64), ``obs`` only the perturbation
column (and the cell context), cells renamed ``0..n-1``, ``var`` only the gene names, counts normalised to log1p.
It packs that file, zstd-compressed, in a tar with a watermark (the challenge's upload format; it needs the
``zstd`` and ``tar`` programs). Ours writes the same minimal AnnData as a gzip-compressed ``.h5ad``, which
``evaluate`` and the dashboard read as they are; the challenge's upload wants cell-eval's own archive.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.data.io import gene_differences, read_h5ad, validate_dataset
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.space import check_values, detect_space
from vcc_core.keys import CONTROL, PERT_COL

EXPECTED_GENES = 18_080
MAX_CELLS = 200_000


def read_gene_list(path: str | Path) -> list[str]:
    """The genes of a one-column file without a header (cell-eval's ``--genes``), in order."""
    genes = pd.read_csv(path, header=None, dtype=str).iloc[:, 0].tolist()
    if not genes:
        msg = f"gene list {path}: no gene names"
        raise ValueError(msg)
    return genes


def prepare(
    pred: ad.AnnData | str | Path,
    genes: list[str],
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    context_col: str | None = None,
    encoding: int = 32,
    max_cells: int | None = MAX_CELLS,
) -> ad.AnnData:
    """The minimal submission of ``pred`` (module docstring). ``ValueError`` naming the first problem found."""
    adata = read_h5ad(pred) if not isinstance(pred, ad.AnnData) else pred
    validate_dataset(adata, pert_col=pert_col, control=control)
    if context_col is not None and context_col not in adata.obs.columns:
        msg = f"obs has no context column {context_col!r}; columns: {', '.join(map(str, adata.obs.columns))}"
        raise ValueError(msg)
    if encoding not in (32, 64):
        msg = f"encoding must be 32 or 64 (bits of the float values), got {encoding}"
        raise ValueError(msg)
    if max_cells is not None and adata.n_obs > max_cells:
        msg = f"{adata.n_obs:,} cells: at most {max_cells:,} can be submitted"
        raise ValueError(msg)
    have, want = pd.Index(adata.var_names.astype(str)), pd.Index(genes)
    if have.has_duplicates or want.has_duplicates:
        msg = "gene names repeat in the predictions or the gene list; each gene once"
        raise ValueError(msg)
    if differences := gene_differences(have, want, missing_from="predictions"):
        msg = f"predictions and the gene list differ: {differences}"
        raise ValueError(msg)
    adata.var_names = have
    if not have.equals(want):  # the same genes in another order: put in the list's order, as cell-eval does
        adata = adata[:, want].copy()
    dtype = np.float32 if encoding == 32 else np.float64
    x = sparse.csr_matrix(adata.X, dtype=dtype)
    check_values(x)
    obs = pd.DataFrame({pert_col: adata.obs[pert_col].astype(str).to_numpy()}, index=np.arange(adata.n_obs).astype(str))
    if context_col is not None:
        obs[context_col] = adata.obs[context_col].astype(str).to_numpy()
    minimal = ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=pd.Index(genes, dtype=str)))
    if detect_space(minimal.X) == "counts":
        minimal = log1p_normalize(minimal, copy=False)
    return minimal
