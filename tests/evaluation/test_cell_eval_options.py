"""cell-eval 0.8.2's run options (``--ceiling``, ``--skip-metrics``, ``--epsilon``) and its mean baseline: golden
runs in tests/fixtures/metrics/<case>/cell_eval/options (bench/make_option_fixtures.py) and <case>/base.h5ad, and the
split and the formulas by hand."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROUNDED_ELSEWHERE
from tests.evaluation.test_evaluate import DATA, read_cell_eval
from vcc_core.__main__ import main
from vcc_core.evaluation.data_ceiling import data_ceiling, spearman_brown
from vcc_core.evaluation.scoring2026 import disjoint_halves

CONTROL = "non-targeting"


@pytest.mark.reference
@pytest.mark.parametrize("case", ["synthetic", "papalexi"])
def test_ceiling_equals_cell_eval(case):
    results, agg = data_ceiling(DATA / case / "real.h5ad", profile="full", seed=7)
    folder = DATA / case / "cell_eval" / "options" / "ceiling_seed7"
    expected, null = read_cell_eval(folder / "ceiling_results.csv")
    assert list(results.columns) == list(expected.columns)
    assert list(results.index) == list(expected.index)
    assert_results_equal(results, expected, null)
    expected_agg = pd.read_csv(folder / "agg_ceiling_results.csv")
    assert list(agg.columns) == list(expected_agg.columns)
    np.testing.assert_allclose(agg.to_numpy(float), expected_agg.to_numpy(float), rtol=1e-6, atol=0)


def assert_results_equal(results, expected, null) -> None:
    """Every column: no value where cell-eval wrote none, and its values to 1e-6 relative."""
    for column in results.columns:
        np.testing.assert_array_equal(results[column].isna(), null[column], err_msg=column)
        values = results[column].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_allclose(values, expected[column], rtol=1e-6, atol=0, err_msg=column)


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
    first, second = disjoint_halves(adata, seed=3, pert_col="target_gene", control=CONTROL)
    assert set(first.obs_names).isdisjoint(second.obs_names)
    for half in (first, second):
        # floor(n / 2) cells of each group; B (one cell) cannot be split and is dropped
        assert half.obs["target_gene"].value_counts().to_dict() == {CONTROL: 3, "A": 2, "C": 2}
    again = disjoint_halves(adata, seed=3, pert_col="target_gene", control=CONTROL)
    assert list(again[0].obs_names) == list(first.obs_names)  # the seed fixes the split
    with pytest.raises(ValueError, match="control 'non-targeting' has fewer than 2 cells"):
        disjoint_halves(labelled({CONTROL: 1, "A": 4}), seed=0, pert_col="target_gene", control=CONTROL)


def test_spearman_brown_by_hand():
    results = pd.DataFrame({"overlap_at_N": [0.2, 0.6], "mae": [0.1, 0.3], "pearson_delta": [-0.5, 0.1]})
    row = spearman_brown(results.rename_axis("perturbation")).iloc[0]
    assert row["overlap_at_N"] == pytest.approx(2 * 0.4 / 1.4)  # the mean 0.4 at twice the depth
    assert np.isnan(row["mae"])  # an error metric has no ceiling
    assert np.isnan(row["pearson_delta"])  # r <= 0: no defensible ceiling


def test_epsilon_moves_fold_changes_only():
    from vcc_core.de.wilcoxon import fold_changes

    target, ref = np.array([[0.0, 3.0, 0.0]], dtype=np.float32), np.array([2.0, 1.0, 0.0], dtype=np.float32)
    lfc, change = fold_changes(target, ref, 0.5)
    np.testing.assert_array_equal(lfc, [[np.log2(0.5 / 2.5), np.log2(3.5 / 1.5), 0.0]])  # 0/0 no longer arises
    np.testing.assert_array_equal(change, [[-2.0 / 2.5, 2.0 / 1.5, 0.0]])
    plain, _ = fold_changes(target, ref)
    assert plain[0, 0] == -np.inf  # without a pseudocount a one-sided zero is infinite, as pdex


@pytest.mark.reference
@pytest.mark.parametrize("case", ["synthetic", "papalexi"])
def test_epsilon_equals_cell_eval(case):
    from vcc_core.evaluation.evaluate import evaluate

    results, _ = evaluate(DATA / case / "real.h5ad", DATA / case / "pred.h5ad", profile="full", epsilon=0.5)
    expected, null = read_cell_eval(DATA / case / "cell_eval" / "options" / "epsilon" / "results.csv")
    plain, _ = read_cell_eval(DATA / case / "cell_eval" / "full" / "results.csv")
    assert not np.allclose(expected["de_spearman_lfc_sig"], plain["de_spearman_lfc_sig"], equal_nan=True)
    assert_results_equal(results, expected, null)


@pytest.mark.reference
@pytest.mark.parametrize("case", ["synthetic", "papalexi", "ties"])
def test_mean_baseline_equals_cell_eval_baseline(case, tmp_path):
    from scipy import sparse

    assert main(["baseline", "--kind", "mean", "--real", str(DATA / case / "real.h5ad"), "--out", str(tmp_path)]) == 0
    ours, theirs = ad.read_h5ad(tmp_path / "baseline.h5ad"), ad.read_h5ad(DATA / case / "base.h5ad")
    assert sorted(ours.obs["target_gene"]) == sorted(theirs.obs["target_gene"])
    assert list(ours.var_names) == list(theirs.var_names)
    dense = [m.toarray() if sparse.issparse(m) else np.asarray(m) for m in (ours.X, theirs.X)]
    ours_rows = pd.DataFrame(dense[0], index=ours.obs["target_gene"].to_numpy()).groupby(level=0).first()
    theirs_rows = pd.DataFrame(dense[1], index=theirs.obs["target_gene"].to_numpy()).groupby(level=0).first()
    # the mean of the group means is summed in another order than polars': float32 rounding apart
    np.testing.assert_allclose(ours_rows.to_numpy(), theirs_rows.loc[ours_rows.index].to_numpy(), rtol=1e-6)
    de = pd.read_csv(tmp_path / "baseline_de.csv")
    assert list(de.columns[:2]) == ["target", "feature"]
    assert len(de) == (ours.obs["target_gene"].nunique() - 1) * ours.n_vars


@ROUNDED_ELSEWHERE
@pytest.mark.reference
def test_contexts_write_cell_eval_files(tmp_path):
    """``--celltype-col``: each context normalised and scored on its own, its tables named after it."""
    folder = DATA / "contexts"
    argv = ["evaluate", "--real", str(folder / "real.h5ad"), "--pred", str(folder / "pred.h5ad")]
    argv += ["--out", str(tmp_path), "--profile", "full", "--celltype-col", "cell_line", "--ceiling"]
    assert main(argv) == 0
    expected = sorted(p.name for p in (folder / "cell_eval").glob("*.csv"))
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == expected
    assert "HepG2-C3A_agg_ceiling_results.csv" in expected  # a slash in a context's name becomes "-"
    assert_same_tables(tmp_path, folder / "cell_eval", expected)


def assert_same_tables(ours_dir, theirs_dir, names) -> None:
    for name in names:
        # the ceiling's aggregate is one row without a key column; the other tables are keyed
        read = pd.read_csv if "agg_ceiling" in name else (lambda path: read_cell_eval(path)[0])
        ours, theirs = read(ours_dir / name), read(theirs_dir / name)
        assert list(ours.columns) == list(theirs.columns), name
        np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-6, atol=1e-12, err_msg=name)


@pytest.mark.reference
def test_embedding_pds_equals_cell_eval(tmp_path, capsys):
    folder = DATA / "embedding"
    argv = ["evaluate", "--real", str(folder / "real.h5ad"), "--pred", str(folder / "pred.h5ad"), "--out"]
    assert main([*argv, str(tmp_path), "--profile", "full", "--embed-key", "X_emb", "--ceiling"]) == 0
    names = ["results.csv", "agg_results.csv", "ceiling_results.csv", "agg_ceiling_results.csv"]
    assert_same_tables(tmp_path, folder / "cell_eval", names)
    on_genes, _ = read_cell_eval(DATA / "synthetic" / "cell_eval" / "full" / "results.csv")
    on_embedding, _ = read_cell_eval(tmp_path / "results.csv")
    assert not on_embedding["discrimination_score_l2"].equals(on_genes["discrimination_score_l2"])
    assert on_embedding["discrimination_score_l1"].equals(on_genes["discrimination_score_l1"])  # L1 stays on genes
    capsys.readouterr()
    assert main([*argv, str(tmp_path / "x"), "--profile", "full", "--embed-key", "X_pca"]) == 2
    assert "real data: obsm has no embedding 'X_pca'; keys: X_emb" in capsys.readouterr().err


@pytest.mark.reference
@pytest.mark.parametrize("case", ["synthetic", "papalexi"])
def test_cpm_filter_equals_cell_eval(case):
    from vcc_core.evaluation.evaluate import evaluate

    results, _ = evaluate(DATA / case / "real.h5ad", DATA / case / "pred.h5ad", profile="full", cpm_filter=5)
    expected, null = read_cell_eval(DATA / case / "cell_eval" / "options" / "cpm_filter5" / "results.csv")
    plain, _ = read_cell_eval(DATA / case / "cell_eval" / "full" / "results.csv")
    assert not np.allclose(expected["roc_auc"], plain["roc_auc"], equal_nan=True)  # the floor moved the DE
    assert_results_equal(results, expected, null)


def test_cpm_floor_by_hand():
    from scipy import sparse
    from scipy.stats import false_discovery_control

    from vcc_core.de.cpm_filter import cpm_filtered, pooled_cpm
    from vcc_core.de.wilcoxon import de_from_anndata

    counts = np.array([[90, 10, 0], [80, 20, 0], [99, 0, 1], [98, 0, 2]], dtype=np.float32)  # 2 control, 2 "A"
    x = sparse.csr_matrix(np.log1p(counts))
    codes = np.array([0, 0, 1, 1])
    cpm = pooled_cpm(x, codes, np.array([2, 2]))
    # pooled: control (85, 15, 0) of 100 -> 850,000 / 150,000 / 0 CPM; A (98.5, 0, 1.5) of 100
    np.testing.assert_allclose(cpm, [[850_000, 150_000, 0], [985_000, 0, 15_000]], rtol=1e-5)
    cells = ad.AnnData(x, obs=pd.DataFrame({"target_gene": [CONTROL, CONTROL, "A", "A"]}, index=list("abcd")))
    de = de_from_anndata(cells)
    kept = cpm_filtered(de, x, cells.obs["target_gene"], threshold=20_000)
    assert np.isnan(kept.fdr[0, 2])  # 15,000 and 0 CPM: at most the floor on both sides
    assert np.isnan(kept.log2fc[0, 2])
    # BH over the two pairs kept, not the three tested
    np.testing.assert_allclose(kept.fdr[0, :2], false_discovery_control(de.pvalue[0, :2]), rtol=1e-12)


# ------------------------------------------------------------------ the VCC 2025 leaderboard: cell-eval 0.6.6


@pytest.mark.reference
@pytest.mark.parametrize("case", ["synthetic", "papalexi"])
@pytest.mark.parametrize("profile", ["vcc", "full"])
def test_cell_eval_066_conventions_equal_its_metrics(case, profile, tmp_path):
    folder = DATA / case / "cell_eval" / "v066_full"
    argv = ["evaluate", "--real", str(DATA / case / "real.h5ad"), "--pred", str(DATA / case / "pred.h5ad")]
    assert main([*argv, "--out", str(tmp_path), "--reference", "cell-eval-0.6.6", "--profile", profile]) == 0
    ours, _ = read_cell_eval(tmp_path / "results.csv")
    theirs, _ = read_cell_eval(folder / "results.csv")
    assert list(ours.columns) == list(theirs.columns) if profile == "full" else len(ours.columns) == 3
    current, _ = read_cell_eval(DATA / case / "cell_eval" / "full" / "results.csv")
    assert not np.allclose(theirs["overlap_at_N"], current["overlap_at_N"])  # the conventions move DES
    for column in ours.columns:
        np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-6, atol=0, err_msg=column)


@ROUNDED_ELSEWHERE
@pytest.mark.reference
@pytest.mark.parametrize(("case", "side"), [("synthetic", "real"), ("papalexi", "pred")])
def test_pdex_0127_table(case, side):
    from vcc_core.data.normalize import log1p_normalize
    from vcc_core.data.space import detect_space
    from vcc_core.de.legacy import legacy_de

    cells = ad.read_h5ad(DATA / case / f"{side}.h5ad")
    cells = log1p_normalize(cells) if detect_space(cells.X) == "counts" else cells
    de = legacy_de(cells.X, cells.obs["target_gene"], genes=cells.var_names)
    table = pd.read_csv(DATA / case / "cell_eval" / "v066_full" / f"{side}_de.csv.gz")
    ours = pd.DataFrame(
        {"target": np.repeat(de.perts, de.genes.size), "feature": np.tile(de.genes, de.perts.size)}
        | {"stat": de.statistic.ravel(), "q": de.fdr.ravel(), "lfc": de.log2fc.ravel(), "mean": de.target_mean.ravel()}
    )
    both = table.merge(ours, on=["target", "feature"], validate="one_to_one")
    assert len(both) == len(table) == de.fdr.size
    np.testing.assert_array_equal(both["stat"], both["statistic"])
    np.testing.assert_allclose(both["mean"], both["target_mean"], rtol=2.4e-7)
    lfc = np.nan_to_num(np.log2(both["fold_change"]), nan=0.0)
    np.testing.assert_allclose(both["lfc"], lfc, rtol=1e-6, atol=1e-6)
    # scipy sums the tie term in float32 in its own order: FDRs agree to 1e-4, significance exactly
    np.testing.assert_allclose(both["q"], both["fdr"], rtol=1e-4)
    np.testing.assert_array_equal(both["q"] < 0.05, both["fdr"] < 0.05)


def test_pdex_0127_fold_change_clip_and_float32_pvalues():
    from scipy.stats import mannwhitneyu

    from vcc_core.de.legacy import clipped_fold_change, float32_pvalues

    target, ref = np.array([0.0, 2.0, 0.0, 3.0], np.float32), np.array([0.0, 0.0, 4.0, 1.5], np.float32)
    np.testing.assert_array_equal(clipped_fold_change(target, ref), [1.0, 20.0, 1.0 / 20.0, 2.0])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=30).astype(np.float32), rng.normal(0.4, 1, size=50).astype(np.float32)
    x[:3] = y[:3] = 0.0  # a tie block of 6
    expected = mannwhitneyu(x, y, use_continuity=True)  # float32 samples: scipy computes in float32
    stat = np.array([[expected.statistic]], dtype=np.float64)
    got = float32_pvalues(stat, np.array([[6.0**3 - 6.0]]), n1=np.array([30]), n2=50)
    assert got[0, 0] == float(expected.pvalue)


def test_cell_eval_066_refuses_what_it_does_not_cover(tmp_path, capsys):
    argv = [
        "evaluate",
        "--real",
        str(DATA / "synthetic" / "real.h5ad"),
        "--pred",
        str(DATA / "synthetic" / "pred.h5ad"),
    ]
    argv += ["--out", str(tmp_path), "--reference", "cell-eval-0.6.6"]
    assert main([*argv, "--cpm-filter", "5"]) == 2
    assert "the cell-eval 0.6.6 conventions have no --cpm-filter or --epsilon" in capsys.readouterr().err
    assert main([*argv, "--epsilon", "0.5"]) == 2
    assert "the cell-eval 0.6.6 conventions have no --cpm-filter or --epsilon" in capsys.readouterr().err
    assert main([*argv, "--ceiling"]) == 2
    assert "scores a prediction in this process (no --ceiling" in capsys.readouterr().err
