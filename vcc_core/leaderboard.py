"""Compare models on every metric: train (cached), expand to cells, DE both sides (cached), score.

Each model is scored exactly as a VCC submission would be: its pseudobulk prediction is expanded to
predicted cells (:func:`vcc_core.submission.to_submission`), DE is run on those cells against their own
controls, and the real side is the test split's real cells with the real controls, normalised on its own.
"""

from __future__ import annotations

from collections.abc import Callable

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.cache import cached
from vcc_core.dataset import Dataset
from vcc_core.de import DEResult, de_from_anndata
from vcc_core.evaluate import evaluate
from vcc_core.metrics import VCC_METRICS, MetricInputs, get_metric, profile_metrics
from vcc_core.normalize import log1p_normalize
from vcc_core.pseudobulk import Profiles, pseudobulk
from vcc_core.scoring import average_rank, score_replicate_scaled, score_vcc2025
from vcc_core.submission import to_submission
from vcc_core.training import split_perts, train_predict

Progress = Callable[[float, str], None]


def _de(parts: dict) -> DEResult:
    return DEResult(**parts)


def _log1p_cells(dataset: Dataset, perts) -> tuple:
    adata = dataset.adata
    keep = adata.obs[dataset.pert_col].astype(str).isin([dataset.control, *map(str, perts)]).to_numpy()
    cells = adata[keep].copy()
    return log1p_normalize(cells) if dataset.space == "counts" else cells


@cached("real_de", version="1", decode=_de)
def real_de(dataset: Dataset, split: str = "test") -> DEResult:
    """DE of the real cells of ``split`` vs the real control cells."""
    cells = _log1p_cells(dataset, split_perts(dataset, split))
    return de_from_anndata(cells, pert_col=dataset.pert_col, control=dataset.control)


@cached("real_profiles", version="1", decode=lambda parts: Profiles(**parts))
def real_profiles(dataset: Dataset, split: str = "test") -> Profiles:
    """Pseudobulk of the real cells of ``split``, normalised on their own with the control cells."""
    cells = _log1p_cells(dataset, split_perts(dataset, split))
    return pseudobulk(cells, pert_col=dataset.pert_col, control=dataset.control, space="log1p")


@cached("pred_de", version="1", decode=lambda parts: {k: v for k, v in parts.items()})
def predicted_side(dataset: Dataset, model: str, cells_per_pert: int = 100) -> dict:
    """Pseudobulk means and DE of ``model``'s predicted cells (the cells a submission would hold)."""
    cells = to_submission(train_predict(dataset, model), dataset, cells_per_pert=cells_per_pert)
    profiles = pseudobulk(cells, pert_col=dataset.pert_col, control=dataset.control, space="log1p")
    de = de_from_anndata(cells, pert_col=dataset.pert_col, control=dataset.control)
    return {
        "means": profiles.means,
        "control": profiles.control,
        "fdr": de.fdr,
        "lfc": de.log2fc,
        "perts": profiles.perts.astype(str),
    }


def model_inputs(dataset: Dataset, model: str, *, cells_per_pert: int = 100) -> MetricInputs:
    """Row-aligned real and predicted arrays of ``model`` on the test split, DE included."""
    real = real_profiles(dataset)
    rde = real_de(dataset)
    pred = predicted_side(dataset, model, cells_per_pert)
    order = pd.Index(pred["perts"]).get_indexer(real.perts.astype(str))
    return MetricInputs(
        perts=real.perts,
        genes=real.genes,
        real_means=real.means,
        pred_means=pred["means"][order],
        real_control=real.control,
        pred_control=pred["control"],
        real_fdr=rde.fdr,
        pred_fdr=pred["fdr"][order],
        real_lfc=rde.log2fc,
        pred_lfc=pred["lfc"][order],
    )


def per_perturbation(inputs: MetricInputs, *, profile: str = "full") -> pd.DataFrame:
    """One row per perturbation, one column per metric (masked values as NaN)."""
    columns = {}
    for name in profile_metrics(profile):
        for col, values in get_metric(name).compute(inputs).items():
            columns[col] = values.filled(np.nan)
    return pd.DataFrame(columns, index=pd.Index(inputs.perts.astype(str), name="perturbation"))


def compare(dataset: Dataset, models, *, profile: str = "full", progress: Progress | None = None) -> pd.DataFrame:
    """Mean of every metric per model (rows: models), NaN-skipping as cell-eval's aggregate does."""
    report = progress or (lambda fraction, message: None)
    rows = {}
    for i, model in enumerate(models):
        report(i / len(models), f"{model}: training, expanding to cells, DE, metrics")
        rows[model] = per_perturbation(model_inputs(dataset, model), profile=profile).mean()
    report(1.0, "done")
    return pd.DataFrame(rows).T.rename_axis("model")


__all__ = ["Profiles", "compare", "model_inputs", "per_perturbation", "predicted_side", "real_de", "real_profiles"]


# --------------------------------------------------------------------------- scores of the compared models


def _agg(row: pd.Series) -> pd.DataFrame:
    """One row of means as an aggregate table (``statistic = mean``), the layout the VCC 2025 score reads."""
    return pd.DataFrame([row], index=pd.Index(["mean"], name="statistic"))


