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

from dataclasses import dataclass

import numba
import numpy as np
from numpy.polynomial.polynomial import polyval
from scipy import sparse

from vcc_core.compiled import parallel_kernel, threads
from vcc_core.data.normalize import as_csr
from vcc_core.data.pseudobulk import add_sparse_rows

TARGET = 5e4
CHUNK_CELLS = 2048
SERIES_LIMIT = 0.3  # largest share ratio L_i / (S - L_i) summed by series: 0.3^40 / 40 is far below rounding
SERIES_TERMS = 40


def lognorm_profiles(x, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups (sorted labels), their profiles ``b`` ``(groups, genes)`` and jackknife corrections ``C``.

    ``x``: raw counts, cells x genes (dense or sparse, read where it lies); ``labels``: one group label per cell.
    """
    labels = np.asarray(labels).astype(str)
    names = np.array(sorted(set(labels)))
    codes = np.searchsorted(names, labels)
    csr = as_csr(x)
    sums = np.zeros((names.size, csr.shape[1]))
    add_sparse_rows(csr, codes, sums)
    lib = np.asarray(csr.sum(axis=1, dtype=np.float64)).ravel()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(names.size + 1))
    correction = np.zeros(names.size)
    for k in range(names.size):
        rows = order[bounds[k] : bounds[k + 1]]
        noise = GroupNoise.of(sums[k], lib[rows])
        correction[k] = noise.correction(*noise.entry_sums(csr, rows, np.arange(rows.size)))
    return names.astype(object), profiles_of(sums), correction


def profiles_of(sums: np.ndarray) -> np.ndarray:
    """``(groups, genes)`` profiles ``b`` from the groups' summed counts (an empty group gives 0)."""
    b = np.zeros_like(sums)
    for k in range(sums.shape[0]):
        total = sums[k].sum()
        if total > 0:
            b[k] = np.log1p(sums[k] * TARGET / total)
    return b


@dataclass(frozen=True)
class GroupNoise:
    """The jackknife ``C_p`` of one group, summed from its cells in any number of parts.

    ``C_p`` comes from the per-gene sums of ``d_ig = v_ig - b_g`` and of ``d_ig^2`` (centring on the group's
    profile ``b_g`` keeps the spread free of cancellation). Where a cell has no count of gene ``g``,
    ``d_ig = log1p(e_i q_g)`` with ``e_i = L_i / (S - L_i)`` and ``q_g = c P_g / (1 + c P_g)`` (``c = 5e4 / S``),
    so those terms are summed over cells by the power series of ``log1p`` and ``log1p^2`` in ``e_i q_g`` (the
    moments of ``e`` once per group, not a log per cell and gene) in :meth:`correction`; :meth:`entry_sums`
    corrects the cells' nonzero entries one by one. A group where some cell holds a large share of the counts is
    summed directly (``direct``), cell by cell and gene by gene.

    Built by :meth:`of` from the group's per-gene sums ``P`` and its cells' totals ``L`` (in cell order).
    """

    sums: np.ndarray
    total: float
    lib: np.ndarray
    base: np.ndarray
    direct: bool

    @classmethod
    def of(cls, sums: np.ndarray, lib: np.ndarray) -> GroupNoise:
        total = float(sums.sum())
        if lib.size < 2:
            return cls(sums, total, lib, np.zeros_like(sums), False)
        rest = total - lib
        direct = bool(np.any(rest <= 0) or np.max(lib / rest) > SERIES_LIMIT)
        return cls(sums, total, lib, np.log1p(sums * TARGET / total), direct)

    @property
    def n(self) -> int:
        return self.lib.size

    def entry_sums(self, csr: sparse.csr_matrix, rows: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This part's per-gene sums: rows ``rows`` of ``csr`` are the group's cells ``cells`` (positions in the
        order of :meth:`of`'s totals). Zeros for a group of fewer than 2 cells."""
        genes = self.sums.size
        if self.n < 2 or rows.size == 0:
            return np.zeros(genes), np.zeros(genes)
        lib = self.lib[cells]
        rest = self.total - lib
        if self.direct:
            return _direct_sums(csr[rows], self.sums, rest, self.base)
        parts = np.zeros((2 * threads(), genes))
        eps = lib / rest
        _correct_nonzero(csr.indptr, csr.indices, csr.data, rows, self.sums, rest, self.base, eps, self._q(), parts)
        half = parts.shape[0] // 2
        return parts[:half].sum(axis=0), parts[half:].sum(axis=0)

    def correction(self, first: np.ndarray, second: np.ndarray) -> float:
        """``C_p`` from the sums of :meth:`entry_sums` over all the group's cells."""
        n = self.n
        if n < 2:
            return 0.0
        if not self.direct:
            eps = self.lib / (self.total - self.lib)
            k = np.arange(1, SERIES_TERMS + 1)
            moments = (eps[None, :] ** k[:, None]).sum(axis=1)  # (K,) sum_i e_i^k
            harmonic = np.concatenate([[0.0], np.cumsum(1.0 / k[:-1])])  # H_{k-1}
            sign = np.where(k % 2 == 1, 1.0, -1.0)
            log_coef = sign / k * moments  # log1p(z) = sum (-1)^(k+1) z^k / k
            square_coef = -sign * 2.0 * harmonic / k * moments  # log1p(z)^2 = sum 2 (-1)^k H_{k-1} z^k / k
            q = self._q()
            first = polyval(q, np.concatenate([[0.0], log_coef])) + first
            second = polyval(q, np.concatenate([[0.0], square_coef])) + second
        spread = second - first * first / n
        return max(0.0, (n - 1) / n * float(spread.sum()))

    def _q(self) -> np.ndarray:
        scale = TARGET / self.total
        return scale * self.sums / (1.0 + scale * self.sums)


def _direct_sums(rows, sums, rest, base) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.zeros(rows.shape[1]), np.zeros(rows.shape[1])
    for start in range(0, rows.shape[0], CHUNK_CELLS):
        y = rows[start : start + CHUNK_CELLS].toarray().astype(np.float64)
        r = rest[start : start + CHUNK_CELLS, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(r > 0, np.log1p(TARGET * (sums[None, :] - y) / r), 0.0) - base
        first += d.sum(axis=0)
        second += (d * d).sum(axis=0)
    return first, second


@parallel_kernel
def _correct_nonzero(indptr, indices, data, rows, sums, rest, base, eps, q, parts):
    """For every nonzero entry of the cells ``rows``, the entry's own term minus the zero-count term the series
    counted, summed per gene (rows ``:T`` of ``parts``) and squared (rows ``T:``), one pair of rows per thread.

    With ``a = 5e4 / rest``, the entry's term is ``zero + delta``, ``delta = log1p(-a x / (1 + a P))``: one log
    per entry; ``zero = log1p(e q)`` is summed by its series (``e q <= e``, below the series' limit).
    """
    n_threads = parts.shape[0] // 2
    chunk = (rows.size + n_threads - 1) // n_threads
    terms = _terms(eps.max() if eps.size else 0.0)
    for t in numba.prange(n_threads):
        for j in range(t * chunk, min(rows.size, (t + 1) * chunk)):
            i = rows[j]
            a = TARGET / rest[j]
            for e in range(indptr[i], indptr[i + 1]):
                g = indices[e]
                z = eps[j] * q[g]
                zero, power = 0.0, z
                for k in range(1, terms + 1):
                    zero += power / k if k % 2 == 1 else -power / k
                    power *= z
                delta = np.log1p(-a * data[e] / (1.0 + a * sums[g]))
                parts[t, g] += delta
                parts[n_threads + t, g] += delta * (2.0 * zero + delta)


@numba.njit(cache=True)
def _terms(largest: float) -> int:
    """Terms of the log1p series that reach rounding at ``|z| <= largest``."""
    k = 1
    while k < SERIES_TERMS and largest ** (k + 1) / (k + 1) > 1e-18:
        k += 1
    return k


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


def expr_mse_unbiased(
    b_pred: np.ndarray, b_real: np.ndarray, c_pred: np.ndarray, c_real: np.ndarray, *, target_cols: np.ndarray
) -> np.ndarray:
    """``(P,)`` ``(|b^_p - b_p|^2 - C^_p - C_p) / G_p`` (own target left out): the squared error between predicted
    and real profiles with both sides' sampling noise taken off, so a prediction is not rewarded for averaging
    more cells than the data has."""
    return (_plug_in(b_pred, b_real, target_cols) - c_pred - c_real) / _kept(b_pred, target_cols)


def expr_mse_unbiased_capped(
    b_pred: np.ndarray,
    b_real: np.ndarray,
    c_pred: np.ndarray,
    c_real: np.ndarray,
    *,
    target_cols: np.ndarray,
    rho: float,
) -> np.ndarray:
    """``(P,)`` ``(|b^_p - b_p|^2 - rho min(C^_p, C_p) - C_p) / G_p``: the predicted side's noise credit capped by
    ``rho`` (:func:`noise_budget`) and by the real side's own noise."""
    credit = rho * np.minimum(c_pred, c_real)
    return (_plug_in(b_pred, b_real, target_cols) - credit - c_real) / _kept(b_pred, target_cols)


def noise_budget(b_pred: np.ndarray, c_pred: np.ndarray, c_real: np.ndarray, *, target_cols: np.ndarray) -> float:
    """``rho = min(1, B / claim)``: how much of its noise credit a prediction may claim (1 when ``claim`` is 0).

    ``claim = sum_p w_p min(C^_p, C_p)`` with ``w_p = 1 / G_p``; the budget ``B = sum_g max(0, sum_p w_p
    (b^_pg - m_g)^2)`` is the weighted spread of the predicted profiles across perturbations (``m_g`` their
    ``w``-weighted mean), each row's own target gene left out, genes kept by fewer than two rows skipped. A
    prediction cannot claim more sampling noise than its profiles actually vary by.
    """
    w = 1.0 / _kept(b_pred, target_cols)
    claim = float(np.sum(w * np.minimum(c_pred, c_real)))
    if claim <= 0:
        return 1.0
    dev = b_pred - b_pred.mean(axis=0)  # shifted sums: profiles are large against their spread
    s1 = w @ dev
    s2 = w @ (dev * dev)
    wsum = np.full(b_pred.shape[1], w.sum())
    rows_kept = np.full(b_pred.shape[1], float(b_pred.shape[0]))
    for p in np.flatnonzero(target_cols >= 0):
        g = target_cols[p]
        s1[g] -= w[p] * dev[p, g]
        s2[g] -= w[p] * dev[p, g] ** 2
        wsum[g] -= w[p]
        rows_kept[g] -= 1
    ok = (rows_kept >= 2) & (wsum > 0)
    budget = float(np.maximum(s2[ok] - s1[ok] ** 2 / wsum[ok], 0.0).sum()) if ok.any() else 0.0
    return min(1.0, budget / claim)


def ratio_of_sums(numerator: np.ndarray, denominator: np.ndarray, *, strict: bool = True) -> float:
    """``sum num / sum den`` over the perturbations finite in both (``expr_mse_unbiased_capped_norm``).

    When the denominators sum to 0 or less (the real effects are not larger than their noise) it is undefined:
    ``ValueError`` if ``strict``, else NaN.
    """
    both = np.isfinite(numerator) & np.isfinite(denominator)
    total = float(denominator[both].sum())
    if not total > 0:
        if not strict:
            return np.nan
        msg = (
            f"the real effects' sizes (expr_distance_unbiased) sum to {total:.3g} over {int(both.sum())} "
            "perturbations: no larger than their noise, so the normalised expression error is undefined"
        )
        raise ValueError(msg)
    return float(numerator[both].sum()) / total


def pds_cosine(real_delta: np.ndarray, pred_delta: np.ndarray, *, exclude_cols: np.ndarray) -> np.ndarray:
    """``(P,)`` cosine perturbation discrimination: ``1 - k_p / (n - 1)``.

    ``D_pq = clip(1 - cos(d^_p, d_q), 0, 2)`` between predicted effect ``p`` and real effect ``q`` (both against
    the real control profile) over the genes other than ``exclude_cols`` (every target of the panel; a zero
    vector gives ``D = 1``); ``k_p`` counts the real effects closer than the true one, ties at half weight. 1: the
    prediction is closest to its own effect; 0: farthest. Scaling a prediction does not change it.
    """
    keep = np.ones(real_delta.shape[1], dtype=bool)
    keep[exclude_cols] = False
    r, q = real_delta[:, keep], pred_delta[:, keep]
    nr, nq = np.linalg.norm(r, axis=1), np.linalg.norm(q, axis=1)
    dot = q @ r.T
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where((nq[:, None] > 0) & (nr[None, :] > 0), 1.0 - dot / (nq[:, None] * nr[None, :]), 1.0)
    dist = np.clip(dist, 0.0, 2.0)
    n = r.shape[0]
    if n <= 1:
        return np.ones(n)
    own = np.diag(dist)[:, None]
    closer = (dist < own).sum(axis=1)
    tied = (dist == own).sum(axis=1) - 1
    return 1.0 - (closer + tied / 2.0) / (n - 1)


def _plug_in(b_pred: np.ndarray, b_real: np.ndarray, target_cols: np.ndarray) -> np.ndarray:
    sq = (b_pred - b_real) ** 2
    rows = np.flatnonzero(target_cols >= 0)
    total = sq.sum(axis=1)
    total[rows] -= sq[rows, target_cols[rows]]
    return total


def _kept(b: np.ndarray, target_cols: np.ndarray) -> np.ndarray:
    return b.shape[1] - (target_cols >= 0).astype(np.float64)
