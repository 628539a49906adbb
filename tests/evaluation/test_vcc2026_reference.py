"""VCC 2026 evaluation and scores against cell-eval2 0.20.0 (pdex 0.3.0) on its stored runs (tests/fixtures/vcc2026).

Four cases: the Papalexi subset, two synthetic shapes (one with barely expressed genes the CPM gate drops) and a
control-paste prediction (PDS distances that tie, a noise budget that binds). Every value is compared per
perturbation at relative error <= 1e-6, the issue's bar; the DE tables entry by entry.
"""

from functools import cache

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from tests.conftest import FIXTURES, ROUNDED_ELSEWHERE
from vcc_core.de.cpm import gated_de
from vcc_core.evaluation import scoring2026
from vcc_core.evaluation.vcc2026 import aggregate_2026, evaluate_vcc2026, results_long, score_sides, sides
from vcc_core.metrics import target_columns
from vcc_core.metrics.vcc2026 import noise_budget

pytestmark = pytest.mark.reference
CASES = ["papalexi", "synthetic", "shape2", "paste"]
RTOL = 1e-6
CONTROL = "non-targeting"


@cache
def pair(case: str) -> tuple[ad.AnnData, ad.AnnData]:
    folder = FIXTURES / "vcc2026" / case
    return ad.read_h5ad(folder / "real.h5ad"), ad.read_h5ad(folder / "pred.h5ad")


@cache
def evaluation(case: str):
    return evaluate_vcc2026(*pair(case))


def reference(case: str, name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "vcc2026" / case / "run" / name)


def assert_close(ours, theirs, what: str) -> None:
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN in different places")
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=1e-14, err_msg=what)


