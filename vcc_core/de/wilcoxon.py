"""Wilcoxon rank-sum differential expression of every perturbation against control.

Reproduces what cell-eval 0.8.2 computes for each side of an evaluation: pdex 0.3.0
``pdex(adata, mode="ref", groupby=pert_col, reference=control, is_log1p=True, epsilon=0.0)`` on
log1p-normalised values (details confirmed in the installed sources: ``tests/data/README.md``).

For perturbation ``p`` with ``n1`` cells against ``n2`` control cells, per gene:

- ``statistic`` is ``U1 = #{x > c} + #{x == c} / 2`` over pairs of a perturbation value ``x`` and a control value
  ``c`` (the U of the perturbation sample, as ``scipy.stats.mannwhitneyu`` reports it);
- ``p_value`` is the two-sided asymptotic test with tie and continuity correction:
  ``z = (max(U1, n1 n2 - U1) - n1 n2 / 2 - 1/2) / s``, ``s^2 = n1 n2 / 12 ((n + 1) - T / (n (n - 1)))`` with
  ``T = sum(t^3 - t)`` over the tie groups of the pooled sample, ``p = erfc(z / sqrt 2)`` clipped to [0, 1];
  a gene constant over both groups (``s^2 <= 0``) gets ``p = 1``;
- ``fdr`` is Benjamini-Hochberg (``scipy.stats.false_discovery_control``) over the genes of one perturbation;
- ``target_mean`` / ``ref_mean`` are ``expm1(mean of the log1p values)`` in the input's float type, and
  ``log2_fold_change = log2(target_mean / ref_mean)`` with no pseudocount (both zero: 0, one zero: +/-inf).

Algorithm on the CPU (:mod:`vcc_core.de.kernel`, compiled): per batch of genes, every nonzero entry of a
labelled cell becomes a 32-bit value code, placed in its gene's bucket by group (counting sort); each bucket is
radix sorted by value and scanned once. Measured on one file of the VCC full size (138,000 cells x 18,080 genes,
413M nonzero values, 2 cores): 7.7 s, against 53-59 s for the sort of :mod:`vcc_core.de.sort`
(``bench/bench_evaluate.py``).

Algorithm on a GPU: one sort of all keys per batch of genes (:mod:`vcc_core.de.sort`, torch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numba
import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.compiled import parallel_kernel
from vcc_core.data.normalize import as_csr
from vcc_core.de import kernel as rank_kernel
from vcc_core.device import gpu_device
from vcc_core.keys import CONTROL, PERT_COL

if TYPE_CHECKING:
    import torch

FRAME_COLUMNS = [
    "target",
    "feature",
    "target_mean",
    "ref_mean",
    "target_membership",
    "ref_membership",
    "log2_fold_change",
    "percent_change",
    "p_value",
    "statistic",
    "fdr",
]


@dataclass(frozen=True)
class DEResult:
    """Wilcoxon DE of ``P`` perturbations x ``G`` genes against control.

    Attributes
    ----------
    perts
        ``(P,)`` perturbation names in pdex order: the categories of ``pd.Categorical(labels)`` (sorted names
        unless the labels are already categorical), control, missing and empty labels left out.
    genes
        ``(G,)`` gene names.
    statistic, pvalue, fdr, log2fc, percent_change
        ``(P, G)`` float64: U of the perturbation sample, two-sided p-value, BH FDR within each perturbation,
        log2 fold change and relative change of the back-transformed means.
    target_mean
        ``(P, G)`` ``expm1`` of each perturbation's mean log1p value (natural space, input float type).
    ref_mean
        ``(G,)`` the same for the control cells.
    n_cells
        ``(P,)`` cells per perturbation; ``n_control`` cells of control.
    """

    perts: np.ndarray
    genes: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    fdr: np.ndarray
    log2fc: np.ndarray
    percent_change: np.ndarray
    target_mean: np.ndarray
    ref_mean: np.ndarray
    n_cells: np.ndarray
    n_control: int

    def to_frame(self) -> pd.DataFrame:
        """Long table, one row per (perturbation, gene), with pdex's column names and row order."""
        n_p, n_g = self.pvalue.shape
        columns = [
            np.repeat(self.perts, n_g),
            np.tile(self.genes, n_p),
            self.target_mean.ravel(),
            np.tile(self.ref_mean, n_p),
            np.repeat(self.n_cells, n_g),
            np.full(n_p * n_g, self.n_control),
            self.log2fc.ravel(),
            self.percent_change.ravel(),
            self.pvalue.ravel(),
            self.statistic.ravel(),
            self.fdr.ravel(),
        ]
        return pd.DataFrame(dict(zip(FRAME_COLUMNS, columns, strict=True)))

    def significant(self, *, alpha: float = 0.05) -> np.ndarray:
        """``(P, G)`` boolean mask of ``fdr < alpha`` (cell-eval's DE call)."""
        return self.fdr < alpha

    def with_epsilon(self, epsilon: float) -> DEResult:
        """The same test with fold changes of ``(target + epsilon) / (ref + epsilon)`` (pdex's ``epsilon``,
        ``cell-eval run --epsilon``); the p-values do not depend on it."""
        if epsilon < 0:
            msg = f"epsilon must be 0 or more (a pseudocount of the fold changes), got {epsilon}"
            raise ValueError(msg)
        log2fc, change = fold_changes(self.target_mean, self.ref_mean, epsilon)
        return replace(self, log2fc=log2fc, percent_change=change)


