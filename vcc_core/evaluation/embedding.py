"""``--embed-key``: cell-eval 0.8.2 computes ``discrimination_score_l2`` and ``discrimination_score_cosine`` on an
``obsm`` embedding instead of the genes when asked (``cell-eval run --embed-key``).

Each side's embedding is pseudobulked per perturbation like the expression (means in the embedding's float type),
the deltas are taken from each side's own control, and PDS ranks them over every embedding dimension (no target
gene to leave out). Every other metric stays on the genes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from vcc_core.data.cells import Cells
from vcc_core.data.pseudobulk import Profiles, pseudobulk
from vcc_core.evaluation.loop import reindex_profiles
from vcc_core.metrics.discrimination import discrimination_score

if TYPE_CHECKING:
    import anndata as ad

EMBEDDED = {"discrimination_score_l2": "l2", "discrimination_score_cosine": "cosine"}


def embedding_profiles(
    adata: ad.AnnData, key: str, *, pert_col: str, control: str, side: str
) -> tuple[Profiles, np.dtype]:
    """Per-perturbation means of ``adata.obsm[key]`` and the float type they are held in (the embedding's, at least
    float32). ``ValueError`` if the key is missing or not a finite cells x dimensions array."""
    if key not in adata.obsm:
        msg = f"{side}: obsm has no embedding {key!r}; keys: {', '.join(map(str, adata.obsm.keys())) or 'none'}"
        raise ValueError(msg)
    values = np.asarray(adata.obsm[key])
    if values.ndim != 2 or not np.issubdtype(values.dtype, np.floating) or not np.isfinite(values).all():
        msg = f"{side}: obsm[{key!r}] must be a finite float array of cells x dimensions"
        raise ValueError(msg)
    dims = pd.DataFrame(index=[f"{key}_{i}" for i in range(values.shape[1])])
    embedded = Cells(X=values, obs=adata.obs[[pert_col]].copy(), var=dims)
    dtype = values.dtype if values.dtype.itemsize >= 4 else np.dtype(np.float32)
    return pseudobulk(embedded, pert_col=pert_col, control=control, space="log1p"), dtype


def embedded_pds(results: pd.DataFrame, real: Profiles, real_dt, pred: Profiles, pred_dt) -> pd.DataFrame:
    """``results`` with its embedded PDS columns (:data:`EMBEDDED`) computed on the embeddings' pseudobulks, held
    in ``real_dt`` and ``pred_dt``."""
    pred = reindex_profiles(pred, real.perts, real.genes)
    real_delta = real.means.astype(real_dt) - real.control.astype(real_dt)[None, :]
    pred_delta = pred.means.astype(pred_dt) - pred.control.astype(pred_dt)[None, :]
    out = results.copy()
    none = np.full(real.perts.size, -1)
    for column, metric in EMBEDDED.items():
        if column in out.columns:
            score = discrimination_score(real_delta, pred_delta, target_cols=none, metric=metric)
            values = pd.Series(score, index=real.perts.astype(str)).reindex(out.index)
            out[column] = pd.array(values.to_numpy(), dtype="Float64")
    return out
