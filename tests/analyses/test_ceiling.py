"""Split-half replicates: the halves, the replicate metrics, the gene report and the expression floors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vcc_core.analyses.ceiling import (
    ceiling,
    cpm_floor_des,
    floor_des,
    gene_calls,
    half_inputs,
    half_sides,
    keep_genes,
    seed_tables,
)
from vcc_core.data.dataset import open_dataset, split_perts
from vcc_core.evaluation.scoring import score_replicate_scaled
from vcc_core.evaluation.sides import real_cells
from vcc_core.keys import LEGACY
from vcc_core.metrics import VCC_METRICS, MetricInputs
from vcc_core.models.oracle import half_mask, half_split

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(tiny):
    return open_dataset(tiny)


@pytest.fixture(scope="module")
def cells(dataset):
    return real_cells(dataset, split_perts(dataset, "test"))


@pytest.fixture(scope="module")
def result(dataset):
    return ceiling(dataset, seeds=2)


def test_halves_are_disjoint_and_hold_half_of_every_group():
    labels = np.array(["non-targeting"] * 7 + ["A"] * 4 + ["B"] * 5 + [None])
    half = half_split(labels, control="non-targeting", seed=3)
    for group, n in (("non-targeting", 7), ("A", 4), ("B", 5)):
        rows = labels == group
        assert (half[rows] == 0).sum() == (half[rows] == 1).sum() == n // 2
    assert half[-1] == -1  # an unlabelled cell is in neither half
    np.testing.assert_array_equal(half_mask(labels, control="non-targeting", seed=3), half == 0)
    np.testing.assert_array_equal(half, half_split(labels, control="non-targeting", seed=3))
    assert not np.array_equal(half, half_split(labels, control="non-targeting", seed=4))


def test_half_inputs_score_half_b_against_half_a(cells, dataset):
    inputs = half_inputs(cells, seed=0, pert_col=dataset.pert_col, control=dataset.control)
    assert sorted(inputs.perts) == sorted(split_perts(dataset, "test"))
    assert inputs.has_de
    assert not np.array_equal(inputs.real_means, inputs.pred_means)


def test_replicate_metrics_are_in_range_and_deterministic(result, dataset):
    des = result.per_seed["overlap_at_N"]
    assert des.between(0, 1).all()
    assert result.per_seed["discrimination_score_l1"].between(0, 1).all()
    assert (result.per_seed["de_nsig_counts_real"] > 0).any()
    again = seed_tables.uncached(dataset, seed=1)["metrics"]
    pd.testing.assert_frame_equal(
        again, result.per_seed[result.per_seed["seed"] == 1].drop(columns="seed").reset_index(drop=True)
    )
    other = seed_tables.uncached(dataset, seed=7)["metrics"]
    assert not other["mae"].equals(again["mae"])


def test_replicate_values_are_the_mean_over_seeds_of_the_means_over_perturbations(result):
    r = result.replicate_values()
    by_seed = [result.per_seed.loc[result.per_seed["seed"] == s, "overlap_at_N"].mean() for s in (0, 1)]
    assert r["overlap_at_N"] == pytest.approx(np.mean(by_seed))
    assert result.n_seeds == 2


def test_replicate_values_feed_replicate_scaling(result):
    r = result.replicate_values()
    base = r * 0.5
    scores = score_replicate_scaled(r, base, r, metrics=VCC_METRICS)
    np.testing.assert_allclose(scores.to_numpy(), 1.0)
    scores = score_replicate_scaled(base, base, r, metrics=VCC_METRICS)
    np.testing.assert_allclose(scores.to_numpy(), 0.0)


def test_floor_zero_is_the_plain_ceiling_and_a_floor_above_every_gene_leaves_nothing(result):
    curve = result.floor_curve()
    assert curve.loc[0.0, "n_genes"] == 300
    assert curve.loc[0.0, "overlap_at_N"] == pytest.approx(result.replicate_values()["overlap_at_N"])
    assert curve["n_genes"].is_monotonic_decreasing


def test_cpm_floor_off_is_the_plain_ceiling_and_a_floor_removes_calls(result):
    curve = result.cpm_curve()
    assert list(curve.index) == [0.0, 1.0, 5.0, 10.0, 20.0, 50.0]
    assert curve.loc[0.0, "overlap_at_N"] == pytest.approx(result.replicate_values()["overlap_at_N"])
    assert curve.loc[0.0, "n_de"] == pytest.approx(result.replicate_values()["de_nsig_counts_real"])
    assert curve["n_de"].is_monotonic_decreasing  # a higher floor never adds a call


def test_under_the_066_conventions_the_cpm_curve_stays_cell_eval_08s(result, dataset):
    """cell-eval 0.6.6 had no CPM floor: the curve is 0.8.2's whatever the conventions, while the ceiling moves."""
    legacy = ceiling(dataset, seeds=2, conventions=LEGACY)
    pd.testing.assert_frame_equal(legacy.cpm_curve(), result.cpm_curve())
    assert legacy.replicate_values()["overlap_at_N"] != result.replicate_values()["overlap_at_N"]


