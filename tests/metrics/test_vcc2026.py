"""VCC 2026 expression space: hand-computed corrections, and cell-eval2 0.20.0's real-only members on its fixtures."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tests.conftest import FIXTURES
from vcc_core.metrics import target_columns
from vcc_core.metrics.vcc2026 import TARGET, expr_distance_unbiased, expr_real_mass_ratio, lognorm_profiles

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
