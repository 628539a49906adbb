"""Score tables of the Leaderboard page: VCC 2025 clipped and unclipped, 2026-style, average rank, uploaded cells."""

import numpy as np
import pandas as pd
import pytest

from vcc_core.data.dataset import open_dataset, split_perts
from vcc_core.evaluation.evaluate import LEGACY
from vcc_core.evaluation.leaderboard import (
    clipping_note,
    compare,
    compare_available,
    compare_sources,
    prediction_metrics,
    score_table,
    vcc2025_per_metric,
)
from vcc_core.evaluation.scoring import GENERALIST_METRICS, average_rank
from vcc_core.evaluation.sides import predicted_test_cells
from vcc_core.evaluation.sources import PredictionSource
from vcc_core.evaluation.submission import to_submission
from vcc_core.models.training import train_predict


@pytest.fixture
def table() -> pd.DataFrame:
    """Metric means of three models; ``worse`` has a higher MAE than the baseline."""
    rows = {
        "mean_baseline": [0.10, 0.50, 0.20, 0.1, 0.1, 0.1, 0.1],
        "better": [0.40, 0.75, 0.15, 0.3, 0.3, 0.3, 0.3],
        "worse": [0.20, 0.60, 0.30, 0.2, 0.2, 0.2, 0.2],
    }
    columns = ["overlap_at_N", "discrimination_score_l1", "mae", *GENERALIST_METRICS[3:]]
    return pd.DataFrame(rows, index=columns).T.rename_axis("model")


def test_vcc2025_scores_by_hand(table):
    long = vcc2025_per_metric(table).set_index(["model", "metric"])
    assert (long.loc["mean_baseline"].to_numpy() == 0).all()
    better = long.loc["better", "unclipped"]
    assert better["overlap_at_N"] == pytest.approx((0.4 - 0.1) / 0.9)
    assert better["discrimination_score_l1"] == pytest.approx(0.5)
    assert better["mae"] == pytest.approx(0.25)
    worse = long.loc["worse"]
    assert worse.loc["mae", "unclipped"] == pytest.approx(-0.5)
    assert worse.loc["mae", "clipped"] == 0
    metrics = worse.drop(index="avg_score")
    assert worse.loc["avg_score", "clipped"] == pytest.approx(metrics["clipped"].mean())
    assert worse.loc["avg_score", "unclipped"] == pytest.approx(metrics["unclipped"].mean())


def test_score_table_summarises_every_score(table):
    replicate = table.loc["better"]
    scores = score_table(table, replicate=replicate)
    assert list(scores.index) == list(table.index)
    assert scores.loc["better", "vcc2026_style"] == pytest.approx(1.0)
    assert scores.loc["mean_baseline", "vcc2026_style"] == 0
    assert scores.loc["worse", "vcc2025"] > scores.loc["worse", "vcc2025_unclipped"]
    pd.testing.assert_series_equal(scores["average_rank"], average_rank(table)["average_rank"].reindex(table.index))
    assert "vcc2026_style" not in score_table(table).columns


def test_clipping_note_names_the_clipped_models(table):
    note = clipping_note(vcc2025_per_metric(table))
    assert "worse (-0.500)" in note
    assert "better" not in note
    assert "hides nothing" in clipping_note(vcc2025_per_metric(table.drop(index="worse")))


def test_missing_baseline_is_named(table):
    with pytest.raises(ValueError, match="the baseline 'mean_baseline' is not among the compared models"):
        vcc2025_per_metric(table.drop(index="mean_baseline"))


def test_predicted_cells_score_like_the_same_model_on_the_models_page(tiny):
    dataset = open_dataset(tiny)
    cells = to_submission(train_predict(dataset, "ridge"), dataset)
    uploaded = prediction_metrics(dataset, cells)
    board = compare(dataset, ["ridge"]).loc["ridge"]
    np.testing.assert_allclose(uploaded[board.index].to_numpy(), board.to_numpy(), rtol=1e-6)


def test_predictions_are_cut_to_the_test_split_and_must_cover_it(tiny):
    dataset = open_dataset(tiny)
    everything = to_submission(train_predict(dataset, "ridge", predict="all"), dataset, cells_per_pert=5)
    cut = predicted_test_cells(dataset, everything)
    assert set(cut.obs["target_gene"]) == {*split_perts(dataset, "test"), "non-targeting"}
    first = split_perts(dataset, "test")[0]
    partial = everything[everything.obs["target_gene"] != first].copy()
    with pytest.raises(ValueError, match=f"predictions lack 1 of the 4 test perturbations: {first}"):
        predicted_test_cells(dataset, partial)


def test_a_model_that_cannot_run_is_reported_and_the_others_scored(tiny):
    dataset = open_dataset(tiny)
    table, failed = compare_available(dataset, ["mean_baseline", "gpt"])
    assert list(table.index) == ["mean_baseline"]
    assert failed["gpt"].startswith("unknown model 'gpt'")


def test_the_conventions_change_the_de_metrics_only(tiny):
    """Under the VCC 2025 leaderboard's conventions (one FDR over every perturbation and gene) the DE metrics move,
    MAE and PDS do not: they never read a DE table."""
    dataset = open_dataset(tiny)
    sources = [PredictionSource.model(m) for m in ("mean_baseline", "ridge")]
    current, _, _ = compare_sources(dataset, sources)
    legacy, _, _ = compare_sources(dataset, sources, conventions=LEGACY)
    same = ["mae", "mse", "discrimination_score_l1", "discrimination_score_l2", "discrimination_score_cosine"]
    np.testing.assert_array_equal(legacy[same].to_numpy(), current[same].to_numpy())
    de = ["overlap_at_N", "precision_at_N", "de_nsig_counts_real"]
    assert not np.allclose(legacy[de].to_numpy(), current[de].to_numpy(), equal_nan=True)
    with pytest.raises(ValueError, match=r"unknown reference 'cell-eval-0\.7'"):
        compare_sources(dataset, sources, conventions="cell-eval-0.7")
