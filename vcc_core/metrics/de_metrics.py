"""Agreement between the predicted and the real differential expression of each perturbation.

Inputs are ``(P, G)`` arrays from the Wilcoxon DE of each side (:mod:`vcc_core.de.wilcoxon`): FDR and log2 fold change.
Following cell-eval 0.8.2 (``metrics/_de.py``, ``_types/_de.py``), which casts its DE tables to float32 before
using them, FDRs and fold changes are compared in float32: a gene is significant when ``float32(fdr) < alpha``
(NaN never is), and genes are ranked by ``float32(|log2FC|)``, largest first (NaN before infinity, as polars
sorts), ties kept in gene order (polars' ordinal rank). A perturbation without real DE genes has *no* value
(a masked entry, cell-eval's ``null``) for direction match, LFC Spearman and recall, and NaN for the AUCs.
"""

from __future__ import annotations

import numpy as np

from vcc_core.keys import CURRENT, LEGACY

ALPHA = 0.05


def significant(fdr: np.ndarray, *, alpha: float = ALPHA) -> np.ndarray:
    """``(P, G)`` bool: ``float32(fdr) < float32(alpha)``."""
    return np.asarray(fdr, dtype=np.float32) < np.float32(alpha)


def significance_ranks(fdr: np.ndarray, lfc: np.ndarray, *, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Significant mask and each gene's 0-based rank among its row's significant genes by ``|log2FC|`` (desc).

    Non-significant genes rank after all significant ones.
    """
    sig = significant(fdr, alpha=alpha)
    # The bits of a non-negative float32 order like its value, with NaN above infinity: one stable integer sort
    # then gives polars' order (largest first, NaN first, ties in gene order).
    bits = np.abs(np.asarray(lfc, dtype=np.float32)).view(np.int32).astype(np.int64)
    order = np.argsort(np.where(sig, -bits, 1 << 32), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(order.shape[1]), order.shape), axis=1)
    return sig, ranks


def overlap_score(
    real_fdr, pred_fdr, real_lfc, pred_lfc, *, k: int | None = None, metric: str = "overlap", alpha: float = ALPHA
) -> np.ndarray:
    """Share of the top-``k`` significant genes (by ``|log2FC|``) that real and predicted DE have in common.

    ``overlap`` (recall-like, DES for ``k=None``): ``k_p = min(k, n_real)`` (``n_real`` when ``k`` is None),
    score ``|top_k_p(real) ∩ top_k_p(pred)| / k_p``. ``precision``: the same with ``k_p = min(k, n_pred)``.
    Direction is ignored; ``k_p = 0`` scores 0.
    """
    sig_r, rank_r = significance_ranks(real_fdr, real_lfc, alpha=alpha)
    sig_p, rank_p = significance_ranks(pred_fdr, pred_lfc, alpha=alpha)
    if metric not in ("overlap", "precision"):
        msg = f"metric must be 'overlap' or 'precision', got {metric!r}"
        raise ValueError(msg)
    n = (sig_r if metric == "overlap" else sig_p).sum(axis=1)
    k_eff = n if not k else np.minimum(k, n)
    top_r, top_p = sig_r & (rank_r < k_eff[:, None]), sig_p & (rank_p < k_eff[:, None])
    hits = (top_r & top_p).sum(axis=1)
    return np.divide(hits, k_eff, out=np.zeros(n.size), where=k_eff > 0)


def expressed_overlap(real_fdr, pred_fdr, real_lfc, pred_lfc, real_control, *, min_control_mean: float = 0.1):
    """DES (``overlap_at_N``) over genes whose real control mean (log1p) exceeds ``min_control_mean`` (ours)."""
    keep = np.asarray(real_control) > min_control_mean
    return overlap_score(real_fdr[:, keep], pred_fdr[:, keep], real_lfc[:, keep], pred_lfc[:, keep])


def nsig_counts(real_fdr, pred_fdr, *, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """Number of significant genes per perturbation on each side (columns ``de_nsig_counts_{real,pred}``)."""
    return {"real": significant(real_fdr, alpha=alpha).sum(1), "pred": significant(pred_fdr, alpha=alpha).sum(1)}


def spearman_nsig(real_fdr, pred_fdr, *, alpha: float = ALPHA) -> float:
    """Spearman correlation, across perturbations with real DE genes, of real vs predicted DE gene counts.

    1.0 when no perturbation has real DE genes; NaN when fewer than two or either count is constant.
    """
    counts = nsig_counts(real_fdr, pred_fdr, alpha=alpha)
    rows = counts["real"] > 0
    if not rows.any():
        return 1.0
    r = _row_spearman(counts["real"][None, rows], counts["pred"][None, rows], np.ones((1, rows.sum()), bool))
    return float(r[0])


def direction_match(real_fdr, real_lfc, pred_lfc, *, alpha: float = ALPHA) -> np.ma.MaskedArray:
    """Share of real DE genes whose predicted log2FC has the same sign (0 = 0), over the real DE genes the
    prediction's table holds (a NaN predicted fold change: a pair a CPM floor dropped, as cell-eval's inner join)."""
    pred_lfc = np.asarray(pred_lfc, np.float32)
    sig = significant(real_fdr, alpha=alpha) & ~np.isnan(pred_lfc)
    same = np.sign(np.asarray(real_lfc, np.float32)) == np.sign(pred_lfc)
    return _per_real_gene((same & sig).sum(1), sig)


def sig_genes_recall(real_fdr, pred_fdr, *, alpha: float = ALPHA) -> np.ma.MaskedArray:
    """``|real DE ∩ predicted DE| / |real DE|`` per perturbation."""
    sig = significant(real_fdr, alpha=alpha)
    return _per_real_gene((sig & significant(pred_fdr, alpha=alpha)).sum(1), sig)


def spearman_lfc(real_fdr, real_lfc, pred_lfc, *, alpha: float = ALPHA) -> np.ma.MaskedArray:
    """Spearman correlation of real vs predicted log2FC over each perturbation's real DE genes (NaN if < 2); a pair
    not in the prediction's table (NaN) counts as a fold change of 0, as cell-eval's left join fills it."""
    sig = significant(real_fdr, alpha=alpha)
    pred = np.nan_to_num(np.asarray(pred_lfc, np.float32), nan=0.0, posinf=np.inf, neginf=-np.inf)  # not in the table
    r = _row_spearman(np.asarray(real_lfc, np.float32), pred, sig)
    return np.ma.masked_array(r, mask=~sig.any(axis=1))


def _per_real_gene(hits: np.ndarray, sig: np.ndarray) -> np.ma.MaskedArray:
    n = sig.sum(axis=1)
    return np.ma.masked_array(np.divide(hits, n, out=np.zeros(n.size), where=n > 0), mask=n == 0)


def _row_spearman(x: np.ndarray, y: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per row: Pearson correlation of average ranks over the entries in ``keep`` (NaN if < 2 or constant)."""
    rows, cols = np.nonzero(keep)
    n_rows = keep.shape[0]
    rx = _grouped_average_ranks(rows, x[rows, cols].astype(np.float64))
    ry = _grouped_average_ranks(rows, y[rows, cols].astype(np.float64))
    n = np.bincount(rows, minlength=n_rows).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = rx - (np.bincount(rows, rx, n_rows) / n)[rows]
        dy = ry - (np.bincount(rows, ry, n_rows) / n)[rows]
        den = np.sqrt(np.bincount(rows, dx * dx, n_rows) * np.bincount(rows, dy * dy, n_rows))
        r = np.bincount(rows, dx * dy, n_rows) / den
    return np.where((n > 1) & (den > 0), np.clip(r, -1.0, 1.0), np.nan)