def vcc2025_per_metric(table: pd.DataFrame, *, baseline: str = "mean_baseline") -> pd.DataFrame:
    """VCC 2025 score of each model (rows of ``table``, metric means) on DES, MAE and PDS, unclipped and clipped.

    Returns a long frame ``model, metric, unclipped, clipped`` with ``avg_score`` (the challenge score) as a metric.
    Raises ``ValueError`` when ``baseline`` is not a row of ``table``.
    """
    if baseline not in table.index:
        msg = f"the baseline {baseline!r} is not among the compared models ({', '.join(map(str, table.index))})"
        raise ValueError(msg)
    base = _agg(table.loc[baseline, VCC_METRICS])
    frames = []
    for model, row in table[VCC_METRICS].iterrows():
        scores = {
            clip: score_vcc2025(_agg(row), base, clip=clip).set_index("metric")["from_baseline"]
            for clip in (False, True)
        }
        frame = pd.DataFrame({"unclipped": scores[False], "clipped": scores[True]}).reset_index()
        frames.append(frame.assign(model=model))
    return pd.concat(frames, ignore_index=True)[["model", "metric", "unclipped", "clipped"]]


def score_table(
    table: pd.DataFrame, *, baseline: str = "mean_baseline", replicate: pd.Series | None = None
) -> pd.DataFrame:
    """Per model: VCC 2025 score clipped and unclipped, VCC 2026-style score and Generalist average rank.

    ``replicate`` holds the split-half replicate values ``r`` (:meth:`vcc_core.ceiling.Ceiling.replicate_values`);
    without it the 2026-style column is left out. Rows keep the order of ``table``.
    """
    long = vcc2025_per_metric(table, baseline=baseline)
    avg = long[long["metric"] == "avg_score"].set_index("model")
    out = pd.DataFrame({"vcc2025": avg["clipped"], "vcc2025_unclipped": avg["unclipped"]}).reindex(table.index)
    if replicate is not None:
        base = table.loc[baseline]
        out["vcc2026_style"] = [
            score_replicate_scaled(row, base, replicate, metrics=VCC_METRICS)["avg_score"]
            for _, row in table.iterrows()
        ]
    out["average_rank"] = average_rank(table)["average_rank"]
    return out


def clipping_note(per_metric: pd.DataFrame, *, metric: str = "mae") -> str:
    """A sentence naming the models whose ``metric`` score is below 0 (and so reads 0 once clipped)."""
    rows = per_metric[(per_metric["metric"] == metric) & (per_metric["unclipped"] < 0)]
    if rows.empty:
        return f"No model scores below the baseline on {metric}: clipping hides nothing there."
    names = ", ".join(f"{r.model} ({r.unclipped:+.3f})" for r in rows.itertuples())
    return f"Clipping hides that these models score below the baseline on {metric}, shown as 0: {names}."


def predicted_test_cells(dataset: Dataset, pred: ad.AnnData) -> ad.AnnData:
    """The control cells and the test-split cells of ``pred`` (the VCC layout, validated by ``load_predictions``).

    Raises ``ValueError`` naming the test perturbations ``pred`` lacks.
    """
    test = split_perts(dataset, "test")
    labels = pred.obs[dataset.pert_col].astype(str)
    missing = sorted(set(test) - set(labels))
    if missing:
        msg = f"predictions lack {len(missing)} of the {len(test)} test perturbations: {', '.join(missing[:10])}"
        raise ValueError(msg)
    return pred[labels.isin([*test, dataset.control]).to_numpy()].copy()


@cached("prediction_metrics", version="1")
def prediction_metrics(dataset: Dataset, pred: ad.AnnData, *, profile: str = "full") -> pd.Series:
    """Mean of every metric (NaN skipped, as :func:`compare`) of predicted cells on the test split.

    ``pred`` is cut to the test perturbations and controls (:func:`predicted_test_cells`); the real side is the
    dataset's cells of the same perturbations and its controls. Each side is normalised on its own and tested for
    DE, as :func:`vcc_core.evaluate.evaluate` does, so the values compare with :func:`compare`'s rows.
    """
    pred = predicted_test_cells(dataset, pred)
    labels = dataset.adata.obs[dataset.pert_col].astype(str)
    real = dataset.adata[labels.isin([*split_perts(dataset, "test"), dataset.control]).to_numpy()].copy()
    results, _ = evaluate(real, pred, pert_col=dataset.pert_col, control=dataset.control, profile=profile)
    return results.astype("float64").mean()


def compare_available(
    dataset: Dataset, models, *, profile: str = "full", progress: Progress | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`compare` of each model that can run on ``dataset``, and the error message of each one that cannot.

    A model may need data that a dataset lacks (``kernel_ridge``: an external screen); the others are still scored.
    """
    report = progress or (lambda fraction, message: None)
    rows, failed = [], {}
    for i, model in enumerate(models):
        report(i / len(models), f"{model}: training, expanding to cells, DE, metrics")
        try:
            rows.append(compare(dataset, [model], profile=profile))
        except ValueError as err:
            failed[model] = str(err)
    report(1.0, "done")
    table = pd.concat(rows) if rows else pd.DataFrame(index=pd.Index([], name="model"))
    return table, failed


__all__ += [
    "clipping_note",
    "compare_available",
    "predicted_test_cells",
    "prediction_metrics",
    "score_table",
    "vcc2025_per_metric",
]
