"""VCC 2026 evaluation: properties that must hold, the input contract, contexts and the command line.

Agreement with cell-eval2 on stored runs: ``test_vcc2026_reference.py``.
"""

import subprocess
import sys
from functools import cache
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tests.conftest import FIXTURES
from vcc_core.evaluation import scoring2026
from vcc_core.evaluation.contexts import MEAN_ROW, context_means, evaluate_contexts
from vcc_core.evaluation.counts_pair import read_counts_file
from vcc_core.evaluation.vcc2026 import aggregate_2026, evaluate_vcc2026

ROOT = Path(__file__).resolve().parents[2]
CASE = FIXTURES / "vcc2026" / "synthetic"
CONTROL = "non-targeting"


@cache
def real() -> ad.AnnData:
    return ad.read_h5ad(CASE / "real.h5ad")


def test_a_perfect_prediction_scores_best():
    data = real()
    results = evaluate_vcc2026(data, data.copy()).results
    assert (results["pds_cosine"] == 1).all()
    assert (results["de_wilcoxon_sig_jaccard"] == 1).all()
    assert (results["de_wilcoxon_lfc_nmae"].dropna() == 0).all()
    for name in ("de_wilcoxon_direction_fidelity_yield_raw", "de_wilcoxon_direction_reach_raw"):
        assert (results[name].dropna() == 1).all()
    other = evaluate_vcc2026(data, ad.read_h5ad(CASE / "pred.h5ad")).results
    assert (results["expr_mse_unbiased"] < other["expr_mse_unbiased"]).all()  # lower is better


def test_pds_cosine_does_not_change_with_output_scale():
    data = real()
    pred = ad.read_h5ad(CASE / "pred.h5ad")
    base = evaluate_vcc2026(data, pred).results["pds_cosine"]
    scaled = pred.copy()
    scaled.X = sparse.csr_matrix(pred.X) * 3  # every predicted cell three times deeper: the same profiles
    np.testing.assert_array_equal(evaluate_vcc2026(data, scaled).results["pds_cosine"], base)


def test_the_replicate_scores_one_and_the_baseline_zero():
    baseline = pd.Series({name: 0.2 for name in scoring2026.SCORED})
    baseline[scoring2026.DERIVED] = baseline[scoring2026.LFC_NMAE] = 2.0
    replicate = pd.Series({name: 0.8 for name in scoring2026.SCORED})
    replicate[scoring2026.DERIVED] = replicate[scoring2026.LFC_NMAE] = 0.5
    at_replicate = scoring2026.score_2026(replicate, baseline, replicate)
    np.testing.assert_allclose(at_replicate["from_replicate"], 1.0)
    np.testing.assert_allclose(scoring2026.score_2026(baseline, baseline, replicate)["from_replicate"], 0.0)
    missing = scoring2026.score_2026(pd.Series(dtype=float), baseline, replicate)["from_replicate"]
    assert missing[scoring2026.LFC_NMAE] == -6.0  # the floor
    assert missing[scoring2026.DERIVED] == 0.0
    assert missing["pds_cosine"] == pytest.approx(-0.2 / 0.6)  # as if 0
    with pytest.raises(ValueError, match="pds_cosine: the replicate"):
        scoring2026.score_2026(replicate, replicate, baseline)


def test_halves_are_disjoint_and_balanced():
    data = real()
    a, b = scoring2026.disjoint_halves(data, seed=3)
    assert not set(a.obs_names) & set(b.obs_names)
    pd.testing.assert_series_equal(
        a.obs["target_gene"].value_counts().sort_index(), b.obs["target_gene"].value_counts().sort_index()
    )


def test_the_baseline_is_shaped_like_the_data_and_predicts_one_response():
    data = real()
    baseline = scoring2026.generic_baseline(data)
    assert baseline.shape == data.shape
    assert (baseline.obs["target_gene"] == data.obs["target_gene"]).all()
    control = (data.obs["target_gene"] == CONTROL).to_numpy()
    np.testing.assert_array_equal(baseline.X[control].toarray(), data.X[control].toarray())
    pds = evaluate_vcc2026(data, baseline, fractional_pred=True).results["pds_cosine"]
    assert pds.mean() < 0.9  # one response for all cannot tell perturbations apart well


def bad(**changes) -> tuple[ad.AnnData, ad.AnnData]:
    data = real().copy()
    pred = ad.read_h5ad(CASE / "pred.h5ad")
    for side, change in changes.items():
        target = data if side == "real" else pred
        new = change(target.copy())
        if side == "real":
            data = new
        else:
            pred = new
    return data, pred


def scaled_x(factor):
    def change(adata):
        adata.X = sparse.csr_matrix(adata.X) * factor
        return adata

    return change


def set_x_value(value):
    def change(adata):
        x = adata.X.toarray()
        x[0, 0] = value
        adata.X = sparse.csr_matrix(x)
        return adata

    return change


def relabel(old, new):
    def change(adata):
        labels = adata.obs["target_gene"].astype(str)
        adata.obs["target_gene"] = labels.where(labels != old, new)
        return adata

    return change


