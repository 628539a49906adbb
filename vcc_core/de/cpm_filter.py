"""pdex's pooled-CPM floor (``cpm_filter``; ``cell-eval run --cpm-filter T``): a (perturbation, gene) pair is
dropped from the DE when the gene's pooled CPM is at most ``T`` in both the perturbation's cells and the control
cells, and the FDR is corrected over the pairs that remain in each perturbation.

Lowly expressed genes give spurious DE calls; this removes them before the test's multiple-testing correction.
The pooled CPM of a group is pdex's ``cpm_bulk``: the arithmetic mean of ``expm1`` of the cells' log1p values per
gene (each stored value's ``expm1`` in the data's float type, then scipy's ``csr.mean``, reproduced by
:func:`~vcc_core.de.wilcoxon.group_means`), divided by the sum of those means, times 1e6, all in the data's float
type. A dropped pair is written as NaN (p-value, FDR, fold changes), which the DE metrics read as "not in the
table" (cell-eval's joins: not significant, left out of the direction match, a 0 fold change in the LFC
correlation, left out of the AUCs).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import sparse

from vcc_core.de.wilcoxon import DEResult, benjamini_hochberg, group_means
from vcc_core.keys import CONTROL


def pooled_cpm(X, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``(groups, G)`` pooled CPM of each group of cells (``codes``: the group of each row, -1 left out)."""
    if sparse.issparse(X):
        natural = sparse.csr_matrix(X, copy=True)
        np.expm1(natural.data, out=natural.data)
    else:  # pdex takes dense input's means in float64
        natural = np.expm1(np.asarray(X, dtype=np.float64))
    means = group_means(natural, codes, counts)
    out = np.empty_like(means)
    for g, row in enumerate(means):
        total = float(row.sum())
        out[g] = row / (total if total != 0.0 else 1.0) * 1e6
    return out


def cpm_filtered(de: DEResult, X, labels, *, threshold: float, control: str = CONTROL) -> DEResult:
    """``de`` (of the cells ``X`` with ``labels``) without the pairs below the floor ``threshold`` (NaN), its FDR
    corrected over the pairs kept in each perturbation."""
    names = {name: k for k, name in enumerate([control, *map(str, de.perts)])}
    codes = np.array([names.get(str(label), -1) for label in labels], dtype=np.int64)
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    cpm = pooled_cpm(X, codes, counts)
    keep = (cpm[1:] > threshold) | (cpm[0] > threshold)[None, :]
    fdr = np.full(de.fdr.shape, np.nan)
    for p in range(keep.shape[0]):
        if keep[p].any():
            fdr[p, keep[p]] = benjamini_hochberg(de.pvalue[p, keep[p]])
    dropped = {name: np.where(keep, getattr(de, name), np.nan) for name in ("pvalue", "log2fc", "percent_change")}
    return replace(de, fdr=fdr, statistic=np.where(keep, de.statistic, np.nan), **dropped)