def wilcoxon_de(
    X,
    labels,
    *,
    control: str = CONTROL,
    genes=None,
    device: torch.device | str | None = None,
    batch_entries: int = 1 << 27,
    progress: Callable[[int, int], None] | None = None,
) -> DEResult:
    """Mann-Whitney U test of every perturbation's cells against the control cells, gene by gene.

    Parameters
    ----------
    X
        Cells x genes log1p-normalised values: a scipy sparse matrix or a dense array, without NaN.
    labels
        One label per cell; missing or empty labels are left out, like pdex does.
    control
        Label of the control cells.
    genes
        Gene names (default ``"0"``, ``"1"``, ...).
    device
        Where to rank (see :func:`vcc_core.device.get_device`): numpy on the CPU, torch on a GPU.
    batch_entries
        Nonzero entries ranked at once (genes are split into batches of at most this many); the working memory
        is 4 bytes per entry of a batch on the CPU (8 with torch), plus a copy of ``X`` as CSR when it is given
        in another layout.
    progress
        Called as ``progress(genes_done, n_genes)`` while the genes are ranked.

    Returns
    -------
    DEResult
        Statistics for every (perturbation, gene) pair; equal to pdex 0.3.0 ``mode="ref"`` with
        ``is_log1p=True, epsilon=0.0`` (formulas in the module docstring).
    """
    genes = np.arange(X.shape[1]).astype(str) if genes is None else np.asarray(genes)
    if genes.shape != (X.shape[1],):
        msg = f"genes has {genes.size} names for a matrix with {X.shape[1]} columns"
        raise ValueError(msg)
    perts, codes, counts, stat, tie = rank_test(
        X, labels, control=control, device=device, batch_entries=batch_entries, progress=progress
    )
    means = _group_means(X, codes, counts)
    pvalue = mwu_pvalues(stat, tie, n1=counts[1:], n2=int(counts[0]))
    fdr = benjamini_hochberg(pvalue)
    log2fc, change = fold_changes(means[1:], means[0])
    fields = (stat, pvalue, fdr, log2fc, change, means[1:], means[0], counts[1:], int(counts[0]))
    return DEResult(perts, genes, *fields)


