"""The oracle replicate: half B of the test split's real cells submitted as they are, scored against half A."""

import numpy as np
import pandas as pd
import pytest

from vcc_core.analyses.ceiling import seed_tables
from vcc_core.data.dataset import open_dataset, split_perts
from vcc_core.evaluation.leaderboard import compare_sources, replicate_values, score_table
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.sides import ORACLE, inputs_of, oracle_sides, real_cells
from vcc_core.evaluation.sources import PredictionSource, sides
from vcc_core.evaluation.vcc2026_sources import compare_2026, oracle_sides_2026, real_counts
from vcc_core.models.oracle import half_split


@pytest.fixture(scope="module")
def dataset(tiny):
    return open_dataset(tiny)


def test_its_sides_are_the_two_halves_of_the_real_cells(dataset):
    real, pred = oracle_sides(dataset)
    cells = real_cells(dataset, split_perts(dataset, "test"))
    labels = cells.obs[dataset.pert_col].to_numpy()
    half = half_split(labels, control=dataset.control, seed=0)
    for side, h in ((real, 0), (pred, 1)):
        pert = str(side.profiles.perts[0])
        rows = (half == h) & (labels == pert)
        expected = np.asarray(cells.X[rows].mean(axis=0)).ravel()
        np.testing.assert_allclose(side.profiles.means[0], expected, rtol=1e-6, atol=1e-9)
    for mine, theirs in zip(sides(dataset, PredictionSource.model(ORACLE)), (real, pred), strict=True):
        np.testing.assert_array_equal(mine.profiles.means, theirs.profiles.means)


def test_its_metrics_are_the_split_half_replicate_of_seed_0(dataset):
    mine = per_perturbation(inputs_of(*oracle_sides(dataset))).sort_index()
    replicate = seed_tables(dataset, seed=0)["metrics"].set_index("perturbation").sort_index()
    pd.testing.assert_frame_equal(mine, replicate[mine.columns], check_names=False)


def test_it_scores_1_on_the_replicate_scaled_scale_and_tops_the_models(dataset):
    names = ["mean_baseline", "ridge", ORACLE]
    table, _, failed = compare_sources(dataset, [PredictionSource.model(n) for n in names])
    assert not failed
    pd.testing.assert_series_equal(table.loc[ORACLE], replicate_values(dataset), check_names=False)
    scores = score_table(table, replicate=replicate_values(dataset))
    assert scores.loc[ORACLE, "vcc2026_style"] == pytest.approx(1.0)
    assert scores.loc["mean_baseline", "vcc2026_style"] == pytest.approx(0.0)
    assert table.loc[ORACLE, "discrimination_score_l1"] >= table["discrimination_score_l1"].max()


def test_its_2026_submission_is_half_b_of_the_real_counts(dataset):
    real, pred = oracle_sides_2026(dataset)
    counts = real_counts(dataset, split_perts(dataset, "test"))
    labels = counts.obs[dataset.pert_col].to_numpy().astype(str)
    half = half_split(labels, control=dataset.control, seed=0)
    assert dataset.control not in set(pred.groups)
    assert dataset.control in set(real.groups)
    assert sorted(pred.groups) == sorted(split_perts(dataset, "test"))
    n_real = {g: int(((half == 0) & (labels == g)).sum()) for g in real.groups}
    n_pred = {g: int(((half == 1) & (labels == g)).sum()) for g in pred.groups}
    assert all(n_pred[g] == n_real[g] for g in pred.groups)  # floor(n/2) cells of every group in each half
    _, scores, failed = compare_2026(dataset, [PredictionSource.model(ORACLE), PredictionSource.model("mean_baseline")])
    assert not failed
    for metric in ("pds_cosine", "de_wilcoxon_lfc_nmae", "de_wilcoxon_sig_jaccard"):  # defined on 12 perturbations
        assert scores.loc[ORACLE, metric] > scores.loc["mean_baseline", metric]
