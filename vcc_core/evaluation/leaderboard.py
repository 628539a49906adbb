"""Compare prediction sources on every metric: each model scored like a submission, then the challenges' scores.

Each model's sides come from :mod:`~vcc_core.evaluation.sides` (trained, expanded to cells and DE-tested once, all
cached); its metrics from the one metric loop (:func:`~vcc_core.evaluation.loop.per_perturbation`). A user's file is
scored by :func:`~vcc_core.evaluation.evaluate.evaluate`, each side normalised on its own, so its row compares with
the models'.
"""

from __future__ import annotations

import anndata as ad
import pandas as pd

from vcc_core.cache import cached
from vcc_core.data.dataset import Dataset, split_perts
from vcc_core.evaluation.evaluate import check_conventions, evaluate
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.scoring import average_rank, score_replicate_scaled, score_vcc2025
from vcc_core.evaluation.sides import ORACLE, model_inputs, predicted_test_cells
from vcc_core.evaluation.sources import PredictionSource, source_inputs
from vcc_core.keys import CURRENT
from vcc_core.metrics import VCC_METRICS
from vcc_core.progress import Progress, reporter


def compare(dataset: Dataset, models, *, profile: str = "bulk", progress: Progress | None = None) -> pd.DataFrame:
    """Mean of every metric per model (rows: models), NaN-skipping as cell-eval's aggregate does."""
    report = reporter(progress)
    rows = {}
    for i, model in enumerate(models):
        report(i / len(models), f"{model}: training, expanding to cells, DE, metrics")
        rows[model] = per_perturbation(model_inputs(dataset, model), profile=profile).mean()
    report(1.0, "done")
    return pd.DataFrame(rows).T.rename_axis("model")


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

    ``replicate`` holds the split-half replicate values ``r``
    (:meth:`vcc_core.analyses.ceiling.Ceiling.replicate_values`); without it the 2026-style column is left out.
    Rows keep the order of ``table``.
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


def replicate_values(dataset: Dataset, *, profile: str = "bulk", conventions: str = CURRENT) -> pd.Series:
    """``r`` per metric: the oracle replicate's means (half B of the test split's real cells scored against half A,
    :func:`~vcc_core.evaluation.sides.oracle_sides`), so that on the replicate-scaled scale it scores 1."""
    inputs = source_inputs(dataset, PredictionSource.model(ORACLE), conventions=conventions)
    return per_perturbation(inputs, profile=profile).mean()


def clipping_note(per_metric: pd.DataFrame, *, metric: str = "mae") -> str:
    """A sentence naming the models whose ``metric`` score is below 0 (and so reads 0 once clipped)."""
    rows = per_metric[(per_metric["metric"] == metric) & (per_metric["unclipped"] < 0)]
    if rows.empty:
        return f"No model scores below the baseline on {metric}: clipping hides nothing there."
    names = ", ".join(f"{r.model} ({r.unclipped:+.3f})" for r in rows.itertuples())
    return f"Clipping hides that these models score below the baseline on {metric}, shown as 0: {names}."


@cached("prediction_metrics", version="1")
def prediction_metrics(dataset: Dataset, pred: ad.AnnData, *, profile: str = "bulk") -> pd.Series:
    """Mean of every metric (NaN skipped, as :func:`compare`) of predicted cells on the test split.

    ``pred`` is cut to the test perturbations and controls (:func:`predicted_test_cells`); the real side is the
    dataset's cells of the same perturbations and its controls. Each side is normalised on its own and tested for
    DE, as :func:`vcc_core.evaluation.evaluate.evaluate` does, so the values compare with :func:`compare`'s rows.
    """
    pred = predicted_test_cells(dataset, pred)
    labels = dataset.adata.obs[dataset.pert_col].astype(str)
    real = dataset.adata[labels.isin([*split_perts(dataset, "test"), dataset.control]).to_numpy()].copy()
    results, _ = evaluate(real, pred, pert_col=dataset.pert_col, control=dataset.control, profile=profile)
    return results.astype("float64").mean()


def compare_available(
    dataset: Dataset,
    models,
    *,
    profile: str = "bulk",
    progress: Progress | None = None,
    conventions: str = CURRENT,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`compare` of each model that can run on ``dataset``, and the error message of each one that cannot.

    A model may need data that a dataset lacks (``kernel_ridge``: an external screen); the others are still scored.
    """
    sources = [PredictionSource.model(model) for model in models]
    table, _, failed = compare_sources(dataset, sources, profile=profile, progress=progress, conventions=conventions)
    return table, failed


def compare_sources(
    dataset: Dataset,
    sources,
    *,
    profile: str = "bulk",
    progress: Progress | None = None,
    conventions: str = CURRENT,
) -> tuple[pd.DataFrame, pd.Series, dict[str, str]]:
    """Mean of every metric per prediction source (rows: their names), the perturbations each is scored on, and
    the error message of each source that cannot be scored (a model that cannot run, a file that does not fit).

    A built-in model is scored on the test split, a file on the perturbations it predicts
    (:func:`~vcc_core.evaluation.sources.source_inputs`), so rows with different counts compare different sets.
    The DE tables follow ``conventions`` (:data:`~vcc_core.keys.REFERENCES`).
    """
    check_conventions(conventions)
    report = reporter(progress)
    rows, counts, failed = {}, {}, {}
    for i, source in enumerate(sources):
        report(i / max(len(sources), 1), f"{source.name}: sides, DE, metrics")
        try:
            inputs = source_inputs(dataset, source, conventions=conventions)
            metrics = per_perturbation(inputs, profile=profile)
        except ValueError as err:
            failed[source.name] = str(err)
            continue
        rows[source.name], counts[source.name] = metrics.mean(), len(metrics)
    report(1.0, "done")
    table = pd.DataFrame(rows).T.rename_axis("model") if rows else pd.DataFrame(index=pd.Index([], name="model"))
    return table, pd.Series(counts, name="perturbations", dtype="int64"), failed
