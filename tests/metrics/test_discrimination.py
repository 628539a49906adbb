"""PDS: hand-computed ranks (target gene left out, ties), a loop over scikit-learn as oracle, our variants; every
test on both paths of the distances (torch, and the CPU-only one that leaves torch unimported)."""

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from vcc_core.metrics import discrimination
from vcc_core.metrics.discrimination import (
    discrimination_score,
    distance_matrix,
    expressed_score,
    norm_matched_score,
    sign_cosine_score,
    truth_ranks,
)

# genes A, B, X; perturbations A, B, C (C targets no measured gene)
TARGETS = np.array([0, 1, -1])
REAL = np.array([[5.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 3.0]])
PRED = np.array([[0.0, 1.0, 0.2], [0.0, 2.0, 1.0], [1.0, 0.0, 0.0]])


@pytest.fixture(autouse=True, params=["torch", "cpu-only"])
def distance_path(request, monkeypatch):
    """Which path ``distance_matrix`` takes: the one for a machine that may hold a GPU, or the CPU-only one."""
    monkeypatch.setattr(discrimination, "gpu_possible", lambda: request.param == "torch")
    return request.param


def test_l1_by_hand():
    # A over genes B, X: distances 0.2, 0.8, 3.8 -> rank 0 (over all genes: 5.2, 0.8, 4.8 -> rank 2).
    # B over genes A, X: 6, 0, 3 -> rank 0. C over all genes: 5, 3, 3 -> tied with real B; argsort puts B first.
    np.testing.assert_allclose(discrimination_score(REAL, PRED, target_cols=TARGETS), [1.0, 1.0, 2 / 3])
    kept = discrimination_score(REAL, PRED, target_cols=np.array([-1, -1, -1]))
    assert kept[0] == pytest.approx(1 / 3)


def test_l2_and_cosine_by_hand():
    # squared L2: A 0.04, 0.64, 8.84 -> 0; B 26, 0, 5 -> 0; C 17, 3, 9 -> rank 1
    np.testing.assert_allclose(discrimination_score(REAL, PRED, target_cols=TARGETS, metric="l2"), [1, 1, 2 / 3])
    # cosine distance: A 0.019, 0.168, 0.804 -> 0; B 1, 0, 0.051 -> 0; C 0.019, 1, 0.684 -> rank 1
    np.testing.assert_allclose(discrimination_score(REAL, PRED, target_cols=TARGETS, metric="cosine"), [1, 1, 2 / 3])


def test_variants_by_hand():
    # signs: A over genes B, X is (1, 1): real A (1, 0) and real C (0, 1) tie at 1 - 1/sqrt(2), real B is closer;
    # C (1, 0, 0) ties with real A; both ties resolve by position (argsort of 3 values is stable)
    np.testing.assert_allclose(sign_cosine_score(REAL, PRED, target_cols=TARGETS), [2 / 3, 1, 2 / 3])
    # C's prediction is scaled to |real C|_1 = 4: (4, 0, 0) is at L1 distance 2, 6, 6 -> tie with real B, rank 2
    np.testing.assert_allclose(norm_matched_score(REAL, PRED, target_cols=TARGETS), [1, 1, 1 / 3])
    # gene A below the floor: B is judged on gene X alone (1 vs 0, 1, 3), C on B, X: (0, 0) vs norms 1, 2, 3
    control = np.array([0.05, 1.0, 1.0])
    np.testing.assert_allclose(expressed_score(REAL, PRED, control, target_cols=TARGETS), [1, 1, 1 / 3])


