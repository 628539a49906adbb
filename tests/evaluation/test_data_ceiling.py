"""cell-eval 0.8.2's data ceiling (``--ceiling``) and ``--skip-metrics``: golden runs in
tests/fixtures/metrics/<case>/cell_eval/options (bench/make_option_fixtures.py), and the split by hand."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from tests.evaluation.test_evaluate import DATA, read_cell_eval
from vcc_core.__main__ import main
from vcc_core.evaluation.data_ceiling import data_ceiling, disjoint_halves, spearman_brown

CONTROL = "non-targeting"


@pytest.mark.reference
@pytest.mark.parametrize("case", ["synthetic", "papalexi"])
def test_ceiling_equals_cell_eval(case):
    results, agg = data_ceiling(DATA / case / "real.h5ad", profile="full", seed=7)
    folder = DATA / case / "cell_eval" / "options" / "ceiling_seed7"
    expected, null = read_cell_eval(folder / "ceiling_results.csv")
    assert list(results.columns) == list(expected.columns)
    assert list(results.index) == list(expected.index)
    for column in results.columns:
        np.testing.assert_array_equal(results[column].isna(), null[column], err_msg=column)
        values = results[column].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_allclose(values, expected[column], rtol=1e-6, atol=0, err_msg=column)
    expected_agg = pd.read_csv(folder / "agg_ceiling_results.csv")
    assert list(agg.columns) == list(expected_agg.columns)
    np.testing.assert_allclose(agg.to_numpy(float), expected_agg.to_numpy(float), rtol=1e-6, atol=0)


def test_command_line_ceiling_only_and_skip_metrics(tmp_path, capsys):
    real = DATA / "synthetic" / "real.h5ad"
    out = tmp_path / "ceiling"
    assert main(["evaluate", "--real", str(real), "--out", str(out), "--ceiling", "--ceiling-seed", "7"]) == 0
    written = pd.read_csv(out / "agg_ceiling_results.csv")
    expected = pd.read_csv(DATA / "synthetic" / "cell_eval" / "options" / "ceiling_seed7" / "agg_ceiling_results.csv")
    np.testing.assert_allclose(written.to_numpy(float), expected[written.columns].to_numpy(float), rtol=1e-6)
    assert not (out / "results.csv").exists()  # no prediction: the ceiling only

    skip = tmp_path / "skip"
    argv = ["evaluate", "--real", str(real), "--pred", str(DATA / "synthetic" / "pred.h5ad"), "--out", str(skip)]
    assert main([*argv, "--profile", "full", "--skip-metrics", "mae,overlap_at_50,clustering_agreement"]) == 0
    ours = pd.read_csv(skip / "results.csv", index_col=0)
    theirs, _ = read_cell_eval(DATA / "synthetic" / "cell_eval" / "options" / "skip" / "results.csv")
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-6)
    capsys.readouterr()
    assert main([*argv, "--skip-metrics", "maee"]) == 2
    assert "--skip-metrics: unknown metric(s) maee; known: overlap_at_N" in capsys.readouterr().err
    assert main(["evaluate", "--real", str(real), "--out", str(skip)]) == 2
    assert "--pred is required unless --ceiling is given" in capsys.readouterr().err


def labelled(counts: dict[str, int]) -> ad.AnnData:
    labels = [name for name, n in counts.items() for _ in range(n)]
    obs = pd.DataFrame({"target_gene": labels}, index=[f"c{i}" for i in range(len(labels))])
    return ad.AnnData(np.arange(len(labels), dtype=np.float32)[:, None], obs=obs)


def test_halves_are_disjoint_and_of_half_depth():
    adata = labelled({CONTROL: 7, "A": 4, "B": 1, "C": 5})
    first, second = disjoint_halves(adata, pert_col="target_gene", control=CONTROL, seed=3)
    assert set(first.obs_names).isdisjoint(second.obs_names)
    for half in (first, second):
        # floor(n / 2) cells of each group; B (one cell) cannot be split and is dropped
        assert half.obs["target_gene"].value_counts().to_dict() == {CONTROL: 3, "A": 2, "C": 2}
    again = disjoint_halves(adata, pert_col="target_gene", control=CONTROL, seed=3)
    assert list(again[0].obs_names) == list(first.obs_names)  # the seed fixes the split
    with pytest.raises(ValueError, match="control 'non-targeting' has fewer than 2 cells"):
        disjoint_halves(labelled({CONTROL: 1, "A": 4}), pert_col="target_gene", control=CONTROL, seed=0)


def test_spearman_brown_by_hand():
    results = pd.DataFrame({"overlap_at_N": [0.2, 0.6], "mae": [0.1, 0.3], "pearson_delta": [-0.5, 0.1]})
    row = spearman_brown(results.rename_axis("perturbation")).iloc[0]
    assert row["overlap_at_N"] == pytest.approx(2 * 0.4 / 1.4)  # the mean 0.4 at twice the depth
    assert np.isnan(row["mae"])  # an error metric has no ceiling
    assert np.isnan(row["pearson_delta"])  # r <= 0: no defensible ceiling
