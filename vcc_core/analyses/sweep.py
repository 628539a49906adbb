"""Metrics as a function of an output scale: prediction = control + s * predicted delta.

For every ``s`` of a grid, at once: L1 / L2 / cosine PDS, sign-cosine PDS, MAE and Pearson delta, per
perturbation, on pseudobulk predictions (the metric definitions of :mod:`vcc_core.metrics`). What the curves show:

- cosine and sign-cosine PDS and Pearson delta do not depend on ``s > 0`` (they see only directions);
- MAE is convex and piecewise linear in ``s``: its minimiser is the ``|d|``-weighted median of ``r / d`` over all
  (perturbation, gene) pairs (``d`` predicted, ``r`` real delta), computed exactly by :func:`mae_optimal_scale`;
- L1 / L2 PDS move between two limits that are computed exactly (:func:`pds_limits`):

  * ``s -> 0``: every prediction is the control, so the distance from ``p``'s prediction to real delta ``i`` is
    ``||r_i||`` (target gene of ``p`` left out). Distances do *not* tie: the true perturbation is ranked by the size
    of its own real effect, small effects scoring high. Without the target exclusion the ranks are a permutation
    of ``0..N-1`` and the mean is exactly ``(N + 1) / (2N)``. With it the mean is *higher*: column ``p`` drops the
    target gene from every real delta, which removes the truth's own knockdown but only a bystander gene from
    the others (tiny preset, N = 4: 0.75 instead of 0.625; small preset, N = 20: 0.56 instead of 0.525). Only at
    exactly ``s = 0`` does the cosine PDS tie everywhere (a zero vector has similarity 0 with all), and then the
    rank is ``np.argsort``'s placement of ties.
  * ``s -> inf`` (L1): for ``s > max_g |r_ig / d_pg|``, ``|s d_pg - r_ig| = s |d_pg| - sign(d_pg) r_ig`` exactly, so
    the ranking of column ``p`` is by ``sum_{g: d_pg != 0} -sign(d_pg) r_ig + sum_{g: d_pg = 0} |r_ig|``: the real
    deltas projected on the *sign* of the prediction. (L2: by ``-<d_p, r_i>``, ties broken by ``||r_i||``.)

Ranks use :func:`vcc_core.metrics.discrimination.truth_ranks` (cell-eval's ``argsort`` tie handling), so the value
at ``s = 1`` equals ``discrimination_score`` on the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vcc_core.evaluation.loop import compute_metrics
from vcc_core.metrics import MetricInputs
from vcc_core.metrics.discrimination import discrimination_score, scaled_distances, truth_ranks

PDS_METRICS = ("discrimination_score_l1", "discrimination_score_l2", "discrimination_score_cosine")
DIRECTION_METRICS = ("discrimination_score_cosine", "discrimination_score_sign_cosine", "pearson_delta")
"""Metrics that see only the directions of the deltas: the same at every scale ``s > 0``."""
SWEEP_METRICS = (*PDS_METRICS, "discrimination_score_sign_cosine", "mae", "pearson_delta")
CHUNK_ENTRIES = 1 << 24  # (scales x perturbations x genes) entries held at once: 128 MiB of float64


def scale_grid(*, lo: float = 0.05, hi: float = 100.0, n: int = 25) -> np.ndarray:
    """``n`` log-spaced scales from ``lo`` to ``hi``, with ``s = 1`` (the prediction as given) always included."""
    if not 0 < lo < 1 < hi or n < 2:
        msg = f"need 0 < lo < 1 < hi and n >= 2; got lo={lo}, hi={hi}, n={n}"
        raise ValueError(msg)
    return np.unique(np.concatenate([np.geomspace(lo, hi, n), [1.0]]))


def coarse_grid(scales: np.ndarray, *, n: int = 7) -> np.ndarray:
    """About ``n`` scales spread evenly (in log) over ``scales``, taken from it, with ``s = 1`` kept when present.

    For the metrics that need a Wilcoxon DE per scale (DES), which are too slow for the full grid.
    """
    scales = np.asarray(scales, np.float64)
    picks = scales[np.unique(np.linspace(0, scales.size - 1, n).round().astype(int))]
    return np.unique(np.concatenate([picks, scales[scales == 1.0]]))


#: The dashboard's grid: 25 log-spaced scales from 0.05 to 100 (with 1), and the 7 of them where DES is computed.
SCALES = scale_grid(lo=0.05, hi=100.0, n=25)
DES_SCALES = coarse_grid(SCALES, n=7)


@dataclass(frozen=True)
class Sweep:
    """Per-perturbation metrics along a scale grid.

    Attributes
    ----------
    scales
        ``(S,)`` scale factors, increasing.
    perts
        ``(P,)`` perturbation names.
    values
        metric name -> ``(S, P)`` values.
    """

    scales: np.ndarray
    perts: np.ndarray
    values: dict[str, np.ndarray]

    def curves(self) -> pd.DataFrame:
        """Mean over perturbations: index ``scale``, one column per metric."""
        means = {name: np.nanmean(v, axis=1) for name, v in self.values.items()}
        return pd.DataFrame(means, index=pd.Index(self.scales, name="scale"))

    def at(self, i: int) -> pd.DataFrame:
        """Per-perturbation values at ``scales[i]``: index ``perturbation``, one column per metric."""
        frame = pd.DataFrame({name: v[i] for name, v in self.values.items()}, index=self.perts.astype(str))
        return frame.rename_axis("perturbation")


def scale_sweep(
    real_delta: np.ndarray,
    pred_delta: np.ndarray,
    *,
    target_cols: np.ndarray,
    scales: np.ndarray,
    real_means: np.ndarray | None = None,
    pred_control: np.ndarray | None = None,
    perts=None,
) -> Sweep:
    """Metrics of ``pred_control + s * pred_delta`` against the real data, for every ``s`` in ``scales``.

    Parameters
    ----------
    real_delta, pred_delta
        ``(P, G)`` real and predicted deltas from their own controls, rows aligned.
    target_cols
        ``(P,)`` target gene column of each row (-1: none), left out of the PDS distances.
    scales
        ``(S,)`` positive scale factors.
    real_means, pred_control
        ``(P, G)`` real means and ``(G,)`` predicted control for MAE (on means, as cell-eval); without them MAE is
        computed on deltas (equal when the predicted control is the real one).
    perts
        ``(P,)`` row names (default ``"0"``, ``"1"``, ...).

    Returns
    -------
    Sweep
        ``values`` holds every name of :data:`SWEEP_METRICS`.
    """
    real, pred = np.asarray(real_delta, np.float64), np.asarray(pred_delta, np.float64)
    scales = np.asarray(scales, np.float64)
    if real.shape != pred.shape or real.shape[0] != len(target_cols):
        msg = f"real {real.shape} and pred {pred.shape} deltas must match, one target per row"
        raise ValueError(msg)
    if scales.ndim != 1 or (scales <= 0).any():
        msg = "scales must be a 1-D array of positive numbers"
        raise ValueError(msg)
    n_s, n_p = scales.size, real.shape[0]
    offset = real if real_means is None else np.asarray(real_means, np.float64) - np.asarray(pred_control)[None, :]
    values = {"mae": _mae(pred, offset, scales)}
    for metric in ("l1", "l2"):
        dist = scaled_distances(real, pred, target_cols=target_cols, scales=scales, metric=metric, chunk=CHUNK_ENTRIES)
        values[f"discrimination_score_{metric}"] = np.stack([1.0 - truth_ranks(d) / n_p for d in dist])
    names = np.arange(n_p).astype(str) if perts is None else np.asarray(perts).astype(str)
    # Direction-only metrics do not change with s > 0: computed once by the metric loop, repeated along the grid.
    zero = np.zeros(real.shape[1])
    deltas = MetricInputs(names, np.arange(real.shape[1]).astype(str), real, pred, zero, zero, targets=target_cols)
    flat = compute_metrics(deltas, list(DIRECTION_METRICS), sort=False)
    for name in DIRECTION_METRICS:
        values[name] = np.broadcast_to(flat[name].to_numpy(np.float64, na_value=np.nan), (n_s, n_p)).copy()
    return Sweep(scales, names, values)


def _mae(pred: np.ndarray, offset: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """``(S, P)``: ``mean_g |s d_pg - offset_pg|``, in chunks of scales to bound memory."""
    step = max(1, CHUNK_ENTRIES // pred.size)
    parts = [
        np.abs(scales[i : i + step, None, None] * pred[None] - offset[None]).mean(axis=2)
        for i in range(0, scales.size, step)
    ]
    return np.concatenate(parts)


def pds_limits(real_delta: np.ndarray, pred_delta: np.ndarray, *, target_cols: np.ndarray) -> pd.DataFrame:
    """Per-perturbation PDS in the limits ``s -> 0`` and ``s -> inf`` (L1, L2) and the constant cosine PDS.

    Returns a frame with columns ``metric``, ``limit`` (``"zero"``, ``"infinity"``, ``"any"``) and ``value`` (the
    mean over perturbations), plus ``values`` (the per-perturbation array) for tests and tables.
    """
    real, pred = np.asarray(real_delta, np.float64), np.asarray(pred_delta, np.float64)
    n = real.shape[0]
    t = np.asarray(target_cols)
    keep = np.ones(real.shape, dtype=bool)  # keep[p, g]: gene g counts for column p
    rows = np.flatnonzero(t >= 0)
    keep[rows, t[rows]] = False
    zero = np.zeros_like(pred)
    sign = np.sign(pred) * keep
    # L1 key of real i for column p: -<sign(d_p), r_i> + sum over genes where d_p = 0 of |r_i|.
    l1_key = -(real @ sign.T) + np.abs(real) @ ((pred == 0) & keep).T.astype(np.float64)
    # L2: ||s d - r||^2 = s^2 ||d||^2 - 2 s <d, r> + ||r||^2, so -<d_p, r_i> ranks and ||r_i||^2 breaks its ties.
    dot = real @ (pred * keep).T
    rows_out = [
        ("discrimination_score_l1", "zero", discrimination_score(real, zero, target_cols=t, metric="l1")),
        ("discrimination_score_l2", "zero", discrimination_score(real, zero, target_cols=t, metric="l2")),
        ("discrimination_score_l1", "infinity", 1.0 - truth_ranks(l1_key) / n),
        ("discrimination_score_l2", "infinity", 1.0 - _lexi_ranks(-dot, (real * real) @ keep.T) / n),
        ("discrimination_score_cosine", "any", discrimination_score(real, pred, target_cols=t, metric="cosine")),
    ]
    return pd.DataFrame(
        {
            "metric": [m for m, _, _ in rows_out],
            "limit": [lim for _, lim, _ in rows_out],
            "value": [float(np.mean(v)) for _, _, v in rows_out],
            "values": [v for _, _, v in rows_out],
        }
    )


def _lexi_ranks(key: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """``(N,)`` rank of entry ``(p, p)`` in column ``p`` ordered by ``key`` then ``tiebreak`` (strictly smaller)."""
    k, b = np.diagonal(key)[None, :], np.diagonal(tiebreak)[None, :]
    return ((key < k) | ((key == k) & (tiebreak < b))).sum(axis=0)


def mae_optimal_scale(real_delta: np.ndarray, pred_delta: np.ndarray) -> float:
    """The ``s`` minimising mean ``|s d - r|`` over all entries: the ``|d|``-weighted median of ``r / d``.

    ``sum |s d - r| = sum |d| |s - r / d|`` (plus terms with ``d = 0`` that do not depend on ``s``), a weighted
    absolute deviation whose minimiser is a weighted median. Returns 0 when ``pred_delta`` is all zero.
    """
    d, r = np.asarray(pred_delta, np.float64).ravel(), np.asarray(real_delta, np.float64).ravel()
    nz = d != 0
    if not nz.any():
        return 0.0
    ratio, weight = r[nz] / d[nz], np.abs(d[nz])
    order = np.argsort(ratio)
    cum = np.cumsum(weight[order])
    return float(ratio[order][np.searchsorted(cum, cum[-1] / 2)])