def rank_test(
    X, labels, *, control: str = CONTROL, device=None, batch_entries: int = 1 << 27, progress=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rank part of :func:`wilcoxon_de` alone: perturbation names, each cell's group code (0 control, -1 left
    out), the group sizes, and ``(P, G)`` U1 and tie terms for :func:`mwu_pvalues` (same arguments as there)."""
    perts, codes = _group_codes(labels, control=control, n_cells=X.shape[0])
    _check_no_nan(X)
    counts = np.bincount(codes[codes >= 0], minlength=perts.size + 1)
    device = gpu_device(device)
    if device is None:
        stat, tie = _compiled_rank_statistics(X, codes, counts, batch_entries=batch_entries, progress=progress)
    else:
        from vcc_core.de import sort as rank_sort

        stat, tie = rank_sort.rank_statistics(
            X, codes, counts, device=device, batch_entries=batch_entries, progress=progress
        )
    return perts, codes, counts, stat, tie


def de_from_anndata(adata, *, pert_col: str = PERT_COL, control: str = CONTROL, **kwargs) -> DEResult:
    """:func:`wilcoxon_de` on ``adata.X`` (already log1p-normalised) grouped by ``adata.obs[pert_col]``."""
    if pert_col not in adata.obs.columns:
        msg = f"obs has no column {pert_col!r}; columns: {', '.join(map(str, adata.obs.columns))}"
        raise ValueError(msg)
    return wilcoxon_de(adata.X, adata.obs[pert_col], control=control, genes=np.asarray(adata.var_names), **kwargs)


def mwu_pvalues(stat: np.ndarray, tie: np.ndarray, *, n1: np.ndarray, n2: int) -> np.ndarray:
    """Two-sided asymptotic Mann-Whitney p-values with tie and continuity correction.

    ``stat`` is ``U1`` and ``tie`` the pooled ``sum(t^3 - t)``, both ``(P, G)``; ``n1`` is ``(P,)``.
    The arithmetic follows numba_mwu 0.2 (pdex's kernel) and ``scipy.stats.mannwhitneyu(method="asymptotic")``.
    """
    n1 = np.asarray(n1, dtype=np.float64)[:, None]
    n = n1 + n2
    product = n1 * n2
    # (P, G) arrays are worked in place: each temporary of a genome-wide result is fresh memory, slow to touch
    var = tie / (n * (n - 1.0))
    np.subtract(n + 1.0, var, out=var)
    np.multiply(product / 12.0, var, out=var)
    valid = var > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.subtract(product, stat)
        np.maximum(stat, z, out=z)
        z -= product / 2.0
        z -= 0.5
        z /= np.sqrt(var, out=var)
    z /= np.sqrt(2.0)
    p = _erfc(z.ravel()).reshape(z.shape)
    np.clip(p, 0.0, 1.0, out=p)
    p[~valid] = 1.0
    return p


@numba.njit(cache=True)
def _erfc(z):
    """The C library's ``erfc`` of each value, as numba_mwu (pdex's kernel) calls it. A loop, not a
    ``numba.vectorize``: that one is compiled again on every import (0.3 s), a loop is loaded from the cache."""
    out = np.empty(z.size)
    for i in range(z.size):
        out[i] = math.erfc(z[i])
    return out


def benjamini_hochberg(pvalue: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values along the last axis: ``min over j >= i of p_(j) m / j``, clipped to 1.

    The same operations as ``scipy.stats.false_discovery_control`` (pdex's FDR, applied per perturbation), with
    numpy's fast row-wise sort.
    """
    m = pvalue.shape[-1]
    order = np.argsort(pvalue, axis=-1)
    adjusted = np.take_along_axis(pvalue, order, axis=-1)
    adjusted *= m / np.arange(1, m + 1, dtype=np.float64)
    np.minimum.accumulate(adjusted[..., ::-1], axis=-1, out=adjusted[..., ::-1])
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.clip(out, 0.0, 1.0, out=out)


