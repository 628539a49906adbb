"""The DE members of the VCC 2026 metric set, per perturbation, on the gated genes of :mod:`vcc_core.de.cpm`.

As cell-eval2 0.20.0 computes them (``../shared/VCC2026_METRICS.md`` section 4; ``metrics/de.py``,
``metrics/direction.py``). Every function takes ``(P, K)`` arrays of the real and the predicted DE (same
perturbations, same genes) and a mask ``own`` of the entries to leave out (a perturbation's own target gene).
``R`` is the real significant set (``p_adj < 0.05``), ``P^`` the predicted one. A gene is *adjudicable* when its
real log2 fold change is finite and not 0; a predicted gene *matches* when it is adjudicable and its predicted
fold change is finite, not 0 and of the same sign.
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.05
MIN_GATE = 10
REACH_PURITY = 0.9


def sig_jaccard(real_sig: np.ndarray, pred_sig: np.ndarray, *, own: np.ndarray) -> np.ndarray:
    """``(P,)`` ``|R & P^| / |R | P^|``, 1 when both sets are empty: do the two calls pick the same genes?"""
    real_sig, pred_sig = real_sig & ~own, pred_sig & ~own
    union = (real_sig | pred_sig).sum(axis=1)
    both = (real_sig & pred_sig).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, both / union, 1.0)


def lfc_nmae(real_sig: np.ndarray, real_lfc: np.ndarray, pred_lfc: np.ndarray, *, own: np.ndarray) -> np.ndarray:
    """``(P,)`` ``mean_S |lfc^ - lfc| / mean_S |lfc|`` over ``S`` = real significant genes with a finite fold change.

    NaN (no value: cell-eval2 writes no row) when ``|S| < 10`` or the real fold changes there are all 0; a
    predicted fold change that is not finite counts as 0. 0 is perfect; 1 is as far off as predicting no change.
    """
    gate = real_sig & ~own & np.isfinite(real_lfc)
    pred = np.where(np.isfinite(pred_lfc), pred_lfc, 0.0)
    real = np.where(gate, real_lfc, 0.0)
    size = np.abs(real).sum(axis=1)
    error = np.where(gate, np.abs(pred - real), 0.0).sum(axis=1)
    n = gate.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n >= MIN_GATE) & (size > 0), error / size, np.nan)


def direction_fidelity_yield(
    real_sig: np.ndarray, pred_sig: np.ndarray, real_lfc: np.ndarray, pred_lfc: np.ndarray, *, own: np.ndarray
) -> np.ndarray:
    """``(P,)`` ``k / max(n_pred, n_conf)``: ``n_conf = |R|``, ``n_pred`` the predicted significant genes that are
    adjudicable, ``k`` those of them that match in sign. NaN when both counts are 0. A prediction scores high only
    by calling as many genes as the data does and getting their directions right."""
    adjudicable = _adjudicable(real_lfc)
    called = pred_sig & adjudicable & ~own
    k = (called & _matches(real_lfc, pred_lfc)).sum(axis=1)
    bound = np.maximum(called.sum(axis=1), (real_sig & ~own).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bound > 0, k / bound, np.nan)


def direction_reach(
    real_sig: np.ndarray,
    pred_sig: np.ndarray,
    pred_p_adj: np.ndarray,
    pred_pvalue: np.ndarray,
    real_lfc: np.ndarray,
    pred_lfc: np.ndarray,
    *,
    own: np.ndarray,
    names: np.ndarray,
) -> np.ndarray:
    """``(P,)`` ``k* / |R|``: how deep into its ranking of the real DE genes a prediction keeps 90% of the
    directions right. NaN when ``R`` is empty.

    The real significant genes are ranked by the prediction (its significant ones first, then ascending adjusted
    p-value, ascending p-value, descending ``|lfc^|``, gene name); walking down, ``n_denom`` counts adjudicable
    genes and ``n_match`` matches; ``k*`` is the largest ``n_denom`` with ``n_match / n_denom >= 0.9`` (0 if none).
    """
    out = np.full(real_sig.shape[0], np.nan)
    for p in range(real_sig.shape[0]):
        pool = real_sig[p] & ~own[p]
        if pool.any():
            _, depth, hits = purity_curve(
                pool, pred_sig[p], pred_p_adj[p], pred_pvalue[p], real_lfc[p], pred_lfc[p], names
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                pure = (depth > 0) & (hits / depth >= REACH_PURITY)
            out[p] = (depth[pure].max() if pure.any() else 0) / pool.sum()
    return out


def purity_curve(pool, pred_sig, pred_p_adj, pred_pvalue, real_lfc, pred_lfc, names):
    """One perturbation's walk of :func:`direction_reach`: the genes of ``pool`` (a mask) in the prediction's
    order, and after each one the adjudicable genes seen (``depth``) and those matching in sign (``hits``)."""
    genes = np.flatnonzero(pool)
    order = genes[_ranking(pred_sig[genes], pred_p_adj[genes], pred_pvalue[genes], pred_lfc[genes], names[genes])]
    depth = np.cumsum(_adjudicable(real_lfc[order]))
    hits = np.cumsum(_matches(real_lfc[order], pred_lfc[order]))
    return order, depth, hits


def _ranking(sig, p_adj, pvalue, lfc, names) -> np.ndarray:
    """Positions in the order of :func:`direction_reach` (a missing p-value sorts last, a missing |lfc| too)."""
    size = np.abs(lfc)
    keys = (
        names.astype(str),
        np.where(np.isnan(size), np.inf, -size),
        np.isnan(size),
        np.where(np.isnan(pvalue), np.inf, pvalue),
        np.isnan(pvalue),
        np.where(np.isnan(p_adj), np.inf, p_adj),
        np.isnan(p_adj),
        ~sig,
    )
    return np.lexsort(keys)


def _adjudicable(real_lfc: np.ndarray) -> np.ndarray:
    return np.isfinite(real_lfc) & (real_lfc != 0)


def _matches(real_lfc: np.ndarray, pred_lfc: np.ndarray) -> np.ndarray:
    finite = _adjudicable(real_lfc) & np.isfinite(pred_lfc) & (pred_lfc != 0)
    return finite & (np.sign(pred_lfc) == np.sign(real_lfc))
