"""VCC 2026 expression space: hand-computed corrections, and cell-eval2 0.20.0's real-only members on its fixtures."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tests.conftest import FIXTURES
from vcc_core.metrics import target_columns
from vcc_core.metrics.vcc2026 import (
    TARGET,
    expr_distance_unbiased,
    expr_mse_unbiased,
    expr_mse_unbiased_capped,
    expr_real_mass_ratio,
    lognorm_profiles,
    noise_budget,
    pds_cosine,
    ratio_of_sums,
)

CONTROL = "non-targeting"


def test_profiles_sum_then_log_and_the_correction_by_hand():
    x = np.array([[1.0, 3.0], [3.0, 1.0], [2.0, 2.0]])
    names, b, c = lognorm_profiles(x, ["a", "a", "b"])
    assert list(names) == ["a", "b"]
    np.testing.assert_allclose(b[0], np.log1p(np.array([4.0, 4.0]) * TARGET / 8.0))
    # Leaving out cell 0 leaves (3, 1), cell 1 leaves (1, 3): v = log1p(5e4 * (3, 1) / 4) and its mirror.
    hi, lo = np.log1p(TARGET * 3 / 4), np.log1p(TARGET * 1 / 4)
    spread = 2 * ((hi - lo) / 2) ** 2  # per gene, over the 2 cells
    assert c[0] == pytest.approx((2 - 1) / 2 * 2 * spread, rel=1e-12)
    assert c[1] == 0.0  # one cell: no correction


def test_sparse_and_dense_counts_agree():
    rng = np.random.default_rng(0)
    x = rng.poisson(2.0, size=(50, 20)).astype(np.float64)
    labels = rng.choice(["a", "b", CONTROL], size=50)
    dense = lognorm_profiles(x, labels)
    chunked = lognorm_profiles(sparse.csr_matrix(x), labels)
    for d, s in zip(dense[1:], chunked[1:], strict=True):
        np.testing.assert_allclose(d, s, rtol=1e-12)


@pytest.mark.reference
@pytest.mark.parametrize("case", ["papalexi", "synthetic"])
def test_real_only_members_equal_cell_eval2(case):
    folder = FIXTURES / "vcc2026" / case
    real = ad.read_h5ad(folder / "real.h5ad")
    names, b, c = lognorm_profiles(real.X, real.obs["target_gene"])
    is_control = names == CONTROL
    perts = names[~is_control]
    targets = target_columns(perts, real.var_names)
    ours = pd.DataFrame(
        {
            "expr_distance_unbiased": expr_distance_unbiased(
                b[~is_control], b[is_control][0], c[~is_control], c[is_control][0], target_cols=targets
            ),
            "expr_real_mass_ratio": expr_real_mass_ratio(b[~is_control]),
        },
        index=perts.astype(str),
    )
    reference = pd.read_csv(folder / "run" / "results.csv").pivot(
        index="perturbation", columns="metric", values="value"
    )
    for metric in ours.columns:
        np.testing.assert_allclose(
            ours[metric], reference.loc[ours.index, metric], rtol=1e-6, atol=1e-15
        )  # the bar: relative error <= 1e-6


def test_expression_errors_by_hand():
    b_real = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    b_pred = np.array([[1.5, 2.0, 2.0], [0.0, 0.0, 0.0]])
    c_real, c_pred = np.array([0.1, 0.2]), np.array([0.3, 0.05])
    targets = np.array([2, -1])  # row 0 targets gene 2 (left out), row 1 targets no measured gene
    mse = expr_mse_unbiased(b_pred, b_real, c_pred, c_real, target_cols=targets)
    np.testing.assert_allclose(mse, [(0.25 - 0.3 - 0.1) / 2, (1.0 - 0.05 - 0.2) / 3])
    capped = expr_mse_unbiased_capped(b_pred, b_real, c_pred, c_real, target_cols=targets, rho=0.5)
    np.testing.assert_allclose(capped, [(0.25 - 0.5 * 0.1 - 0.1) / 2, (1.0 - 0.5 * 0.05 - 0.2) / 3])


def test_noise_budget_by_hand():
    b_pred = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    c = np.array([3.0, 3.0, 3.0])
    targets = np.array([-1, -1, -1])  # w = 1/2 for every row
    # gene 0: weighted mean 2, sum w (x - 2)^2 = (4 + 0 + 4) / 2 = 4; gene 1 is constant: 0. claim = 3 * 3 / 2.
    assert noise_budget(b_pred, c, c, target_cols=targets) == pytest.approx(4 / 4.5)
    assert noise_budget(b_pred, c / 100, c, target_cols=targets) == 1.0  # the budget covers the claim
    assert noise_budget(b_pred, np.zeros(3), c, target_cols=targets) == 1.0  # nothing claimed
    # Row 0 targets gene 0, so its G is 1 (w = 1) and gene 0 keeps rows 1 and 2 (w = 1/2 each, mean 3):
    # B = (1 + 1) / 2 = 1; the claim is 3 * (1 + 1/2 + 1/2) = 6.
    own = np.array([0, -1, -1])
    w = np.array([1.0, 1 / 2, 1 / 2])
    assert noise_budget(b_pred, c, c, target_cols=own) == pytest.approx((1 / 2 + 1 / 2) / (3 * w).sum())


def test_ratio_of_sums():
    assert ratio_of_sums(np.array([1.0, np.nan, 2.0]), np.array([2.0, 5.0, 4.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no larger than their noise"):
        ratio_of_sums(np.array([1.0]), np.array([-1.0]))
    assert np.isnan(ratio_of_sums(np.array([1.0]), np.array([0.0]), strict=False))


def test_pds_cosine_by_hand():
    real = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 5.0]])
    pred = np.array([[1.0, 0.1, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    scores = pds_cosine(real, pred, exclude_cols=np.array([2]))  # gene 2 (a panel target) is left out
    # Row 0 is closest to its own effect. Row 1 points at effect 0: distances 0 (effect 0), 1 (its own) and
    # 1 - 1/sqrt 2 (effect 2, (1, 1) once gene 2 is out): 2 closer, PDS 0. Row 2 is a zero vector: every
    # distance is 1, its own ties with both others, k = 1: PDS 0.5.
    np.testing.assert_allclose(scores, [1.0, 0.0, 0.5])


def test_pds_cosine_does_not_see_the_output_scale():
    rng = np.random.default_rng(0)
    real, pred = rng.normal(size=(6, 30)), rng.normal(size=(6, 30))
    base = pds_cosine(real, pred, exclude_cols=np.array([0, 1]))
    for scale in (0.1, 3.0, 50.0):
        np.testing.assert_array_equal(pds_cosine(real, scale * pred, exclude_cols=np.array([0, 1])), base)
    assert (pds_cosine(real, real, exclude_cols=np.array([0, 1])) == 1.0).all()  # perfect: the best value


def test_jackknife_equals_its_definition_for_every_group_size():
    """Groups of 2 to 60 cells (summed directly, or by the series where no cell holds a large share)."""
    rng = np.random.default_rng(4)
    sizes = {"two": 2, "three": 3, "small": 6, "mid": 25, "big": 60}
    labels = np.repeat(list(sizes), list(sizes.values()))
    x = rng.negative_binomial(2, 0.3, size=(labels.size, 40)).astype(np.float64) * (rng.random((labels.size, 40)) < 0.4)
    x[labels == "three", :] = 0
    x[np.flatnonzero(labels == "three")[0], :3] = 5  # one cell holds every count of its group
    names, _, c = lognorm_profiles(sparse.csr_matrix(x), labels)
    for name, value in zip(names, c, strict=True):
        y = x[labels == name]
        n, sums = y.shape[0], y.sum(axis=0)
        rest = sums.sum() - y.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(rest > 0, np.log1p(TARGET * (sums - y) / rest), 0.0)
        expected = max(0.0, (n - 1) / n * ((v - v.mean(axis=0)) ** 2).sum())
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), name
