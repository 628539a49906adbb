"""VCC 2026 metrics and scores of prediction sources on a dataset of raw counts (Leaderboard, Explorer, Sweep).

Every source is scored as a 2026 submission: predicted cells in counts. A built-in model's pseudobulk (and a
pseudobulk table) is expanded to count cells (:func:`~vcc_core.evaluation.submission.to_submission` with
``space="counts"``); a file of predicted cells must hold counts itself. The real side is the dataset's cells of
the scored perturbations with its control cells; the oracle replicate's submission is half B of the real cells of the
test split, scored against half A (:func:`oracle_sides_2026`, the split of
:func:`~vcc_core.evaluation.sides.oracle_sides`). The scores place a source between the generic-response baseline
(0) and the data's replicate anchor (1) of the same real cells (:mod:`~vcc_core.evaluation.scoring2026`). Sides,
baselines and anchors are cached on disk.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.cache import cached
from vcc_core.data.dataset import Dataset, split_perts
from vcc_core.data.io import read_h5ad
from vcc_core.de.cpm import GatedDE
from vcc_core.evaluation.counts_pair import check_counts
from vcc_core.evaluation.scoring2026 import generic_baseline, replicate_anchor, replicate_of, score_2026
from vcc_core.evaluation.sides import ORACLE, ORACLE_SEED
from vcc_core.evaluation.sources import PredictionSource, content_key, table_profiles
from vcc_core.evaluation.submission import to_submission
from vcc_core.evaluation.vcc2026 import (
    CountsSide,
    Evaluation2026,
    aggregate_2026,
    counts_side,
    direction_walk,
    score_sides,
)
from vcc_core.models.oracle import half_split
from vcc_core.models.training import train_predict
from vcc_core.progress import Progress, reporter

CELLS_PER_PERT = 100


def require_counts(dataset: Dataset) -> None:
    """``ValueError`` unless the dataset holds raw counts (the VCC 2026 metrics are defined on counts)."""
    if dataset.space != "counts":
        msg = (
            f"{dataset.name} holds {dataset.space} values; the VCC 2026 metrics are computed on raw counts "
            "(load the dataset's counts to see them)"
        )
        raise ValueError(msg)


def real_counts(dataset: Dataset, perts) -> ad.AnnData:
    """The dataset's cells of ``perts`` and its control cells, raw counts, labels in ``obs[pert_col]``."""
    require_counts(dataset)
    adata = dataset.adata
    labels = adata.obs[dataset.pert_col].astype(str)
    keep = np.flatnonzero(labels.isin([dataset.control, *map(str, perts)]).to_numpy())
    obs = pd.DataFrame({dataset.pert_col: labels.iloc[keep].to_numpy()}, index=adata.obs_names[keep])
    return ad.AnnData(X=sparse.csr_matrix(adata.X[keep]), obs=obs, var=pd.DataFrame(index=adata.var_names))


def side_parts(side: CountsSide) -> dict:
    de = side.de
    return {"groups": side.groups.astype(str), "b": side.b, "c": side.c, "de_perts": de.perts.astype(str),
            "de_genes": de.genes, "de_pvalue": de.pvalue, "de_p_adj": de.p_adj, "de_lfc": de.lfc}  # fmt: skip


def side_from_parts(parts: dict) -> CountsSide:
    de = GatedDE(parts["de_perts"].astype(object), parts["de_genes"], parts["de_pvalue"], parts["de_p_adj"],
                 parts["de_lfc"])  # fmt: skip
    return CountsSide(parts["groups"].astype(object), parts["b"], parts["c"], de)


@cached("vcc2026_real_side", version="1")
def _real_parts(dataset: Dataset, perts: tuple[str, ...]) -> dict:
    real = real_counts(dataset, perts)
    return side_parts(counts_side(real.X, real.obs[dataset.pert_col], control=dataset.control))


def real_side_2026(dataset: Dataset, perts) -> CountsSide:
    """The real side of ``perts`` (cached on disk, one entry per set of perturbations)."""
    return side_from_parts(_real_parts(dataset, tuple(sorted(map(str, perts)))))


def predicted_side_of_cells(dataset: Dataset, cells: ad.AnnData, perts) -> CountsSide:
    """The predicted side of count cells ``cells`` cut to ``perts``, tested against the real control cells."""
    labels = cells.obs[dataset.pert_col].astype(str).to_numpy()
    own = np.flatnonzero(np.isin(labels, list(map(str, perts))))
    x = sparse.csr_matrix(cells.X[own])
    control = real_counts(dataset, [])
    de_x = sparse.vstack([x, control.X], format="csr")
    de_labels = np.concatenate([labels[own], control.obs[dataset.pert_col].to_numpy()])
    return counts_side(x, labels[own], de_x=de_x, de_labels=de_labels, control=dataset.control)


@cached("vcc2026_model_side", version="1")
def _model_parts(dataset: Dataset, model: str, cells_per_pert: int) -> dict:
    perts = split_perts(dataset, "test")
    cells = to_submission(train_predict(dataset, model), dataset, cells_per_pert=cells_per_pert, space="counts")
    return side_parts(predicted_side_of_cells(dataset, cells, perts))


