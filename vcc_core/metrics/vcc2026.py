"""VCC 2026 expression space and its real-only members, as cell-eval2 0.20.0 ``--preset vcc2026`` computes them.

The first part of the VCC 2026 metric set (``../shared/VCC2026_METRICS.md`` sections 2 and 4; cell-eval2
``prep.py::bulk_lognorm_means``, ``moments.py::jackknife_correction``, ``metrics/delta.py``). Not yet wired into
``evaluate``: the pred-side members, the DE space and the scores follow.

- Expression profile of a group: its raw counts summed per gene (float64), normalised to :data:`TARGET` and
  log1p'd once: ``b_pg = log1p(P_pg * 5e4 / sum_g P_pg)`` (an empty group gives 0).
- Jackknife correction ``C_p``: with ``v_ig = log1p(5e4 (P_pg - y_ig) / (S_p - L_i))`` the profile without cell
  ``i`` (0 when that leaves nothing), ``C_p = max(0, (n - 1) / n * sum_g sum_i (v_ig - mean_i v_ig)^2)``; 0 for
  fewer than 2 cells. It estimates the sampling noise that a squared distance between profiles carries.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

TARGET = 5e4
CHUNK_CELLS = 2048


def lognorm_profiles(x, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups (sorted labels), their profiles ``b`` ``(groups, genes)`` and jackknife corrections ``C``.

    ``x``: raw counts, cells x genes (dense or sparse); ``labels``: one group label per cell.
    """
    labels = np.asarray(labels).astype(str)
    names = np.array(sorted(set(labels)), dtype=object)
    csr = sparse.csr_matrix(x, dtype=np.float64) if not sparse.issparse(x) else x.tocsr().astype(np.float64)
    b = np.zeros((names.size, csr.shape[1]))
    correction = np.zeros(names.size)
    for k, name in enumerate(names):
        rows = csr[np.flatnonzero(labels == name)]
        sums = np.asarray(rows.sum(axis=0)).ravel()
        total = sums.sum()
        if total > 0:
            b[k] = np.log1p(sums * TARGET / total)
        correction[k] = _jackknife(rows, sums, total)
    return names, b, correction


def _jackknife(rows: sparse.csr_matrix, sums: np.ndarray, total: float) -> float:
    """``C_p`` of one group, summed over chunks of cells (sum of v and of v^2 per gene)."""
    n = rows.shape[0]
    if n < 2:
        return 0.0
    first, second = np.zeros(rows.shape[1]), np.zeros(rows.shape[1])
    for start in range(0, n, CHUNK_CELLS):
        y = rows[start : start + CHUNK_CELLS].toarray()
        rest = total - y.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(rest > 0, np.log1p(TARGET * (sums[None, :] - y) / rest), 0.0)
        first += v.sum(axis=0)
        second += (v * v).sum(axis=0)
    spread = second - first * first / n
    return max(0.0, (n - 1) / n * float(spread.sum()))


def expr_distance_unbiased(
    b_pert: np.ndarray, b_control: np.ndarray, c_pert: np.ndarray, c_control: float, *, target_cols: np.ndarray
) -> np.ndarray:
    """``(P,)`` ``(|b_p - b_ctrl|^2 - C_p - C_ctrl) / G_p`` over the genes other than each row's own target
    (``target_cols[p]``, -1: none; ``G_p`` the genes kept): the real effect's size, noise removed."""
    sq = (b_pert - b_control[None, :]) ** 2
    has = target_cols >= 0
    rows = np.flatnonzero(has)
    own = np.zeros(b_pert.shape[0])
    own[rows] = sq[rows, target_cols[rows]]
    kept = b_pert.shape[1] - has.astype(np.float64)
    return (sq.sum(axis=1) - own - c_pert - c_control) / kept


def expr_real_mass_ratio(b_pert: np.ndarray) -> np.ndarray:
    """``(P,)`` ``sum_g expm1(b_pg) / 5e4``: the share of the normalised total a profile holds (1 unless rounding)."""
    return np.expm1(b_pert).sum(axis=1) / TARGET
