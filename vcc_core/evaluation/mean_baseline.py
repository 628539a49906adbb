"""cell-eval 0.8.2's mean baseline (``cell-eval baseline``), the reference of the VCC 2025 score.

The real data is normalised as :func:`~vcc_core.evaluation.evaluate.evaluate` normalises it (to its median total,
then log1p). Every perturbation is predicted by one profile, the mean over the groups (the control among them) of
each group's mean (``as_delta``: the control mean plus the mean of the perturbations' deltas), repeated for as
many cells as the perturbation has; the real control cells follow. cell-eval orders the perturbations as polars'
``group_by`` returns them (no fixed order); here they are sorted. Cells are named ``p.0``, ``p.1``, ... then the
controls keep their names.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.evaluation.evaluate import normalised_real
from vcc_core.keys import CONTROL, PERT_COL


def mean_baseline(
    real: ad.AnnData | str | Path, *, pert_col: str = PERT_COL, control: str = CONTROL, as_delta: bool = False
) -> ad.AnnData:
    """The mean-baseline submission of ``real`` (module docstring), in log1p space, in the data's float type."""
    adata = normalised_real(real, pert_col=pert_col, control=control)
    profiles = pseudobulk(adata, pert_col=pert_col, control=control, space="log1p")
    if as_delta:
        profile = profiles.control + (profiles.means - profiles.control[None, :]).mean(axis=0)
    else:  # cell-eval's mean runs over every group's mean, the control's included
        profile = np.vstack([profiles.means, profiles.control[None, :]]).mean(axis=0)
    dtype = adata.X.dtype if np.issubdtype(adata.X.dtype, np.floating) else np.float64
    labels = np.repeat(profiles.perts.astype(str), profiles.n_cells.astype(np.int64))
    obs = pd.DataFrame({pert_col: labels}, index=[f"p.{i}" for i in range(labels.size)])
    predicted = ad.AnnData(
        X=np.tile(profile.astype(dtype), (labels.size, 1)), obs=obs, var=pd.DataFrame(index=adata.var_names)
    )
    controls = adata[adata.obs[pert_col].astype(str) == control]
    controls = ad.AnnData(X=controls.X, obs=controls.obs[[pert_col]], var=pd.DataFrame(index=adata.var_names))
    return ad.concat([predicted, controls])
