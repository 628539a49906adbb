"""Turn pseudobulk predictions into a VCC submission: an AnnData of predicted cells, controls included.

Each predicted cell is a real control cell (resampled) plus the predicted delta in log1p space,
clipped at 0, so predicted cells keep realistic cell-to-cell variation and the file can be scored
exactly like a submission (here or by cell-eval).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.data.dataset import Dataset
from vcc_core.data.normalize import median_target, normalize_block
from vcc_core.data.pseudobulk import Profiles


def _control_cells(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Control cells in log1p space (dense) and their library sizes."""
    adata = dataset.adata
    rows = np.flatnonzero((adata.obs[dataset.pert_col].astype(str) == dataset.control).to_numpy())
    x = adata.X[rows]
    totals = np.asarray(x.sum(axis=1)).ravel()
    if dataset.space == "counts":
        x = normalize_block(x, target_sum=median_target(adata.X))
    return (x.toarray() if sparse.issparse(x) else np.asarray(x)).astype(np.float32), totals


def to_submission(
    pred: Profiles,
    dataset: Dataset,
    *,
    cells_per_pert: int = 100,
    n_control: int = 1000,
    space: str = "log1p",
    seed: int = 0,
) -> ad.AnnData:
    """Expand ``pred`` to cells in the VCC layout.

    Parameters
    ----------
    cells_per_pert, n_control
        Predicted cells per perturbation and control cells to include (resampled with replacement).
    space
        ``"log1p"`` writes normalised log1p values; ``"counts"`` rescales each cell to its control cell's
        library size and rounds to integers.
    """
    if space not in {"log1p", "counts"}:
        msg = f"space must be 'log1p' or 'counts', got {space!r}"
        raise ValueError(msg)
    ctrl, totals = _control_cells(dataset)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, ctrl.shape[0], size=n_control + cells_per_pert * pred.perts.size)
    shift = np.vstack([np.zeros((n_control, ctrl.shape[1])), np.repeat(pred.delta, cells_per_pert, axis=0)])
    x = np.clip(ctrl[picks] + shift, 0.0, None).astype(np.float32)
    if space == "counts":
        x = np.rint(np.expm1(x) * (totals[picks] / median_target(dataset.adata.X))[:, None]).astype(np.float32)
    labels = np.concatenate([np.repeat(dataset.control, n_control), np.repeat(pred.perts, cells_per_pert)])
    obs = pd.DataFrame(
        {dataset.pert_col: pd.Categorical(labels.astype(str))}, index=pd.Index([f"pred{i}" for i in range(labels.size)])
    )
    return ad.AnnData(X=sparse.csr_matrix(x), obs=obs, var=pd.DataFrame(index=pd.Index(pred.genes.astype(str))))
