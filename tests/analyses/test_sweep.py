"""Scale sweep: agreement with the metrics at s = 1, the analytic limits, invariances and the MAE optimum."""

import numpy as np
import pytest

from vcc_core.analyses.sweep import mae_optimal_scale, pds_limits, scale_grid, scale_sweep
from vcc_core.metrics import target_columns
from vcc_core.metrics.discrimination import discrimination_score
from vcc_core.metrics.pairwise import mean_absolute_error, pearson


@pytest.fixture(scope="module")
def arrays():
    """12 perturbations x 50 genes; predictions = real signal + noise; genes g0..g11 are the targets."""
    rng = np.random.default_rng(3)
    n, g = 12, 50
    real = rng.normal(0, 0.3, (n, g))
    real[np.arange(n), np.arange(n)] -= 2.0  # knockdown of each target
    pred = 0.5 * real + rng.normal(0, 0.2, (n, g))
    genes = np.array([f"g{i}" for i in range(g)])
    perts = genes[:n]
    return real, pred, target_columns(perts, genes), perts


def _sweep(arrays, scales):
    real, pred, t, perts = arrays
    return scale_sweep(real, pred, target_cols=t, scales=scales, perts=perts)


def test_grid_is_log_spaced_and_holds_one():
    grid = scale_grid(lo=0.05, hi=100, n=25)
    assert grid[0] == pytest.approx(0.05)
    assert grid[-1] == pytest.approx(100)
    assert 1.0 in grid
    assert np.all(np.diff(grid) > 0)
    with pytest.raises(ValueError, match="0 < lo < 1 < hi"):
        scale_grid(lo=2, hi=10)


def test_values_at_one_equal_the_registered_metrics(arrays):
    real, pred, t, _ = arrays
    sweep = _sweep(arrays, scale_grid())
    i = int(np.flatnonzero(sweep.scales == 1.0)[0])
    for metric in ("l1", "l2", "cosine"):
        expected = discrimination_score(real, pred, target_cols=t, metric=metric)
        np.testing.assert_array_equal(sweep.values[f"discrimination_score_{metric}"][i], expected)
    np.testing.assert_allclose(sweep.values["mae"][i], mean_absolute_error(pred, real))
    np.testing.assert_allclose(sweep.values["pearson_delta"][i], pearson(pred, real))


def test_scaled_values_equal_metrics_of_the_scaled_prediction(arrays):
    real, pred, t, _ = arrays
    sweep = _sweep(arrays, np.array([0.1, 7.0]))
    for i, s in enumerate(sweep.scales):
        for metric in ("l1", "l2"):
            expected = discrimination_score(real, s * pred, target_cols=t, metric=metric)
            np.testing.assert_array_equal(sweep.values[f"discrimination_score_{metric}"][i], expected)


def test_direction_metrics_do_not_change_with_scale(arrays):
    real, pred, t, _ = arrays
    sweep = _sweep(arrays, scale_grid())
    for name in ("discrimination_score_cosine", "discrimination_score_sign_cosine", "pearson_delta"):
        assert np.all(sweep.values[name] == sweep.values[name][0])
    # and truly: the registered cosine PDS of a rescaled prediction is the same
    far = discrimination_score(real, 50 * pred, target_cols=t, metric="cosine")
    np.testing.assert_array_equal(far, sweep.values["discrimination_score_cosine"][0])


def test_limits_are_reached_at_extreme_scales(arrays):
    real, pred, t, _ = arrays
    limits = pds_limits(real, pred, target_cols=t).set_index(["metric", "limit"])["values"]
    sweep = _sweep(arrays, np.array([1e-9, 1e7]))
    for metric in ("l1", "l2"):
        name = f"discrimination_score_{metric}"
        np.testing.assert_array_equal(sweep.values[name][0], limits[(name, "zero")])
        np.testing.assert_array_equal(sweep.values[name][1], limits[(name, "infinity")])


def test_zero_prediction_ranks_by_effect_size_and_favours_the_truth(arrays):
    """s -> 0: distances are ||r_i|| without p's target; the truth loses its own knockdown, so it ranks high.

    Without target genes the ranks form a permutation and the mean is exactly (N + 1) / (2N).
    """
    real, pred, t, _ = arrays
    n = real.shape[0]
    no_target = np.full(n, -1)
    zero = pds_limits(real, pred, target_cols=no_target).set_index(["metric", "limit"])["values"]
    assert np.mean(zero[("discrimination_score_l1", "zero")]) == pytest.approx((n + 1) / (2 * n))
    with_target = pds_limits(real, pred, target_cols=t).set_index(["metric", "limit"])["value"]
    assert with_target[("discrimination_score_l1", "zero")] > (n + 1) / (2 * n)


def test_l1_infinity_limit_is_the_sign_projection(arrays):
    real, pred, t, _ = arrays
    n = real.shape[0]
    limit = pds_limits(real, pred, target_cols=t).set_index(["metric", "limit"])["values"]
    # oracle loop: rank real deltas by -<sign(d_p), r_i> over genes other than p's target
    expected = np.empty(n)
    for p in range(n):
        keep = np.arange(real.shape[1]) != t[p]
        key = -(real[:, keep] @ np.sign(pred[p, keep]))
        expected[p] = 1 - (key < key[p]).sum() / n
    np.testing.assert_array_equal(limit[("discrimination_score_l1", "infinity")], expected)


def test_mae_is_minimised_at_a_finite_scale(arrays):
    real, pred, _, _ = arrays
    best = mae_optimal_scale(real, pred)
    assert 0 < best < 10
    grid = np.linspace(0.01, 5, 500)
    mae = _sweep(arrays, grid).values["mae"].mean(axis=1)
    at_best = _sweep(arrays, np.array([best])).values["mae"].mean()
    assert at_best <= mae.min() + 1e-12
    assert mae[-1] > mae.min()
    assert mae[0] > mae.min()


def test_mae_on_means_uses_the_predicted_control():
    real_means = np.array([[1.0, 2.0]])
    control = np.array([0.5, 1.0])
    sweep = scale_sweep(
        real_means - control,
        np.array([[0.5, 1.0]]),
        target_cols=np.array([-1]),
        scales=np.array([1.0, 2.0]),
        real_means=real_means,
        pred_control=control,
    )
    np.testing.assert_allclose(sweep.values["mae"][:, 0], [0.0, 0.75])


def test_bad_input_is_refused(arrays):
    real, pred, t, _ = arrays
    with pytest.raises(ValueError, match="positive"):
        scale_sweep(real, pred, target_cols=t, scales=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="must match"):
        scale_sweep(real, pred[:, :-1], target_cols=t, scales=np.array([1.0]))