def _grouped_average_ranks(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1-based average ranks of ``values`` within each group (ties share the mean of their positions)."""
    order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    if g.size == 0:
        return np.zeros(0)
    new_run = np.r_[True, (g[1:] != g[:-1]) | (v[1:] != v[:-1])]
    group_start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    position = np.arange(g.size) - np.repeat(group_start, np.diff(np.r_[group_start, g.size]))
    run = np.cumsum(new_run) - 1
    first = position[new_run]
    length = np.bincount(run)
    ranks = np.empty(g.size)
    ranks[order] = first[run] + (length[run] + 1) / 2
    return ranks


def auc_score(
    real_fdr, pred_fdr, *, method: str = "pr", alpha: float = ALPHA, conventions: str = CURRENT
) -> np.ndarray:
    """Recovery of real DE genes when genes are scored by ``-log10`` of the predicted FDR, per perturbation.

    ``pr``: average precision (scikit-learn's step-wise ``average_precision_score``); ``roc``: ROC AUC. The
    predicted FDR is taken in float32 and clipped to [1e-10, 1] (so ties are cell-eval 0.8.2's); NaN FDRs count as
    1. Under cell-eval 0.6.6's ``conventions`` it is taken as it is, only an FDR of exactly 0 read as 1e-10, so the
    smallest FDRs keep their order. Genes not in the real table (NaN real FDR: dropped by a CPM floor) are left out.
    NaN for a perturbation whose genes are all, or none, real DE.
    """
    labels = significant(real_fdr, alpha=alpha)
    if conventions == LEGACY:
        q = np.nan_to_num(np.array(pred_fdr, np.float64), nan=1.0)
        q[q == 0] = 1e-10
    else:
        q = np.clip(np.nan_to_num(np.asarray(pred_fdr, np.float32), nan=1.0), np.float32(1e-10), np.float32(1.0))
    absent = np.isnan(np.asarray(real_fdr, np.float32))
    q[absent] = 2.0  # ranked after every gene in the table, and not counted among its negatives
    n_pos = labels.sum(axis=1)
    n_neg = (~absent).sum(axis=1) - n_pos
    if method not in ("pr", "roc"):
        msg = f"method must be 'pr' or 'roc', got {method!r}"
        raise ValueError(msg)
    hit, start, end = _tie_blocks(labels, q)
    if method == "pr":
        # average precision: each positive scores the precision at the end of its block of tied scores
        tp = np.cumsum(hit, axis=1)
        score = (np.take_along_axis(tp, end, 1) / (end + 1) * hit).sum(axis=1) / np.maximum(n_pos, 1)
    else:
        # ROC AUC: each positive beats the negatives after its block and half of those tied with it
        fp = np.cumsum(~hit, axis=1)
        fp_end = np.take_along_axis(fp, end, 1)
        fp_before = np.take_along_axis(fp, start, 1) - ~np.take_along_axis(hit, start, 1)
        wins = (n_neg[:, None] - fp_end) + 0.5 * (fp_end - fp_before)
        score = (wins * hit).sum(axis=1) / np.maximum(n_pos * n_neg, 1)
    return np.where((n_pos > 0) & (n_neg > 0), score, np.nan)


def _tie_blocks(labels: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels sorted by ascending ``q`` per row, with the first and last position of each entry's block of ties."""
    order = np.argsort(q, axis=1, kind="stable")
    q_sorted, hit = np.take_along_axis(q, order, 1), np.take_along_axis(labels, order, 1)
    g = q.shape[1]
    positions = np.broadcast_to(np.arange(g), q.shape)
    differs = q_sorted[:, 1:] != q_sorted[:, :-1]
    is_end = np.concatenate([differs, np.ones((q.shape[0], 1), bool)], axis=1)
    is_start = np.concatenate([np.ones((q.shape[0], 1), bool), differs], axis=1)
    end = np.minimum.accumulate(np.where(is_end, positions, g)[:, ::-1], axis=1)[:, ::-1]
    start = np.maximum.accumulate(np.where(is_start, positions, 0), axis=1)
    return hit, start, end
