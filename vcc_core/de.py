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

Algorithm on the CPU (:mod:`vcc_core.rank_kernel`, compiled): per batch of genes, every nonzero entry of a
labelled cell becomes one int64 key ``value | group``, bucketed by gene with a counting sort; each bucket is radix
sorted and scanned once. Measured on one file of the VCC full size (138,000 cells x 18,080 genes, 413M nonzero
values, 2 cores): 7.7 s, against 53-59 s for the sort below (``bench/bench_evaluate.py``).

Algorithm on a GPU (torch): per batch of genes, every nonzero entry of a labelled cell becomes one int64 key
``gene | value | group`` (an order-preserving 32-bit code of the value; control is group 0, so it sorts first
among equal values). After one sort, a running count of control entries gives, for every perturbation entry,
the number of control values at or below it. Zeros never enter the sort: per gene and group they form one tie
block whose size follows from the nonzero counts. Exact ties between nonzero values are corrected on the few
entries equal to a neighbour. All counts are integers held exactly in float64.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from vcc_core import rank_kernel
from vcc_core.compiled import threads
from vcc_core.device import get_device, to_numpy
from vcc_core.keys import CONTROL, PERT_COL

VALUE_BITS = 32
CPU_CHUNK = 1 << 18  # entries per post-sort step on the CPU: a few arrays of this size stay in cache
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
        is 8 bytes per entry of a batch, plus a copy of ``X`` as CSR when it is given in another layout.
    progress
        Called as ``progress(genes_done, n_genes)`` while the genes are ranked.

    Returns
    -------
    DEResult
        Statistics for every (perturbation, gene) pair; equal to pdex 0.3.0 ``mode="ref"`` with
        ``is_log1p=True, epsilon=0.0`` (formulas in the module docstring).
    """
    perts, codes = _group_codes(labels, control=control, n_cells=X.shape[0])
    genes = np.arange(X.shape[1]).astype(str) if genes is None else np.asarray(genes)
    if genes.shape != (X.shape[1],):
        msg = f"genes has {genes.size} names for a matrix with {X.shape[1]} columns"
        raise ValueError(msg)
    counts = np.bincount(codes[codes >= 0], minlength=perts.size + 1)
    means = _group_means(X, codes, counts)
    device = get_device(device)
    if device.type == "cpu":
        stat, tie = _compiled_rank_statistics(X, codes, counts, batch_entries=batch_entries, progress=progress)
    else:
        stat, tie = _rank_statistics(X, codes, counts, device=device, batch_entries=batch_entries, progress=progress)
    pvalue = mwu_pvalues(stat, tie, n1=counts[1:], n2=int(counts[0]))
    fdr = benjamini_hochberg(pvalue)
    log2fc, change = fold_changes(means[1:], means[0])
    fields = (stat, pvalue, fdr, log2fc, change, means[1:], means[0], counts[1:], int(counts[0]))
    return DEResult(perts, genes, *fields)


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
    var = n1 * n2 / 12.0 * ((n + 1.0) - tie / (n * (n - 1.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.maximum(stat, n1 * n2 - stat) - n1 * n2 / 2.0 - 0.5) / np.sqrt(var)
    p = np.clip(torch.special.erfc(torch.from_numpy(z / np.sqrt(2.0))).numpy(), 0.0, 1.0)
    return np.where(var > 0, p, 1.0)


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
    return np.clip(out, 0.0, 1.0)


def fold_changes(target: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log2(target / ref)`` and ``(target - ref) / ref`` in float64 with 0/0 read as 0, as pdex (epsilon 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log2fc = np.log2(target.astype(np.float64) / ref.astype(np.float64))
        change = (target - ref).astype(np.float64) / ref.astype(np.float64)
    return np.nan_to_num(log2fc, nan=0.0, posinf=np.inf, neginf=-np.inf), np.nan_to_num(
        change, nan=0.0, posinf=np.inf, neginf=-np.inf
    )


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
    """``(groups, G)`` ``expm1`` of each group's mean, rounded like pdex's scipy/numpy calls.

    scipy's ``csr.mean(axis=0)`` scales every value by ``1 / n`` in the input's float type and then sums the rows
    in order; a sparse product with a ``1 / n`` indicator performs the same operations, for all groups at once.
    """
    if not sparse.issparse(X):
        return _expm1(np.vstack([np.asarray(X)[codes == g].mean(axis=0) for g in range(counts.size)]))
    X = sparse.csr_matrix(X)
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
    rows = np.flatnonzero(codes >= 0)
    scale = (1.0 / counts).astype(dtype)[codes[rows]]
    indicator = sparse.csr_matrix((scale, (codes[rows], rows)), shape=(counts.size, X.shape[0]))
    return _expm1((indicator @ X.astype(dtype, copy=False)).toarray())


def _expm1(means: np.ndarray) -> np.ndarray:
    """``expm1`` correctly rounded to the means' float type (pdex's numba calls the platform's ``expm1f``).

    Means past the float type's range (log1p values above ~88.7 in float32, from predictions scaled far up)
    become inf, as in the reference; that is the intended value, so the overflow is not warned about.
    """
    with np.errstate(over="ignore"):
        return np.expm1(means.astype(np.float64)).astype(means.dtype)


def _compiled_rank_statistics(X, codes, counts, *, batch_entries: int, progress):
    """``(P, G)`` U1 and pooled tie term on the CPU (:mod:`vcc_core.rank_kernel`), in batches of genes.

    ``X`` is read where it lies (rows with a negative code and stored zeros are skipped, not copied out); the
    working memory is 8 bytes per nonzero entry of a batch.
    """
    csr = _finite_or_infinite(X if sparse.issparse(X) and X.format == "csr" else sparse.csr_matrix(X))
    raw, is_float32, zero_code = _entry_codes(csr.data)
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    group_bits = max(1, int(counts.size - 1).bit_length())
    sizes = counts[1:].astype(np.float64)
    stat = np.empty((counts.size - 1, csr.shape[1]))
    tie = np.empty_like(stat)
    args = (csr.indptr, csr.indices, raw, is_float32, zero_code, codes)
    bounds, entries = rank_kernel.entry_counts(*args, n_genes=csr.shape[1], blocks=threads())
    batches = _batches(entries.sum(axis=0), batch_entries)
    buffer = np.empty(max(size for _, _, size in batches), dtype=np.int64)
    for g0, g1, _ in batches:
        keys, starts = rank_kernel.gene_keys(
            *args, group_bits, genes=(g0, g1), bounds=bounds, counts=entries[:, g0:g1], buffer=buffer
        )
        stat[:, g0:g1], tie[:, g0:g1] = rank_kernel.rank_sums(
            keys, starts, sizes, int(counts[0]), zero_code, group_bits
        )
        if progress is not None:
            progress(g1, csr.shape[1])
    return stat, tie


def _entry_codes(data: np.ndarray) -> tuple[np.ndarray, bool, int]:
    """What the kernel reads per entry: float32 values as int32 bits, else order-preserving int64 codes.

    Values that float32 does not hold exactly are coded ``2 * rank + 1`` among the distinct values and zero gets
    the even code between its neighbours, so zeros are told apart from every other value.
    """
    if data.dtype != np.float32:
        narrow = data.astype(np.float32)
        if not np.array_equal(narrow, data):
            distinct, inverse = np.unique(data, return_inverse=True)
            zero = 2 * int(np.searchsorted(distinct, 0.0))
            return np.where(data == 0, zero, 2 * inverse.astype(np.int64) + 1), False, zero
        data = narrow
    return data.view(np.int32), True, 1 << 31


def _finite_or_infinite(csr: sparse.csr_matrix) -> sparse.csr_matrix:
    if np.isnan(csr.data).any():
        msg = f"X holds {int(np.isnan(csr.data).sum())} NaN values; the rank test needs finite or infinite numbers"
        raise ValueError(msg)
    return csr


def _rank_statistics(X, codes, counts, *, device, batch_entries: int, progress) -> tuple[np.ndarray, np.ndarray]:
    """``(P, G)`` U1 and pooled tie term ``sum(t^3 - t)``; numpy when ``device`` is None, else torch there."""
    csr, codes = _labelled_csr(X, codes)
    values, zero_code = _value_codes(csr.data)
    group_bits = max(1, int(counts.size - 1).bit_length())
    sizes = _engine(counts.astype(np.float64), device)
    stat = np.empty((counts.size - 1, csr.shape[1]))
    tie = np.empty_like(stat)
    for g0, g1, size in _gene_batches(csr, batch_entries, max_genes=1 << (31 - group_bits)):
        keys = _sort(_engine(_entry_keys(csr, values, codes, (g0, g1, size), group_bits), device))
        sums = _batch_sums(keys, g1 - g0, group_bits, zero_code, progress=progress, genes=(g0, csr.shape[1]))
        stat[:, g0:g1], tie[:, g0:g1] = _statistics(sums, sizes)
    return stat, tie


def _labelled_csr(X, codes: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Rows of labelled cells as CSR without stored zeros (pdex's sparse kernel demands the same)."""
    csr = X if sparse.issparse(X) and X.format == "csr" else sparse.csr_matrix(X)
    if not np.all(codes >= 0):
        csr, codes = csr[np.flatnonzero(codes >= 0)], codes[codes >= 0]
    _finite_or_infinite(csr)
    if not csr.data.all():
        csr = sparse.csr_matrix(csr, copy=True)
        csr.eliminate_zeros()
    return csr, codes