@cached("vcc2026_file_side", version="1", ignore=("file",))
def _file_parts(dataset: Dataset, content: str, file: Path, kind: str, cells_per_pert: int) -> dict:
    if kind == "table":
        profiles = table_profiles(dataset, file)
        cells = to_submission(profiles, dataset, cells_per_pert=cells_per_pert, space="counts")
        return side_parts(predicted_side_of_cells(dataset, cells, profiles.perts))
    cells = read_h5ad(file)
    if dataset.pert_col not in cells.obs.columns:
        msg = f"{file.name}: obs has no column {dataset.pert_col!r}"
        raise ValueError(msg)
    if list(map(str, cells.var_names)) != list(map(str, dataset.adata.var_names)):
        msg = f"{file.name}: its genes are not the data's in the same order, as the VCC 2026 metrics require"
        raise ValueError(msg)
    check_counts(cells.X, side=file.name)
    labels = set(cells.obs[dataset.pert_col].astype(str)) - {dataset.control}
    perts = sorted(labels & set(map(str, dataset.profiles.perts)))
    if not perts:
        msg = f"{file.name} predicts none of the data's perturbations"
        raise ValueError(msg)
    return side_parts(predicted_side_of_cells(dataset, cells, perts))


@cached("vcc2026_oracle_sides", version="1")
def _oracle_parts(dataset: Dataset, seed: int) -> dict:
    real = real_counts(dataset, split_perts(dataset, "test"))
    labels = real.obs[dataset.pert_col].to_numpy().astype(str)
    half = half_split(labels, control=dataset.control, seed=seed)
    a, b = half == 0, (half == 1) & (labels != dataset.control)
    a_control = a & (labels == dataset.control)
    real_side = counts_side(real.X[a], labels[a], control=dataset.control)
    de_x = sparse.vstack([real.X[b], real.X[a_control]], format="csr")
    de_labels = np.concatenate([labels[b], labels[a_control]])
    pred_side = counts_side(real.X[b], labels[b], de_x=de_x, de_labels=de_labels, control=dataset.control)
    return {f"{role}_{k}": v for role, side in (("real", real_side), ("pred", pred_side))
            for k, v in side_parts(side).items()}  # fmt: skip


def oracle_sides_2026(dataset: Dataset, seed: int = ORACLE_SEED) -> tuple[CountsSide, CountsSide]:
    """Half A of the test split's real counts as the real side, half B's perturbation cells as the submission
    (tested against half A's control cells, as a submission's cells are against the real controls)."""
    parts = _oracle_parts(dataset, seed)
    real, pred = ({k.removeprefix(f"{role}_"): v for k, v in parts.items() if k.startswith(f"{role}_")}
                  for role in ("real", "pred"))  # fmt: skip
    return side_from_parts(real), side_from_parts(pred)


def sides_2026(dataset: Dataset, source: PredictionSource) -> tuple[CountsSide, CountsSide]:
    """The real and the predicted side of ``source`` in the VCC 2026 space (each cached on disk).

    Raises ``ValueError`` when the dataset is not counts, or a file of predicted cells does not hold counts.
    """
    require_counts(dataset)
    if source.is_model and source.location == ORACLE:
        return oracle_sides_2026(dataset)
    if source.is_model:
        pred = side_from_parts(_model_parts(dataset, source.location, CELLS_PER_PERT))
    else:
        path = Path(source.location)
        pred = side_from_parts(_file_parts(dataset, content_key(path), path, source.kind, CELLS_PER_PERT))
    perts = [g for g in pred.groups if g != dataset.control]
    return real_side_2026(dataset, perts), pred


def evaluate_source(dataset: Dataset, source: PredictionSource) -> Evaluation2026:
    """The VCC 2026 metrics of ``source`` per perturbation (the ratio of sums NaN where undefined)."""
    real, pred = sides_2026(dataset, source)
    return score_sides(real, pred, genes=dataset.adata.var_names, control=dataset.control, strict=False)


@cached("vcc2026_anchors", version="1")
def anchors(dataset: Dataset, perts: tuple[str, ...]) -> pd.DataFrame:
    """The two ends of the 2026 scale for the real cells of ``perts``: columns ``baseline`` (the generic-response
    baseline's aggregate means) and ``replicate`` (the replicate anchor), one row per metric."""
    real = real_counts(dataset, perts)
    common = {"pert_col": dataset.pert_col, "control": dataset.control}
    base_pred = generic_baseline(real, **common)
    real_side = real_side_2026(dataset, perts)
    base_side = predicted_side_of_cells(dataset, base_pred, perts)
    base = score_sides(real_side, base_side, genes=real.var_names, control=dataset.control, strict=False)
    replicate = replicate_of(replicate_anchor(real, full_de=real_side.de, **common))
    return pd.DataFrame({"baseline": aggregate_2026(base).loc["mean"], "replicate": replicate})


def compare_2026(
    dataset: Dataset, sources, *, progress: Progress | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Per source (rows): the aggregate means of the ten VCC 2026 metrics, its scores (``from_replicate`` per
    scored metric and ``avg_score``, against the baseline and replicate of its own perturbations), and the error
    message of each source that cannot be scored."""
    report = reporter(progress)
    means, scores, failed = {}, {}, {}
    for i, source in enumerate(sources):
        report(i / max(len(sources), 1), f"VCC 2026: {source.name}")
        try:
            evaluation = evaluate_source(dataset, source)
            ends = anchors(dataset, tuple(sorted(map(str, evaluation.results.index))))
            row = aggregate_2026(evaluation).loc["mean"]
            scores[source.name] = score_2026(row, ends["baseline"], ends["replicate"], strict=False)["from_replicate"]
        except ValueError as err:
            failed[source.name] = str(err)
            continue
        means[source.name] = row
    report(1.0, "done")
    return pd.DataFrame(means).T, pd.DataFrame(scores).T, failed


def reach_walk(dataset: Dataset, source: PredictionSource, pert: str) -> pd.DataFrame:
    """:func:`~vcc_core.evaluation.vcc2026.direction_walk` of ``source`` for ``pert``."""
    real, pred = sides_2026(dataset, source)
    return direction_walk(real, pred, pert, genes=dataset.adata.var_names)
