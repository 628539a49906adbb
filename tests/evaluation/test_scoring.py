"""Baseline-normalised scores (``cell-eval score``), replicate scaling and average ranks."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import FIXTURES
from vcc_core.__main__ import main
from vcc_core.evaluation.evaluate import evaluate
from vcc_core.evaluation.scoring import average_rank, read_agg, score_replicate_scaled, score_vcc2025

DATA = FIXTURES / "metrics"
SCORED = [("synthetic", "full"), ("synthetic", "vcc"), ("papalexi", "full"), ("papalexi", "vcc"), ("ties", "anndata")]


def agg_table(**means) -> pd.DataFrame:
    return pd.DataFrame({"statistic": ["count", "mean"], **{k: [3.0, v] for k, v in means.items()}})


@pytest.mark.reference
@pytest.mark.parametrize(("case", "profile"), SCORED)
def test_equals_cell_eval_score_on_its_tables(case, profile):
    runs = DATA / case / "cell_eval"
    ours = score_vcc2025(runs / profile / "agg_results.csv", runs / f"base_{profile}" / "agg_results.csv")
    expected = pd.read_csv(runs / f"score_{profile}.csv")
    assert ours["metric"].tolist() == expected["metric"].tolist()
    np.testing.assert_allclose(ours["from_baseline"], expected["from_baseline"], rtol=1e-12)


@pytest.mark.reference
def test_equals_cell_eval_score_end_to_end():
    real = DATA / "papalexi" / "real.h5ad"
    _, user = evaluate(real, DATA / "papalexi" / "pred.h5ad", profile="vcc")
    _, base = evaluate(real, DATA / "papalexi" / "base.h5ad", profile="vcc")
    expected = pd.read_csv(DATA / "papalexi" / "cell_eval" / "score_vcc.csv")
    ours = score_vcc2025(user, base)
    assert ours["metric"].tolist() == ["mae", "overlap_at_N", "discrimination_score_l1", "avg_score"]
    np.testing.assert_allclose(ours["from_baseline"], expected["from_baseline"], rtol=1e-6)


def test_vcc2025_by_hand():
    user = agg_table(mae=0.02, overlap_at_N=0.3, discrimination_score_l1=0.4, de_nsig_counts_real=12.0)
    base = agg_table(mae=0.04, overlap_at_N=0.1, discrimination_score_l1=0.5, de_nsig_counts_real=10.0)
    scores = score_vcc2025(user, base).set_index("metric")["from_baseline"]
    assert scores.index.tolist() == ["mae", "overlap_at_N", "discrimination_score_l1", "avg_score"]
    np.testing.assert_allclose(scores, [0.5, 0.2 / 0.9, 0.0, (0.5 + 0.2 / 0.9) / 3])
    raw = score_vcc2025(user, base, clip=False).set_index("metric")["from_baseline"]
    assert raw["discrimination_score_l1"] == pytest.approx(-0.2)
    nan_user = agg_table(mae=np.nan, overlap_at_N=0.3, discrimination_score_l1=0.4, de_nsig_counts_real=1.0)
    assert score_vcc2025(nan_user, base, clip=False)["from_baseline"][0] == 0.0  # NaN counts as 0


def test_vcc2025_rejects_mismatched_tables():
    with pytest.raises(ValueError, match="columns differ"):
        score_vcc2025(agg_table(mae=0.1), agg_table(mse=0.1))
    with pytest.raises(ValueError, match="statistic 'median' not found"):
        score_vcc2025(agg_table(mae=0.1), agg_table(mae=0.2), statistic="median")
    with pytest.raises(ValueError, match="missing 'statistic' column"):
        read_agg(pd.DataFrame({"perturbation": ["a"], "mae": [0.1]}))


def test_replicate_scaled_by_hand():
    user = {"discrimination_score_cosine": 0.8, "mae": 0.03}
    base = {"discrimination_score_cosine": 0.5, "mae": 0.05}
    replicate = {"discrimination_score_cosine": 0.95, "mae": 0.01}
    scores = score_replicate_scaled(user, base, replicate)
    np.testing.assert_allclose(scores, [0.3 / 0.45, 0.5, (0.3 / 0.45 + 0.5) / 2])
    assert score_replicate_scaled({"mae": 0.07}, {"mae": 0.05}, {"mae": 0.01})["mae"] == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="missing for: pr_auc"):
        score_replicate_scaled(user, base, replicate, metrics=["pr_auc"])


def test_average_rank_by_hand():
    table = pd.DataFrame(
        {"mae": [0.1, 0.2, 0.3], "pearson_delta": [0.9, 0.9, np.nan]}, index=["model_a", "model_b", "model_c"]
    )
    ranks = average_rank(table, metrics=["mae", "pearson_delta"])
    assert ranks.index.tolist() == ["model_a", "model_b", "model_c"]
    assert ranks["pearson_delta"].tolist() == [1.5, 1.5, 3.0]  # tie shares the rank, NaN is last
    assert ranks["average_rank"].tolist() == [1.25, 1.75, 3.0]
    with pytest.raises(ValueError, match="lacks metric column"):
        average_rank(table)
    with pytest.raises(ValueError, match="no best value"):
        average_rank(table.rename(columns={"mae": "de_nsig_counts"}), metrics=["de_nsig_counts"])


def test_cli_prints_and_writes_scores(tmp_path, capsys):
    runs = DATA / "synthetic" / "cell_eval"
    out = tmp_path / "scores.csv"
    args = [
        "score",
        "--user",
        str(runs / "vcc" / "agg_results.csv"),
        "--base",
        str(runs / "base_vcc" / "agg_results.csv"),
    ]
    assert main([*args, "--out", str(out), "--no-clip"]) == 0
    printed = capsys.readouterr().out
    assert "avg_score" in printed
    assert pd.read_csv(out)["metric"].tolist()[-1] == "avg_score"