def test_a_cpm_floor_above_every_gene_drops_every_call(cells, dataset):
    options = {"pert_col": dataset.pert_col, "control": dataset.control}
    halves, sides = half_sides(cells, seed=0, **options)
    table = cpm_floor_des(halves, sides, [0.0, 1e6], **options)
    assert table["n_de"].iloc[0] > 0
    assert table["n_de"].iloc[1] == 0  # no gene holds a million CPM on its own


def test_floor_above_every_gene(cells, dataset):
    inputs = half_inputs(cells, seed=0, pert_col=dataset.pert_col, control=dataset.control)
    control_mean = np.full(inputs.genes.size, 0.5)
    table = floor_des(inputs, control_mean, [0.5, 1.0])
    assert table["n_genes"].tolist() == [inputs.genes.size, 0]
    assert np.isnan(table["overlap_at_N"].iloc[1])
    assert table["n_de"].iloc[1] == 0


def test_gene_calls_by_hand():
    fdr_a = np.array([[0.01, 0.01, 0.5], [0.01, 0.5, 0.5]])
    fdr_b = np.array([[0.01, 0.5, 0.01], [0.5, 0.5, 0.5]])
    means = np.zeros((2, 3))
    inputs = MetricInputs(
        perts=np.array(["p", "q"]),
        genes=np.array(["g0", "g1", "g2"]),
        real_means=means,
        pred_means=means,
        real_control=np.zeros(3),
        pred_control=np.zeros(3),
        real_fdr=fdr_a,
        pred_fdr=fdr_b,
        real_lfc=means,
        pred_lfc=means,
    )
    table = gene_calls(inputs, np.array([1.0, 2.0, 3.0]))
    assert table["de_both"].tolist() == [1, 0, 0]
    assert table["de_one_half"].tolist() == [1, 1, 1]
    kept = keep_genes(inputs, np.array([False, True, True]))
    assert kept.genes.tolist() == ["g1", "g2"]
    np.testing.assert_array_equal(kept.pred_fdr, fdr_b[:, 1:])


def test_gene_report_sums_over_seeds(result):
    genes = result.genes
    total_calls = (genes["de_both"] * 2 + genes["de_one_half"]).sum()
    calls = result.per_seed[["de_nsig_counts_real", "de_nsig_counts_pred"]].to_numpy().sum()
    assert total_calls == calls
    share = result.one_half_share()["share_one_half"]
    assert share.between(0, 1).all()


def test_per_perturbation_joins_the_real_effects(result):
    table = result.per_perturbation()
    assert len(table) == 4
    assert (table["n_de_real"] >= 0).all()
    assert (table["effect_l2"] > 0).all()
    assert (table["overlap_at_N_std"] >= 0).all()


def test_no_seeds_is_refused(dataset):
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        ceiling(dataset, seeds=0)


def test_cli_writes_the_tables(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "vcc_core", "ceiling", "--data", "tiny", "--out", str(tmp_path), "--seeds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    r = pd.read_csv(tmp_path / "replicate_values.csv", index_col="metric")["replicate"]
    assert 0 <= r["overlap_at_N"] <= 1
    floors = pd.read_csv(tmp_path / "floors.csv", index_col="floor")
    assert floors.loc[0.0, "overlap_at_N"] == pytest.approx(r["overlap_at_N"])
    assert len(pd.read_csv(tmp_path / "per_seed.csv")) == 2 * 4
    assert {"control_mean", "de_both", "de_one_half"} <= set(pd.read_csv(tmp_path / "genes.csv").columns)
