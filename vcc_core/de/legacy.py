"""The DE table of the VCC 2025 leaderboard: pdex 0.1.27 as cell-eval 0.6.6 calls it
(``parallel_differential_expression(metric="wilcoxon", is_log1p=True)``, ``../shared/VCC2026_METRICS.md`` section 8).

The rank test is the same two-sided Mann-Whitney test with tie and continuity corrections (scipy's asymptotic
``mannwhitneyu``; a p-value scipy leaves NaN, a constant gene, is 1). What differs from pdex 0.3.0:

- the FDR is one Benjamini-Hochberg correction over every (perturbation, gene) pair at once, not one per
  perturbation;
- each side's mean is ``expm1`` of numpy's float32 mean of the gene's log1p values (pairwise summation over the
  group's cells, in the data's float type), and the fold change ``target / reference`` is clipped where a mean is
  0: 20 when only the reference is 0, 1/20 when only the target is, 1 when both are; ``log2`` of it (float64) is
  the fold change the metrics read.

- scipy computes the p-value in the samples' float type, float32 here (:func:`float32_pvalues`).

scipy takes the exact distribution, not the asymptotic one, for a group of at most 8 cells without ties: those
are refused (:func:`legacy_de`) rather than given other p-values.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, special

from vcc_core.de.wilcoxon import DEResult, benjamini_hochberg, rank_test
from vcc_core.keys import CONTROL

CLIP = 20.0
SMALLEST_GROUP = 9
BLOCK_GENES = 2048


def float32_means(X, rows: np.ndarray) -> np.ndarray:
    """``(G,)`` numpy's mean of each gene over the cells ``rows``, as ``np.mean`` of each gene's 1-D column (pairwise
    summation in the data's float type)."""
    block = X[rows]
    out = np.empty(X.shape[1], dtype=X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64)
    for g0 in range(0, X.shape[1], BLOCK_GENES):
        part = block[:, g0 : g0 + BLOCK_GENES]
        part = part.toarray() if sparse.issparse(part) else np.asarray(part)
        out[g0 : g0 + part.shape[1]] = np.ascontiguousarray(part.T, dtype=out.dtype).mean(axis=1)
    return out


def clipped_fold_change(target: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``target / ref`` in their float type, with pdex 0.1.27's clip where a mean is 0 (module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (target / ref).astype(np.float64)
    both, ref_zero, target_zero = (target == 0) & (ref == 0), ref == 0, target == 0
    return np.select([both, ref_zero, target_zero], [1.0, CLIP, 1.0 / CLIP], ratio)


def legacy_de(X, labels, *, control: str = CONTROL, genes=None, device=None) -> DEResult:
    """pdex 0.1.27's DE of the cells ``X`` (log1p) grouped by ``labels`` against ``control`` (module docstring).

    Raises ``ValueError`` for a perturbation of fewer than :data:`SMALLEST_GROUP` cells.
    """
    genes = np.arange(X.shape[1]).astype(str) if genes is None else np.asarray(genes)
    perts, codes, counts, stat, tie = rank_test(X, labels, control=control, device=device)
    small = [str(p) for p, n in zip(perts, counts[1:], strict=True) if n < SMALLEST_GROUP]
    if small:
        msg = (
            f"the cell-eval 0.6.6 conventions need {SMALLEST_GROUP} cells or more per perturbation (scipy's exact "
            f"test below that is not reproduced): {', '.join(small[:5])}"
        )
        raise ValueError(msg)
    pvalue = float32_pvalues(stat, tie, n1=counts[1:], n2=int(counts[0]))
    means = [float32_means(X, np.flatnonzero(codes == g)) for g in range(counts.size)]
    with np.errstate(over="ignore"):
        natural = np.expm1(np.vstack(means))
    target, ref = natural[1:], natural[0]
    fold = clipped_fold_change(target, ref[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        log2fc = np.nan_to_num(np.log2(fold), nan=0.0, posinf=np.inf, neginf=-np.inf)
        change = np.where(ref == 0, np.nan, (target - ref) / ref).astype(np.float64)
    fdr = benjamini_hochberg(pvalue.ravel()).reshape(pvalue.shape)
    fields = (stat, pvalue, fdr, log2fc, change, target, ref, counts[1:], int(counts[0]))
    return DEResult(np.asarray(perts), genes, *fields)


def float32_pvalues(stat: np.ndarray, tie: np.ndarray, *, n1: np.ndarray, n2: int) -> np.ndarray:
    """``(P, G)`` scipy's asymptotic two-sided Mann-Whitney p-values (continuity corrected) as scipy computes them
    for float32 samples: in float32 throughout (``U``, the tie term, ``z``, ``ndtr``), NaN read as 1; returned as
    float64 values of those float32 numbers."""
    n1 = np.asarray(n1, dtype=np.int64)[:, None]
    n = n1 + n2
    product = (n1 * n2).astype(np.float64)
    u1 = stat.astype(np.float32)
    u = np.maximum(u1, (product - stat).astype(np.float32))
    tie_term = tie.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = ((n + 1).astype(np.float32) - tie_term / (n * (n - 1)).astype(np.float32)).astype(np.float32)
        s = np.sqrt((product / 12).astype(np.float32) * spread)
        numerator = (u - (product / 2).astype(np.float32)) - np.float32(0.5)
        z = numerator / s
    p = special.ndtr(-z) * np.float32(2)
    p = np.clip(p, np.float32(0), np.float32(1))
    return np.nan_to_num(p.astype(np.float64), nan=1.0)