def _value_codes(data: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes below 2^32 ordered like ``data`` (equal iff equal), and the code zero would have.

    float32 bit patterns are ordered like the numbers once negative ones are flipped; float64 data that float32
    does not hold exactly is replaced by the rank of each value among the distinct values.
    """
    if data.dtype != np.float32:
        narrow = data.astype(np.float32)
        if not np.array_equal(narrow, data):
            distinct, inverse = np.unique(data, return_inverse=True)
            return inverse.astype(np.int64), int(np.searchsorted(distinct, 0.0))
        data = narrow
    bits = data.view(np.int32)
    if bits.size == 0 or bits.min() >= 0:
        return bits, 0
    return np.where(bits < 0, bits ^ 0x7FFFFFFF, bits).astype(np.int64) + (1 << 31), 1 << 31


def _gene_batches(csr: sparse.csr_matrix, batch_entries: int, *, max_genes: int) -> list[tuple[int, int, int]]:
    """Consecutive gene ranges ``(g0, g1, entries)`` of at most ``batch_entries`` nonzero entries (or one gene)."""
    _check_batch(batch_entries)
    if csr.nnz <= batch_entries and csr.shape[1] <= max_genes:
        return [(0, csr.shape[1], csr.nnz)]
    return _batches(np.bincount(csr.indices, minlength=csr.shape[1]), batch_entries, max_genes=max_genes)


def _check_batch(batch_entries: int) -> None:
    if batch_entries < 1:
        msg = f"batch_entries must be a positive number of entries, got {batch_entries}"
        raise ValueError(msg)


def _batches(per_gene: np.ndarray, batch_entries: int, *, max_genes: int | None = None) -> list[tuple[int, int, int]]:
    """Consecutive gene ranges ``(g0, g1, entries)`` of at most ``batch_entries`` entries (or one gene)."""
    _check_batch(batch_entries)
    n_genes = per_gene.size
    max_genes = max_genes or max(n_genes, 1)
    cumulative = np.concatenate([[0], np.cumsum(per_gene, dtype=np.int64)])
    bounds = [0]
    while bounds[-1] < n_genes:
        g0 = bounds[-1]
        g1 = int(np.searchsorted(cumulative, cumulative[g0] + batch_entries, side="right")) - 1
        bounds.append(min(max(g1, g0 + 1), g0 + max_genes, n_genes))
    return [(a, b, int(cumulative[b] - cumulative[a])) for a, b in itertools.pairwise(bounds)] or [(0, 0, 0)]


def _entry_keys(csr, values, codes, genes: tuple[int, int, int], group_bits: int) -> np.ndarray:
    """int64 key ``gene - g0 | value code | group`` of every entry of genes ``g0:g1``, built in row chunks."""
    g0, g1, size = genes
    whole = g0 == 0 and size == csr.nnz  # no entry outside the batch: skip the mask
    keys = np.empty(size, dtype=np.int64)
    step = max(1, (1 << 16) * csr.shape[0] // max(csr.nnz, 1))
    filled = 0
    for r0 in range(0, csr.shape[0], step):
        r1 = min(r0 + step, csr.shape[0])
        e0, e1 = csr.indptr[r0], csr.indptr[r1]
        gene, value = csr.indices[e0:e1], values[e0:e1]
        group = np.repeat(codes[r0:r1], np.diff(csr.indptr[r0 : r1 + 1]))
        if not whole:
            inside = (gene >= g0) & (gene < g1)
            gene, value, group = gene[inside] - g0, value[inside], group[inside]
        key = keys[filled : filled + gene.size]
        key[:] = gene
        key <<= VALUE_BITS + group_bits
        key |= value.astype(np.int64) << group_bits
        key |= group
        filled += gene.size
    return keys


def _engine(array: np.ndarray, device):
    """``array`` itself for the numpy engine (``device`` None), else a torch tensor on ``device``."""
    return array if device is None else torch.from_numpy(array).to(device)


def _sort(keys):
    """Sorted copy. The numpy engine sorts with torch too: on large int64 arrays its CPU sort is 2-3x faster than
    ``np.sort`` (31M keys: 1.2-1.6 s against 3.1-3.4 s here, ``bench/bench_de.py``); equal keys are equal, so
    stability does not matter."""
    if isinstance(keys, np.ndarray):
        return torch.sort(torch.from_numpy(keys)).values.numpy()
    return torch.sort(keys).values


def _nonzero(mask):
    return np.flatnonzero(mask) if isinstance(mask, np.ndarray) else torch.nonzero(mask).squeeze(1)


def _cumsum(mask):
    return np.cumsum(mask, dtype=np.int64) if isinstance(mask, np.ndarray) else torch.cumsum(mask, 0)


def _bincount(index, weights, size: int):
    """float64 sums of ``weights`` (or counts) per bin."""
    if isinstance(index, np.ndarray):
        return np.bincount(index, weights, minlength=size).astype(np.float64, copy=False)
    weights = None if weights is None else weights.to(torch.float64)
    return torch.bincount(index, weights, minlength=size).to(torch.float64)


def _batch_sums(keys, n_genes: int, group_bits: int, zero_code: int, *, progress, genes: tuple[int, int]):
    """``(5, n_genes, 2^group_bits)`` float64 sums per gene and group from sorted keys, in gene-aligned chunks.

    Rows: nonzero entries; sum over entries of the control entries at or below them; negative entries; and the
    two tie corrections of :func:`_tie_corrections`.
    """
    shift = VALUE_BITS + group_bits
    width = 1 << group_bits
    bounds = np.arange(n_genes + 1, dtype=np.int64) << shift
    on_cpu = isinstance(keys, np.ndarray)
    starts = (
        np.searchsorted(keys, bounds) if on_cpu else to_numpy(torch.searchsorted(keys, _engine(bounds, keys.device)))
    )
    step = CPU_CHUNK if on_cpu else max(len(keys), 1)
    cuts = np.unique(np.append(np.searchsorted(starts, np.arange(0, starts[-1], step), side="right") - 1, n_genes))
    out = _zeros((5, n_genes, width), keys)
    for c0, c1 in itertools.pairwise(cuts):
        chunk = keys[starts[c0] : starts[c1]]
        out[:, c0:c1] = _chunk_sums(chunk, c0, c1 - c0, group_bits, zero_code)
        if progress is not None:
            progress(genes[0] + int(c1), genes[1])
    return out


def _chunk_sums(keys, base: int, n_genes: int, group_bits: int, zero_code: int):
    """The ``(5, n_genes, 2^group_bits)`` sums of :func:`_batch_sums` for one run of whole genes."""
    width = 1 << group_bits
    size = n_genes * width
    group = keys & (width - 1)
    index = (((keys >> (VALUE_BITS + group_bits)) - base) << group_bits) | group
    nnz = _bincount(index, None, size).reshape(n_genes, width)
    # Controls sort first among equal values, so a running count of control entries is #{c <= x}.
    at_or_below = _bincount(index, _cumsum(group == 0), size).reshape(n_genes, width)
    control = nnz[:, 0]
    below = at_or_below - (control.cumsum(0) - control)[:, None] * nnz
    negative = _zeros((n_genes, width), keys)
    if zero_code:
        codes = (keys >> group_bits) & 0xFFFFFFFF
        negative = _bincount(index[codes < zero_code], None, size).reshape(n_genes, width)
    a_sum, tie_add = (t.reshape(n_genes, width) for t in _tie_corrections(keys, index, group_bits, size))
    return _stack([nnz, below, negative, a_sum, tie_add])


def _tie_corrections(keys, index, group_bits: int, size: int):
    """Per bin: sum of ``a`` over perturbation entries, and the tie-term increments, for entries tied in value.

    For a perturbation entry whose value occurs ``a`` times in control and ``b`` times in its own group, ``U``
    loses ``a / 2`` (control ties count half) and the pooled tie term gains ``3a^2 + 3ab + b^2 - 1`` (summing to
    ``(a+b)^3 - (a+b) - (a^3 - a)`` over the ``b`` entries); a control entry adds ``a^2 - 1`` (summing to
    ``a^3 - a``). An entry that equals neither neighbour has ``a = 0, b = 1`` and adds nothing.
    """
    width = 1 << group_bits
    same = (keys[1:] ^ keys[:-1]) < width
    tied = _zeros(len(keys), keys, dtype=bool)
    tied[1:] = same
    tied[:-1] |= same
    sub = _nonzero(tied)
    if len(sub) == 0:
        return _zeros(size, keys), _zeros(size, keys)
    keys, index = keys[sub], index[sub]
    control = _zeros(len(sub), keys) + ((keys & (width - 1)) == 0)
    run = _run_ids(keys >> group_bits)
    a = _bincount(run, control, 0)[run]
    triple = _run_ids(keys)
    b = _bincount(triple, None, 0)[triple]
    add = control * (a * a - 1) + (1 - control) * (3 * a * a + 3 * a * b + b * b - 1)
    return _bincount(index, (1 - control) * a, size), _bincount(index, add, size)


def _run_ids(values):
    """Index of the run of equal values that each element of a sorted array belongs to."""
    ids = _zeros(len(values), values, dtype=int)
    ids[1:] = _cumsum(values[1:] != values[:-1])
    return ids


def _statistics(sums, sizes) -> tuple[np.ndarray, np.ndarray]:
    """``(P, n)`` U1 and pooled tie term from the :func:`_batch_sums` of a batch and the group sizes."""
    nnz, below, negative, a_sum, tie_add = (s[:, : len(sizes)].T for s in sums)
    zc = sizes[0] - nnz[0]  # control zeros: one tie block with the perturbation's zeros
    zp = sizes[1:, None] - nnz[1:]
    twice_u = 2 * below[1:] - a_sum[1:] + 2 * zc * (nnz[1:] - negative[1:]) + zp * (2 * negative[0] + zc)
    block = zc + zp
    return to_numpy(twice_u / 2), to_numpy(tie_add[0] + tie_add[1:] + block**3 - block)


def _zeros(shape, like, dtype=float):
    """Zeros (float64, int64 or bool) with the engine and device of ``like``."""
    if isinstance(like, np.ndarray):
        return np.zeros(shape, dtype=np.dtype(dtype) if dtype is not float else np.float64)
    kind = {float: torch.float64, int: torch.int64, bool: torch.bool}[dtype]
    return torch.zeros(shape, dtype=kind, device=like.device)


def _stack(arrays):
    return np.stack(arrays) if isinstance(arrays[0], np.ndarray) else torch.stack(arrays)