def fold_changes(target: np.ndarray, ref: np.ndarray, epsilon: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``log2((target + e) / (ref + e))`` and ``(target - ref) / (ref + e)`` in float64 with 0/0 read as 0, as pdex
    (cell-eval pins ``e = 0``; the difference is taken in the means' own type)."""
    ref64 = ref.astype(np.float64) + epsilon
    log2fc = target.astype(np.float64) + epsilon
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.subtract(target, ref).astype(np.float64, copy=False)  # the difference in the means' own type
        np.log2(np.divide(log2fc, ref64, out=log2fc), out=log2fc)
        np.divide(change, ref64, out=change)
    for values in (log2fc, change):
        np.nan_to_num(values, copy=False, nan=0.0, posinf=np.inf, neginf=-np.inf)
    return log2fc, change


def _group_codes(labels, *, control: str, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Perturbation names (pdex order) and a code per cell: 0 control, 1.. perturbations, -1 left out."""
    cat = pd.Categorical(labels)
    if len(cat) != n_cells:
        msg = f"labels has {len(cat)} entries for a matrix with {n_cells} cells"
        raise ValueError(msg)
    present = np.bincount(cat.codes[cat.codes >= 0], minlength=len(cat.categories)) > 0
    names = np.asarray(cat.categories, dtype=object)
    if not np.any(names[present] == control):
        shown = ", ".join(map(str, names[present][:10]))
        msg = f"no cell is labelled with the control {control!r}; labels found: {shown}"
        raise ValueError(msg)
    keep = present & (names != "") & (names != control)
    remap = np.full(names.size + 1, -1, dtype=np.int64)  # the extra last slot maps code -1 (missing) to -1
    remap[np.flatnonzero(keep)] = np.arange(1, keep.sum() + 1)
    remap[np.flatnonzero(names == control)] = 0
    return names[keep], remap[cat.codes]


def _group_means(X, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``(groups, G)`` ``expm1`` of each group's mean, rounded like pdex's scipy/numpy calls."""
    return _expm1(group_means(X, codes, counts))


def group_means(X, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``(groups, G)`` each group's mean of the rows of ``X`` (``codes``), as pdex's calls round it.

    scipy's ``csr.mean(axis=0)`` scales every value by ``1 / n`` in the input's float type and then sums the rows
    in order; a compiled loop performs the same operations, for all groups at once.
    Dense input: numpy's ``mean(axis=0)`` of each group.
    """
    if not sparse.issparse(X):
        return np.vstack([np.asarray(X)[codes == g].mean(axis=0) for g in range(counts.size)])
    X = as_csr(X)
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
    order = np.argsort(codes, kind="stable")  # each group's rows in row order
    order = order[codes[order] >= 0]
    starts = np.concatenate([[0], np.cumsum(np.bincount(codes[order], minlength=counts.size))])
    with np.errstate(divide="ignore"):
        scale = (1.0 / counts).astype(dtype)
    out = np.zeros((counts.size, X.shape[1]), dtype=dtype)
    _scaled_group_sums(X.indptr, X.indices, X.data.astype(dtype, copy=False), order, starts, scale, out)
    return out


@parallel_kernel
def _scaled_group_sums(indptr, indices, data, order, starts, scale, out):
    """``out[g] +=`` each value of group ``g``'s rows (``order[starts[g]:starts[g + 1]]``, in row order) times
    ``scale[g]``, product and sum rounded to the data's float type: scipy's sparse product of the ``1 / n``
    indicator with the rows performs these operations in this order (threads split the groups)."""
    for g in numba.prange(out.shape[0]):
        factor = scale[g]
        sums = out[g]
        for k in range(starts[g], starts[g + 1]):
            r = order[k]
            for e in range(indptr[r], indptr[r + 1]):
                sums[indices[e]] += factor * data[e]


def _expm1(means: np.ndarray) -> np.ndarray:
    """``expm1`` correctly rounded to the means' float type (pdex's numba calls the platform's ``expm1f``).

    Means past the float type's range (log1p values above ~88.7 in float32, from predictions scaled far up)
    become inf, as in the reference; that is the intended value, so the overflow is not warned about.
    """
    with np.errstate(over="ignore"):
        return np.expm1(means.astype(np.float64)).astype(means.dtype)


def _compiled_rank_statistics(X, codes, counts, *, batch_entries: int, progress):
    """``(P, G)`` U1 and pooled tie term on the CPU (:mod:`vcc_core.de.kernel`), in batches of genes.

    ``X`` is read where it lies (rows with a negative code and stored zeros are skipped, not copied out); the
    working memory is 4 bytes per nonzero entry of a batch (at most :data:`~vcc_core.de.kernel.CPU_BATCH_ENTRIES`).
    """
    csr = as_csr(X)
    raw, is_float32, zero_code = rank_kernel.entry_codes(csr.data)
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    group_bits = max(1, int(counts.size - 1).bit_length())
    sizes = counts[1:].astype(np.float64)
    stat = np.empty((counts.size - 1, csr.shape[1]))
    tie = np.empty_like(stat)
    args = (csr.indptr, csr.indices, raw, is_float32, zero_code, codes)
    entries = np.zeros(rank_kernel.entry_counts_shape(counts.size, csr.shape[1]), dtype=np.int64)
    sorted_rows, _ = rank_kernel.entry_counts(csr.indptr, csr.indices, csr.data, codes, counts=entries)
    entries = entries.sum(axis=0)  # per group and gene
    per_gene = entries.sum(axis=0)
    batches = rank_kernel.gene_batches(per_gene, min(batch_entries, rank_kernel.CPU_BATCH_ENTRIES))
    buffer = np.empty(max(size for _, _, size in batches), dtype=np.uint32)
    for g0, g1, size in batches:
        starts = np.concatenate([[0], np.cumsum(per_gene[g0:g1])])
        values = buffer[:size]
        slots, ends = rank_kernel.value_places(entries[:, g0:g1], starts[:-1])
        refused = rank_kernel.fill(
            *args,
            sorted_rows=sorted_rows,
            genes=(g0, g1),
            per_gene=per_gene[g0:g1],
            slots=slots,
            ends=ends,
            values=values,
        )
        if refused or not np.array_equal(slots, ends):
            msg = "the matrix changed while its DE was computed"
            raise RuntimeError(msg)
        segments = np.ascontiguousarray(entries[:, g0:g1].T)
        stat[:, g0:g1], tie[:, g0:g1] = rank_kernel.rank_sums(
            values, starts, segments, sizes, int(counts[0]), zero_code, group_bits
        )
        if progress is not None:
            progress(g1, csr.shape[1])
    return stat, tie


def _check_no_nan(X) -> None:
    values = X.data if sparse.issparse(X) else np.asarray(X)
    if values.dtype.kind == "f" and np.isnan(values).any():
        msg = f"X holds {int(np.isnan(values).sum())} NaN values; the rank test needs finite or infinite numbers"
        raise ValueError(msg)