BAD = {
    "fractional": ({"pred": scaled_x(0.5)}, "predictions: X holds fractional values"),
    "negative": ({"real": set_x_value(-1.0)}, "real data: X holds negative values"),
    "nan": ({"pred": set_x_value(np.nan)}, "predictions: X holds NaN or infinite values"),
    "too deep": ({"real": set_x_value(2e6)}, "above the limit of 1,000,000 per cell"),
    "genes": ({"pred": lambda a: a[:, ::-1].copy()}, "are not the real data's (300) in the same order"),
    "labels": ({"pred": relabel("G00170", "NEWGENE")}, "label(s) found only on this side"),
    "no control": ({"pred": relabel(CONTROL, "G00170")}, "predictions: no cell is labelled 'non-targeting'"),
    "column": ({}, "real data: obs has no column 'target_gene'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_inputs_outside_the_contract_are_refused(case):
    changes, message = BAD[case]
    real_data, pred = bad(**changes)
    if case == "column":
        real_data.obs = real_data.obs[[]]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate_vcc2026(real_data, pred)


def test_labels_that_name_no_gene_are_refused():
    data, pred = real(), ad.read_h5ad(CASE / "pred.h5ad")
    data = data.copy()
    data.var_names = [f"x{i}" for i in range(data.n_vars)]
    pred.var_names = data.var_names
    with pytest.raises(ValueError, match="no perturbation label names a gene of the panel"):
        evaluate_vcc2026(data, pred)


def test_contexts_are_scored_apart_and_averaged():
    data, pred = real(), ad.read_h5ad(CASE / "pred.h5ad")
    both_real = ad.concat({"K562": data, "HepG2": data}, label="cell_line", index_unique="-")
    both_pred = ad.concat({"K562": pred, "HepG2": pred}, label="cell_line", index_unique="-")
    evaluations = evaluate_contexts(both_real, both_pred, context_col="cell_line")
    assert list(evaluations) == ["HepG2", "K562"]
    single = aggregate_2026(evaluate_vcc2026(data, pred)).loc["mean"]
    table = context_means(evaluations)
    for row in ("HepG2", "K562", MEAN_ROW):
        pd.testing.assert_series_equal(table.loc[row], single, check_names=False)
    with pytest.raises(ValueError, match="no context column 'donor'"):
        evaluate_contexts(both_real, both_pred, context_col="donor")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcc_core", *args], cwd=ROOT, capture_output=True, text=True)


def test_command_line_writes_cell_eval2_layout(tmp_path):
    out = tmp_path / "run"
    done = cli("evaluate", "--profile", "vcc2026", "--real", str(CASE / "real.h5ad"), "--pred",
               str(CASE / "pred.h5ad"), "--out", str(out), "--ceiling", "--lfc-nmae-ref")  # fmt: skip
    assert done.returncode == 0, done.stderr
    ours = pd.read_csv(out / "agg_results.csv", index_col=0)
    theirs = pd.read_csv(CASE / "run" / "agg_results.csv", index_col=0)
    pd.testing.assert_frame_equal(ours, theirs, rtol=1e-6)
    assert pd.read_csv(out / "ceiling_agg.csv", index_col=0).loc["pds_cosine", "ceiling"] == pytest.approx(
        pd.read_csv(CASE / "run" / "ceiling_agg.csv", index_col=0).loc["pds_cosine", "ceiling"]
    )
    assert "pds_cosine\t" in done.stdout


def test_command_line_refuses_in_one_line(tmp_path):
    done = cli("evaluate", "--profile", "vcc2026", "--real", str(CASE / "real.h5ad"), "--pred",
               str(CASE / "real.h5ad"), "--out", str(tmp_path), "--scheduler", "dask")  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --profile vcc2026 runs in this process or streamed (--scheduler stream), not on Dask"
    ]
    done = cli("evaluate", "--real", str(CASE / "real.h5ad"), "--pred", str(CASE / "pred.h5ad"), "--out",
               str(tmp_path), "--anchor")  # fmt: skip
    assert done.returncode == 2
    assert "--anchor go(es) with --profile vcc2026" in done.stderr


def test_files_are_read_with_clear_messages(tmp_path):
    (tmp_path / "broken.h5ad").write_text("not an h5ad file")
    for path, message in ((tmp_path / "missing.h5ad", "file not found"), (tmp_path / "broken.h5ad", "not an .h5ad")):
        done = cli("evaluate", "--profile", "vcc2026", "--real", str(path), "--pred", str(CASE / "pred.h5ad"),
                   "--out", str(tmp_path / "out"))  # fmt: skip
        assert done.returncode == 2
        assert done.stderr.startswith("error: ")
        assert message in done.stderr
    read = read_counts_file(CASE / "real.h5ad")
    whole = ad.read_h5ad(CASE / "real.h5ad")
    assert (read.X != whole.X).nnz == 0
    pd.testing.assert_frame_equal(read.obs, whole.obs)
