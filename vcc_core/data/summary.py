"""What a dataset holds: sizes, cells per perturbation, library sizes, knockdown of each target."""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.data.normalize import Space, row_totals
from vcc_core.data.pseudobulk import Profiles
from vcc_core.keys import CONTROL, PERT_COL


@dataclass(frozen=True)
class DatasetSummary:
    """Headline numbers of a dataset and the per-cell / per-perturbation tables behind its plots."""

    n_cells: int
    n_genes: int
    n_perts: int
    n_control: int
    space: Space
    cells_per_pert: pd.Series
    umis_per_cell: np.ndarray


def summarize(adata: ad.AnnData, *, space: Space, pert_col: str = PERT_COL, control: str = CONTROL) -> DatasetSummary:
    """Count cells, genes and perturbations, and the total count (or total log1p value) of each cell."""
    counts = adata.obs[pert_col].astype(str).value_counts()
    n_control = int(counts.get(control, 0))
    per_pert = counts.drop(control, errors="ignore").rename("cells")
    per_pert.index.name = "perturbation"
    return DatasetSummary(
        n_cells=adata.n_obs,
        n_genes=adata.n_vars,
        n_perts=int(per_pert.size),
        n_control=n_control,
        space=space,
        cells_per_pert=per_pert,
        umis_per_cell=row_totals(adata.X),
    )


def log2_fold_change(profiles: Profiles) -> np.ndarray:
    """``(P, G)`` log2 fold change of each perturbation vs control, as pdex reports it.

    ``log2(expm1(mean log1p pert) / expm1(mean log1p control))``: a ratio of geometric-mean expression
    in normalised space; 0 where both are 0 and +/-inf where only one is.
    """
    num = np.expm1(profiles.means)
    den = np.expm1(profiles.control)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        lfc = np.log2(num / den)
    return np.where((num == 0) & (den == 0), 0.0, lfc)


def knockdown(profiles: Profiles, *, targets: pd.Series | None = None) -> pd.DataFrame:
    """Knockdown of each perturbation's target gene: log2 fold change and remaining fraction vs control.

    ``targets`` maps perturbation -> target gene; by default the perturbation name is the gene (VCC).
    Targets not among the measured genes get NaN and ``measured=False``.
    """
    targets = pd.Series(profiles.perts, index=profiles.perts) if targets is None else targets
    col = pd.Index(profiles.genes).get_indexer(targets.reindex(profiles.perts).astype(str))
    lfc = log2_fold_change(profiles)
    rows = np.arange(profiles.perts.size)
    measured = col >= 0
    value = np.where(measured, lfc[rows, np.maximum(col, 0)], np.nan)
    return pd.DataFrame(
        {
            "perturbation": profiles.perts,
            "target": targets.reindex(profiles.perts).to_numpy(),
            "measured": measured,
            "log2fc": value,
            "remaining": np.exp2(value),
            "cells": profiles.n_cells,
        }
    )
