"""The cell-level metrics: energy distances by hand and against scikit-learn, the clustering agreement's
properties. Agreement with cell-eval 0.8.2 on its fixtures: tests/evaluation/test_evaluate.py."""

import numpy as np
import pytest
import sklearn.metrics as skm
from scipy import sparse

from vcc_core.metrics import cells
from vcc_core.metrics.cells import clustering_agreement, energy_distances, pearson_edistance


def test_energy_distance_by_hand():
    # control at 0 and 2, the group at 1 and 5 (one feature): between = (1 + 1 + 5 + 3) / 4, within the group
    # (0 + 4 + 4 + 0) / 4, within control (0 + 2 + 2 + 0) / 4: E = 2 * 2.5 - 2 - 1 = 2
    x = np.array([[0.0], [2.0], [1.0], [5.0]])
    out = energy_distances(x, np.array([0, 0, 1, 1]), 3)
    assert out[1] == 2.0
    assert np.isnan(out[[0, 2]]).all()  # the control itself, a group without cells


def reference(x, codes, g):
    """cell-eval's formula, spelled with scikit-learn's pairwise distances (float32 in, float32 out)."""
    pert, ctrl = x[codes == g], x[codes == 0]
    return (
        2 * skm.pairwise_distances(pert, ctrl).mean()
        - skm.pairwise_distances(pert).mean()
        - (skm.pairwise_distances(ctrl).mean())
    )


@pytest.mark.parametrize("layout", ["csr", "dense"])
def test_energy_distances_equal_scikit_learn_in_float32(layout):
    rng = np.random.default_rng(0)
    x = np.log1p(rng.poisson(1.5, (230, 40)) * (rng.random((230, 40)) < 0.4)).astype(np.float32)
    codes = rng.integers(0, 4, 230)
    x = sparse.csr_matrix(x) if layout == "csr" else x
    out = energy_distances(x, codes, 4)
    for g in (1, 2, 3):
        assert out[g] == reference(x, codes, g)  # the same float32 rounding, bit for bit


def test_energy_distances_past_the_full_matrix_sum_in_float64(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 25)).astype(np.float32)
    codes = rng.integers(0, 3, 300)
    exact = energy_distances(x, codes, 3)
    monkeypatch.setattr(cells, "FULL_MATRIX", 100)
    monkeypatch.setattr(cells, "BLOCK_CELLS", 7)
    blocked = energy_distances(x, codes, 3)
    # Each of the three means may differ by a float32 rounding of the reference's own (about 7): a few ulps
    ulp = np.spacing(np.float32(skm.pairwise_distances(x[codes == 0]).mean()))
    np.testing.assert_allclose(blocked[1:], exact[1:], rtol=0, atol=8 * ulp)


def test_pearson_edistance_is_nan_for_a_constant_side():
    assert np.isnan(pearson_edistance(np.array([1.0, 2.0, 3.0]), np.full(3, 0.5)))
    assert pearson_edistance(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.5])) > 0.99


def test_clustering_agreement_reads_perturbations_in_sorted_order():
    rng = np.random.default_rng(2)
    centres = rng.normal(0, 3, (4, 30))
    means = np.repeat(centres, 6, axis=0) + rng.normal(0, 0.3, (24, 30))  # four families of six
    perts = np.array([f"p{i:02d}" for i in range(24)])
    assert clustering_agreement(perts, means, means) == pytest.approx(1.0)
    order = rng.permutation(24)
    shuffled = clustering_agreement(perts[order], means[order], means[order])
    assert shuffled == clustering_agreement(perts, means, means)
    noise = rng.normal(0, 3, means.shape)
    assert 0.0 <= clustering_agreement(perts, means, noise) < 0.5
    assert np.isnan(clustering_agreement(perts[:2], means[:2], means[:2]))  # no neighbour graph of 2 centroids