@pytest.mark.parametrize("case", CASES)
def test_every_metric_per_perturbation(case):
    ours = results_long(evaluation(case))
    theirs = reference(case, "results.csv")
    key = ["metric", "perturbation"]
    merged = theirs.merge(ours, on=key, how="outer", suffixes=("_ref", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", key]  # same rows written
    for metric, rows in merged.groupby("metric"):
        assert_close(rows["value"], rows["value_ref"], metric)


@pytest.mark.parametrize("case", CASES)
def test_aggregate_table(case):
    ours = aggregate_2026(evaluation(case))
    theirs = reference(case, "agg_results.csv").set_index("statistic")
    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.index) == list(theirs.index)
    for column in ours.columns:
        assert_close(ours[column], theirs[column], column)


@ROUNDED_ELSEWHERE
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("side", ["real", "pred"])
def test_de_tables(case, side):
    real, pred = pair(case)
    labels = real.obs["target_gene"].astype(str).to_numpy()
    if side == "real":
        x, y = real.X, labels
    else:
        pred_labels = pred.obs["target_gene"].astype(str).to_numpy()
        keep = pred_labels != CONTROL
        x = ad.concat([pred[keep], real[labels == CONTROL]]).X
        y = np.concatenate([pred_labels[keep], labels[labels == CONTROL]])
    de = gated_de(x, y)
    genes = np.asarray(real.var_names)[de.genes]
    ours = pd.DataFrame(
        {
            "target": np.repeat(de.perts, genes.size),
            "feature": np.tile(genes, de.perts.size),
            "log2_fold_change": de.lfc.ravel(),
            "p_value": de.pvalue.ravel(),
            "p_adj": de.p_adj.ravel(),
        }
    )
    theirs = pd.read_parquet(FIXTURES / "vcc2026" / case / "run" / f"de_{side}.parquet")
    merged = theirs.merge(ours, on=["target", "feature"], how="outer", suffixes=("_ref", ""), indicator=True)
    assert (merged["_merge"] == "both").all()  # the same genes pass the gate
    for column in ("log2_fold_change", "p_value", "p_adj"):
        assert_close(merged[column], merged[f"{column}_ref"], column)


def test_the_gate_drops_the_barely_expressed_genes():
    real, _ = pair("shape2")
    de = gated_de(real.X, real.obs["target_gene"])
    dropped = set(np.asarray(real.var_names)) - set(np.asarray(real.var_names)[de.genes])
    assert {f"LOW{i}" for i in range(80)} <= dropped


def test_paste_case_ties_and_binds():
    real, pred = pair("paste")
    real_side, pred_side = sides(real, pred)
    perts = np.array([g for g in real_side.groups if g != CONTROL])
    targets = target_columns(perts, real.var_names)
    rows_real, rows_pred = real_side.rows(perts), pred_side.rows(perts)
    rho = noise_budget(pred_side.b[rows_pred], pred_side.c[rows_pred], real_side.c[rows_real], target_cols=targets)
    assert rho < 1  # the budget binds
    pds = score_sides(real_side, pred_side, genes=real.var_names).results["pds_cosine"]
    copies = perts[: perts.size // 2]
    np.testing.assert_allclose(pds[copies], 0.5)  # a zero effect ties with every real effect: midrank


@pytest.mark.parametrize("case", CASES)
def test_baseline_scores(case):
    real, _ = pair(case)
    baseline = scoring2026.generic_baseline(real)
    ours = aggregate_2026(evaluate_vcc2026(real, baseline, fractional_pred=True))
    theirs = pd.read_csv(FIXTURES / "vcc2026" / case / "baseline" / "baseline_agg.csv", index_col=0)
    for column in ours.columns:
        assert_close(ours[column], theirs[column], column)


@pytest.mark.parametrize("case", CASES)
def test_anchor_ceiling_and_lfc_reference(case):
    real, _ = pair(case)
    anchor = scoring2026.replicate_anchor(real)
    splits = pd.read_parquet(FIXTURES / "vcc2026" / case / "run" / "anchor_splits.parquet")
    splits = splits.pivot(index="seed", columns="metric", values="value")
    for metric in anchor.columns:
        assert_close(anchor[metric], splits.loc[anchor.index, metric], metric)
    replicate = pd.read_parquet(FIXTURES / "vcc2026" / case / "run" / "anchor_agg.parquet").set_index("metric")
    assert_close(scoring2026.replicate_of(anchor)[replicate.index], replicate["replicate"], "replicate")
    per_pert, ceiling = scoring2026.data_ceiling(real)
    theirs = reference(case, "ceiling_results.csv").set_index("perturbation")["value"]
    assert_close(per_pert[theirs.index], theirs, "ceiling per perturbation")
    assert ceiling == pytest.approx(reference(case, "ceiling_agg.csv").set_index("metric").loc["pds_cosine"].ceiling)
    ref = scoring2026.lfc_nmae_reference(real)
    theirs = reference(case, "lfc_nmae_ref.csv").set_index("perturbation")
    assert sorted(ref.index) == sorted(theirs.index)
    for column in theirs.columns:
        assert_close(ref.loc[theirs.index, column], theirs[column], column)


@pytest.mark.parametrize("case", [c for c in CASES if (FIXTURES / "vcc2026" / c / "score.csv").exists()])
def test_scores(case):
    folder = FIXTURES / "vcc2026" / case
    user = pd.read_csv(folder / "run" / "agg_results.csv", index_col=0).loc["mean"]
    baseline = pd.read_csv(folder / "baseline" / "baseline_agg.csv", index_col=0).loc["mean"]
    replicate = pd.read_parquet(folder / "run" / "anchor_agg.parquet").set_index("metric")["replicate"]
    ref = pd.read_csv(folder / "run" / "lfc_nmae_ref_agg.csv").iloc[0]["nmae_ref_raw"]
    ours = scoring2026.score_2026(user, baseline, replicate, lfc_nmae_ref=ref)
    theirs = pd.read_csv(folder / "score.csv", index_col=0)
    for column in ("from_baseline", "from_replicate", "from_reference"):
        assert_close(ours.loc[theirs.index, column], theirs[column], column)
