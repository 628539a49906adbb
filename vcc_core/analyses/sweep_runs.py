"""Scaling sweeps of a model on a dataset: the sweep of its test-split prediction, DES along a coarse grid (each
scale expanded to cells and DE-tested like a submission), and the VCC 2025 score along the grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vcc_core.analyses.sweep import Sweep, mae_optimal_scale, pds_limits, scale_sweep
from vcc_core.cache import cached
from vcc_core.data.dataset import Dataset
from vcc_core.data.pseudobulk import Profiles
from vcc_core.de.wilcoxon import de_from_anndata
from vcc_core.evaluation.align import positions
from vcc_core.evaluation.loop import reindex_profiles
from vcc_core.evaluation.scoring import score_vcc2025
from vcc_core.evaluation.sides import real_side
from vcc_core.evaluation.sources import PredictionSource, content_key, sides, sweep_profiles
from vcc_core.evaluation.submission import to_submission
from vcc_core.metrics import target_columns
from vcc_core.metrics.de_metrics import overlap_score, significant
from vcc_core.models.training import train_predict


@dataclass(frozen=True)
class ModelSweep:
    """One model's sweep on the test split.

    Attributes
    ----------
    sweep
        Per-perturbation metrics along the scale grid (:func:`~vcc_core.analyses.sweep.scale_sweep`).
    limits
        PDS in the limits ``s -> 0`` and ``s -> inf`` (:func:`~vcc_core.analyses.sweep.pds_limits`).
    mae_optimum
        The scale that minimises MAE (:func:`~vcc_core.analyses.sweep.mae_optimal_scale`).
    """

    sweep: Sweep
    limits: pd.DataFrame
    mae_optimum: float


def source_sweep(dataset: Dataset, source: PredictionSource, *, scales: np.ndarray) -> ModelSweep:
    """Sweep of a prediction's deltas around its own control over ``scales``, on its evaluated perturbations.

    Pseudobulk level (:func:`~vcc_core.evaluation.sources.sweep_profiles`): a model's or a table's prediction is
    not expanded to cells, so values at ``s = 1`` can differ slightly from the Models page, which scores predicted
    cells clipped at 0.
    """
    real, pred = sweep_profiles(dataset, source)
    pred = reindex_profiles(pred, real.perts, real.genes)
    t = target_columns(real.perts, real.genes)
    sweep = scale_sweep(
        real.delta,
        pred.delta,
        target_cols=t,
        scales=scales,
        real_means=real.means,
        pred_control=pred.control,
        perts=real.perts,
    )
    limits = pds_limits(real.delta, pred.delta, target_cols=t)
    return ModelSweep(sweep, limits, mae_optimal_scale(real.delta, pred.delta))


def model_sweep(dataset: Dataset, model: str, *, scales: np.ndarray) -> ModelSweep:
    """:func:`source_sweep` of a built-in model's test-split prediction (trained and cached)."""
    return source_sweep(dataset, PredictionSource.model(model), scales=scales)


@cached("des_sweep", version="1")
def des_sweep(dataset: Dataset, model: str, *, scales: np.ndarray, cells_per_pert: int = 50) -> pd.DataFrame:
    """DES (``overlap_at_N``) per scale: the scaled prediction is expanded to cells and tested like a submission.

    Each scale costs one Wilcoxon DE of the predicted cells, so use a coarse grid. Returns index ``scale`` and
    columns ``overlap_at_N`` (mean over perturbations) and ``n_sig_pred`` (mean predicted DE genes).
    """
    return _des_along(dataset, train_predict(dataset, model), real_side(dataset).de, scales, cells_per_pert)


@cached("des_sweep_table", version="1", ignore=("path",))
def _table_des(dataset: Dataset, content: str, path: Path, scales: np.ndarray, cells_per_pert: int) -> pd.DataFrame:
    source = PredictionSource.file(path, kind="table")
    (real, _), (_, pred) = sides(dataset, source), sweep_profiles(dataset, source)
    return _des_along(dataset, pred, real.de, scales, cells_per_pert)


def source_des_sweep(
    dataset: Dataset, source: PredictionSource, *, scales: np.ndarray, cells_per_pert: int = 50
) -> pd.DataFrame:
    """:func:`des_sweep` of a model, or of a pseudobulk table (around its own control, against the real side of its
    perturbations). Predicted cells have no pseudobulk to scale: ``ValueError``."""
    if source.is_model:
        return des_sweep(dataset, source.location, scales=scales, cells_per_pert=cells_per_pert)
    if source.kind != "table":
        msg = f"{source.name}: DES along the scale needs a pseudobulk prediction (a model or a table), not cells"
        raise ValueError(msg)
    path = Path(source.location)
    return _table_des(dataset, content_key(path), path, np.asarray(scales, np.float64), cells_per_pert)


def _des_along(dataset: Dataset, pred: Profiles, real, scales, cells_per_pert: int) -> pd.DataFrame:
    rows = []
    for s in np.asarray(scales, np.float64):
        scaled = Profiles(pred.control + s * pred.delta, pred.control, pred.perts, pred.genes, pred.n_cells)
        cells = to_submission(scaled, dataset, cells_per_pert=cells_per_pert)
        de = de_from_anndata(cells, pert_col=dataset.pert_col, control=dataset.control)
        order = positions(de.perts, real.perts, f"DE of the predicted cells at scale {s:g}")
        des = overlap_score(real.fdr, de.fdr[order], real.log2fc, de.log2fc[order])
        rows.append({"scale": s, "overlap_at_N": des.mean(), "n_sig_pred": significant(de.fdr[order]).sum(1).mean()})
    return pd.DataFrame(rows).set_index("scale")


def vcc2025_scores(curves: pd.DataFrame, baseline: pd.Series) -> pd.DataFrame:
    """VCC 2025 score of each row of ``curves`` (columns ``overlap_at_N``, ``mae``, ``discrimination_score_l1``).

    ``baseline`` holds the same three values for the baseline model. Returns columns ``clipped`` and ``unclipped``
    (the mean of the three baseline-normalised scores, via :func:`vcc_core.evaluation.scoring.score_vcc2025`).
    """
    names = ["overlap_at_N", "mae", "discrimination_score_l1"]
    base = pd.DataFrame([baseline[names]], index=pd.Index(["mean"], name="statistic"))
    out = {}
    for scale, row in curves[names].iterrows():
        user = pd.DataFrame([row], index=pd.Index(["mean"], name="statistic"))
        out[scale] = {
            clip: score_vcc2025(user, base, clip=clip).set_index("metric").loc["avg_score", "from_baseline"]
            for clip in (True, False)
        }
    frame = pd.DataFrame(out).T.rename(columns={True: "clipped", False: "unclipped"})
    return frame.rename_axis("scale")


def scores_along(
    curves: pd.DataFrame, des: pd.DataFrame, *, baseline_curves: pd.DataFrame, baseline_des: pd.DataFrame
) -> pd.DataFrame:
    """VCC 2025 score (``clipped``, ``unclipped``) at each scale of ``des`` (a :func:`des_sweep` table).

    ``curves`` is the model's :meth:`Sweep.curves`; the baseline is ``baseline_curves`` at ``s = 1`` with the DES
    of ``baseline_des`` (a :func:`des_sweep` at ``s = 1``), both through the same pipeline as the model.
    """
    base = baseline_curves.loc[1.0].copy()
    base["overlap_at_N"] = baseline_des["overlap_at_N"].iloc[0]
    return vcc2025_scores(curves.loc[list(des.index)].assign(overlap_at_N=des["overlap_at_N"]), base)
