"""The default dataset "screen" shows the challenge's lessons: a DES noise ceiling near the H1 data's (0.35-0.45)
that a pooled-CPM floor lifts, a PDS-tuned scaled model beating the mean baseline on L1-PDS with a worse MAE that
clipping hides, kernel ridge > ridge > mean baseline, and an oracle replicate on top scoring 1 when replicate-scaled.

If a change to the simulator moves one of these, the tour's story no longer shows on the default data."""

import pytest

from vcc_core.analyses.ceiling import ceiling
from vcc_core.data.dataset import open_dataset
from vcc_core.data.simulate import simulate
from vcc_core.evaluation.leaderboard import compare_sources, replicate_values, score_table, vcc2025_per_metric
from vcc_core.evaluation.sides import ORACLE
from vcc_core.evaluation.sources import PredictionSource

pytestmark = pytest.mark.slow

PDS, MAE, DES = "discrimination_score_l1", "mae", "overlap_at_N"
MODELS = ["mean_baseline", "ridge", "kernel_ridge", "scaled:kernel_ridge", ORACLE]


@pytest.fixture(scope="module")
def dataset():
    return open_dataset(simulate("screen"))


@pytest.fixture(scope="module")
def table(dataset):
    table, _, failed = compare_sources(dataset, [PredictionSource.model(m) for m in MODELS])
    assert not failed
    return table


def test_the_des_ceiling_is_the_h1_datas_and_a_cpm_floor_lifts_it(dataset):
    result = ceiling(dataset, seeds=3)
    des = result.replicate_values()[DES]
    assert 0.35 <= des <= 0.45
    cpm = result.cpm_curve()["overlap_at_N"]
    assert cpm.loc[5.0] > des + 0.03


def test_the_models_rank_as_in_the_challenge(table):
    pds = table[PDS]
    assert pds["mean_baseline"] < pds["ridge"] < pds["kernel_ridge"] < pds["scaled:kernel_ridge"]
    assert pds[ORACLE] == pds.max()


def test_the_scaled_model_wins_on_pds_and_clipping_hides_its_mae(table):
    assert table.loc["scaled:kernel_ridge", MAE] > table.loc["mean_baseline", MAE]
    long = vcc2025_per_metric(table).set_index(["model", "metric"])
    mae = long.loc[("scaled:kernel_ridge", MAE)]
    assert mae["unclipped"] < 0
    assert mae["clipped"] == 0
    total = long.loc[("scaled:kernel_ridge", "avg_score")]
    assert total["clipped"] > total["unclipped"]


def test_the_oracle_scores_1_on_the_replicate_scaled_scale(dataset, table):
    scores = score_table(table, replicate=replicate_values(dataset))
    assert scores.loc[ORACLE, "vcc2026_style"] == pytest.approx(1.0)
    assert scores.loc["mean_baseline", "vcc2026_style"] == pytest.approx(0.0)
    assert scores["vcc2025"].idxmax() == ORACLE
