"""End to end: ``evaluate`` (our normalisation, pseudobulk, DE and metrics) equals ``cell-eval run`` on fixtures."""

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from tests.conftest import FIXTURES, ROUNDED_ELSEWHERE
from vcc_core.__main__ import main
from vcc_core.data.io import detect_space
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.de.wilcoxon import de_from_anndata
from vcc_core.evaluation.evaluate import evaluate, evaluate_profiles
from vcc_core.evaluation.results import aggregate, to_long
from vcc_core.metrics.de_metrics import significant

DATA = FIXTURES / "metrics"
RUNS = [
    ("synthetic", "full"),
    ("synthetic", "base_full"),
    ("synthetic", "vcc"),
    ("papalexi", "full"),
    ("papalexi", "base_full"),
    ("papalexi", "vcc"),
    pytest.param("ties", "anndata", marks=ROUNDED_ELSEWHERE),  # pearson_edistance: 1.9e-6 off on such a CPU
    ("ties", "base_anndata"),
]


def read_cell_eval(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Values (float) and the null mask of a cell-eval CSV (null is an empty field, NaN is written ``NaN``)."""
    raw = pd.read_csv(path, index_col=0, keep_default_na=False, dtype=str)
    return raw.replace("", "nan").astype(float), raw == ""


def run_files(case: str, run: str) -> tuple[Path, Path, str]:
    pred = "base.h5ad" if run.startswith("base_") else "pred.h5ad"
    return DATA / case / "real.h5ad", DATA / case / pred, run.removeprefix("base_")


@pytest.mark.reference
@pytest.mark.parametrize(("case", "run"), RUNS)
def test_evaluate_equals_cell_eval(case, run):
    real, pred, profile = run_files(case, run)
    results, agg = evaluate(real, pred, profile=profile)
    expected, null = read_cell_eval(DATA / case / "cell_eval" / run / "results.csv")
    expected_agg, _ = read_cell_eval(DATA / case / "cell_eval" / run / "agg_results.csv")
    assert list(results.columns) == list(expected.columns)  # pearson_edistance and clustering_agreement included
    assert list(results.index) == list(expected.index)
    for column in results.columns:
        np.testing.assert_array_equal(results[column].isna(), null[column], err_msg=f"null cells of {column}")
        values = results[column].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_allclose(values, expected[column], rtol=1e-6, atol=0, err_msg=column)
        summary = agg[column].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_allclose(summary, expected_agg[column], rtol=1e-6, atol=1e-12, err_msg=f"agg {column}")


@pytest.mark.reference
@pytest.mark.parametrize(("case", "side"), [("synthetic", "real"), ("synthetic", "pred"), ("papalexi", "pred")])
def test_de_gene_sets_equal_pdex(case, side):
    adata = ad.read_h5ad(DATA / case / f"{side}.h5ad")
    ours = de_from_anndata(log1p_normalize(adata) if detect_space(adata.X) == "counts" else adata)
    table = pd.read_csv(DATA / case / "cell_eval" / "full" / f"{side}_de.csv.gz", dtype={"target": str, "feature": str})
    theirs = table[significant(table["fdr"].to_numpy())]
    rows, cols = np.nonzero(significant(ours.fdr))
    assert set(zip(ours.perts[rows], ours.genes[cols], strict=True)) == set(
        zip(theirs["target"], theirs["feature"], strict=True)
    )


def test_cli_writes_cell_eval_layout(tmp_path, capsys):
    real, pred, _ = run_files("papalexi", "vcc")
    assert main(["evaluate", "--real", str(real), "--pred", str(pred), "--out", str(tmp_path)]) == 0
    expected = (DATA / "papalexi" / "cell_eval" / "vcc" / "results.csv").read_text().splitlines()
    written = (tmp_path / "results.csv").read_text().splitlines()
    assert written[0] == expected[0]
    assert [line.split(",")[0] for line in written] == [line.split(",")[0] for line in expected]
    agg = (tmp_path / "agg_results.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in agg] == ["statistic", *aggregate(pd.DataFrame()).index]
    err = capsys.readouterr().err
    assert "Wilcoxon DE of real" in err
    assert "wrote" in err


def test_profiles_path_equals_the_files_path():
    real = log1p_normalize(ad.read_h5ad(DATA / "papalexi" / "real.h5ad"))
    pred = log1p_normalize(ad.read_h5ad(DATA / "papalexi" / "pred.h5ad"))
    des = {"real_de": de_from_anndata(real), "pred_de": de_from_anndata(pred)}
    results, _ = evaluate_profiles(pseudobulk(real), pseudobulk(pred), **des, profile="bulk", dtypes=(np.float32,) * 2)
    reference, _ = evaluate(DATA / "papalexi" / "real.h5ad", DATA / "papalexi" / "pred.h5ad", profile="bulk")
    np.testing.assert_array_equal(results.astype(float), reference.astype(float))
    with pytest.raises(ValueError, match="'pearson_edistance' reads the cells of both sides"):
        evaluate_profiles(pseudobulk(real), pseudobulk(pred), **des, profile="full")
    in_float64, _ = evaluate_profiles(pseudobulk(real), pseudobulk(pred), **des, profile="bulk")
    np.testing.assert_allclose(in_float64.astype(float), reference.astype(float), rtol=1e-5)
    long = to_long(results)
    assert list(long.columns) == ["perturbation", "metric", "value"]
    assert len(long) == results.size


def test_aggregate_follows_polars_describe():
    # x holds a NaN value (computed but undefined) and a missing one (no value), which polars tell apart
    column = pd.arrays.FloatingArray(np.array([1.0, 2.0, np.nan, 4.0, 0.0]), np.array([0, 0, 0, 0, 1], dtype=bool))
    agg = aggregate(pd.DataFrame({"x": column, "y": pd.array([1.0, 3.0, 10.0, 7.0, None], dtype="Float64")}))
    assert agg["x"].astype(float).tolist()[:2] == [4.0, 1.0]
    assert np.isnan(agg.loc["mean", "x"])  # NaN propagates, missing values are skipped
    assert agg.loc["min", "x"] == 1.0
    assert agg.loc["75%", "x"] == 4.0  # NaN sorts last: (1, 2, 4, NaN)[floor(0.75 * 3 + 0.5)]
    assert agg["y"].tolist() == [4.0, 1.0, 5.25, pytest.approx(4.0311289), 1.0, 3.0, 7.0, 7.0, 10.0]


def test_missing_perturbation_in_prediction_is_named(tmp_path):
    real, pred, _ = run_files("papalexi", "vcc")
    adata = ad.read_h5ad(pred)
    adata = adata[adata.obs["target_gene"] != "STAT1"].copy()
    with pytest.raises(ValueError, match=r"no cells for 1 perturbation.*STAT1"):
        evaluate(real, adata)
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        evaluate(real, pred, profile="fast")