@pytest.mark.parametrize("metric", ["l1", "l2", "cosine"])
def test_matches_a_loop_over_scikit_learn(metric):
    rng = np.random.default_rng(1)
    real, pred = rng.normal(size=(20, 40)), rng.normal(size=(20, 40))
    pred[:10] += real[:10]  # half carry signal
    targets = rng.integers(-1, 40, 20)
    expected = []
    for p in range(20):
        keep = np.arange(40) != targets[p]
        d = pairwise_distances(real[:, keep], pred[p, keep][None], metric=metric).ravel()
        expected.append(1 - np.flatnonzero(np.argsort(d) == p)[0] / 20)
    np.testing.assert_allclose(discrimination_score(real, pred, target_cols=targets, metric=metric), expected)


def test_distance_matrix_leaves_each_target_out():
    d = distance_matrix(REAL, PRED, target_cols=TARGETS, metric="l2")
    assert d[1, 0] == pytest.approx(0.8)  # real B vs pred A over genes B, X: (0, 0.8)
    cos = distance_matrix(REAL, np.zeros_like(PRED), target_cols=TARGETS, metric="cosine")
    np.testing.assert_array_equal(cos, 1.0)  # a zero vector has similarity 0 with everything


def test_ties_follow_numpy_argsort():
    dist = np.array([[1.0, 3.0], [1.0, 2.0]])  # column 0: both real rows at distance 1
    assert truth_ranks(dist).tolist() == [np.flatnonzero(np.argsort(dist[:, 0]) == 0)[0], 0]


def test_sign_cosine_ignores_magnitudes():
    rng = np.random.default_rng(2)
    real, pred = rng.normal(size=(8, 30)), rng.normal(size=(8, 30))
    stretched = pred * rng.uniform(0.1, 10, pred.shape)
    targets = np.full(8, -1)
    np.testing.assert_array_equal(
        sign_cosine_score(real, pred, target_cols=targets), sign_cosine_score(real, stretched, target_cols=targets)
    )


def test_norm_matched_ignores_each_rows_scale():
    rng = np.random.default_rng(3)
    real, pred = rng.normal(size=(8, 30)), rng.normal(size=(8, 30))
    scaled = pred * rng.uniform(0.01, 100, (8, 1))
    targets = rng.integers(0, 30, 8)
    a = norm_matched_score(real, pred, target_cols=targets)
    np.testing.assert_allclose(a, norm_matched_score(real, scaled, target_cols=targets))
    assert norm_matched_score(real, np.zeros_like(pred), target_cols=targets).shape == (8,)


def test_expressed_equals_pds_on_the_kept_genes():
    rng = np.random.default_rng(4)
    real, pred = rng.normal(size=(6, 12)), rng.normal(size=(6, 12))
    control = np.linspace(0, 1, 12)  # genes 0, 1 are below 0.1
    targets = np.array([0, 1, 5, 11, -1, 3])
    expected = discrimination_score(real[:, 2:], pred[:, 2:], target_cols=np.array([-1, -1, 3, 9, -1, 1]))
    np.testing.assert_array_equal(expressed_score(real, pred, control, target_cols=targets), expected)


def test_rejects_unknown_distance_and_bad_shapes():
    with pytest.raises(ValueError, match="unknown distance"):
        distance_matrix(REAL, PRED, target_cols=TARGETS, metric="l3")
    with pytest.raises(ValueError, match="one target per row"):
        discrimination_score(REAL, PRED, target_cols=TARGETS[:2])


@pytest.mark.parametrize("metric", ["l1", "l2", "cosine"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_two_paths_agree(metric, dtype, monkeypatch):
    rng = np.random.default_rng(3)
    real, pred = rng.normal(size=(30, 500)).astype(dtype), rng.normal(size=(30, 500)).astype(dtype)
    targets = rng.integers(-1, 500, 30)
    paths = {}
    for gpu in (True, False):
        monkeypatch.setattr(discrimination, "gpu_possible", lambda gpu=gpu: gpu)
        paths[gpu] = distance_matrix(real, pred, target_cols=targets, metric=metric)
    assert paths[True].dtype == paths[False].dtype
    np.testing.assert_allclose(paths[False], paths[True], rtol=1e-6 if dtype == np.float32 else 1e-12)
