"""Exact negative-binomial draws for sparse count matrices, fast where most entries are zero."""

from __future__ import annotations

import numba
import numpy as np
from scipy import sparse


def negative_binomial_csr(rng: np.random.Generator, mean: np.ndarray, size: np.ndarray) -> sparse.csr_matrix:
    """Exact negative-binomial draws (``mean`` per entry, ``size`` per column) as a float32 CSR matrix.

    Most entries of a cell x gene matrix have a small mean and are zero. Each entry gets one uniform
    ``u``; it is zero when ``u < P(0)``, the rest walk up the probability mass function (inverse CDF),
    so only the non-zero entries cost more than a few arithmetic operations. Entries with a large mean
    (few, long walks) are drawn as gamma-Poisson mixtures instead.
    """
    n, g = mean.shape
    u = rng.random(mean.shape, dtype=np.float32)
    size32 = size.astype(np.float32)
    odds = mean + size32
    np.divide(mean, odds, out=odds)
    p0 = np.negative(odds)  # P(0) = exp(size log1p(-odds)), computed in place, as the same operations
    np.log1p(p0, out=p0)
    np.multiply(size32, p0, out=p0)
    np.exp(p0, out=p0)
    big = mean > _WALK_MAX_MEAN
    rows, cols = np.nonzero((u >= p0) | big)
    values = np.zeros(rows.size, np.float32)
    on_big = big[rows, cols]
    br, bc = rows[on_big], cols[on_big]
    values[on_big] = rng.poisson(rng.gamma(size[bc], mean[br, bc] / size[bc]))
    walk = np.flatnonzero(~on_big)
    wr, wc = rows[walk], cols[walk]
    values[walk] = _walk_pmf(u[wr, wc], odds[wr, wc], size[wc])
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    out = sparse.csr_matrix((values, cols.astype(np.int32), indptr), shape=(n, g))
    out.eliminate_zeros()
    return out


_WALK_MAX_MEAN = 4.0


def _walk_pmf(u, odds, size) -> np.ndarray:
    """Smallest ``k`` with ``u < CDF(k)`` of NB(size, odds), for entries already known to exceed ``P(0)``.

    ``P(0)`` is recomputed in float64 so the walked probabilities sum to 1 within float64 rounding,
    far above any float32 ``u`` (< 1 - 2**-24): every walk ends within the distribution's tail.
    """
    odds = odds.astype(np.float64)
    return _walk(u.astype(np.float64), odds, np.asarray(size, np.float64), np.exp(size * np.log1p(-odds)))


@numba.njit(cache=True)
def _walk(u, odds, size, pmf0):
    """The walk of :func:`_walk_pmf`, entry by entry: the same float64 operations in the same order as the array
    form it replaced (each step ``pmf *= (k + size) / (k + 1) * odds``), so the same draws, without arrays of
    every still-walking entry copied at each step."""
    out = np.zeros(u.size, np.float32)
    for i in range(u.size):
        pmf = pmf0[i]
        cdf = pmf
        k = 0
        while True:
            pmf *= (k + size[i]) / (k + 1) * odds[i]
            cdf += pmf
            k += 1
            if u[i] < cdf or pmf == 0:
                break
        out[i] = k
    return out
