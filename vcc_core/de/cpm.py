"""Differential expression in the VCC 2026 space: per-cell CPM, a control-expression gate, BH per perturbation.

What cell-eval2 0.20.0 ``--preset vcc2026`` computes on the CPU with pdex 0.3.0 (``../shared/VCC2026_METRICS.md``
section 3; cell-eval2 ``de_compute.py``):

- every cell is scaled to counts per million, ``CPM = x / (L / 1e6)`` with ``L`` its total (an empty cell stays 0),
  in float64; the rank test sees ``log1p(CPM)``;
- a gene is tested only if its mean CPM over the **control** cells is above 5 (the gate: lowly expressed genes give
  spurious calls); the same genes for every perturbation;
- each perturbation's cells against the control cells: the two-sided Mann-Whitney test of
  :func:`vcc_core.de.wilcoxon.wilcoxon_de` (tie and continuity corrected), then Benjamini-Hochberg over the gated
  genes of that perturbation;
- ``log2_fold_change = log2((m_p + 1e-9) / (m_ctrl + 1e-9))`` of the arithmetic mean CPMs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
from scipy import sparse

from vcc_core.compiled import parallel_kernel
from vcc_core.data.normalize import as_csr, divide_rows
from vcc_core.data.pseudobulk import add_sparse_rows
from vcc_core.de.wilcoxon import benjamini_hochberg, mwu_pvalues, rank_test
from vcc_core.keys import CONTROL

GATE_CPM = 5.0
EPSILON = 1e-9
TABLE_COUNTS = 64


@dataclass(frozen=True)
class GatedDE:
    """DE of ``P`` perturbations on the ``K`` gated genes.

    Attributes
    ----------
    perts
        ``(P,)`` perturbation names, sorted.
    genes
        ``(K,)`` column indices of the gated genes in the input matrix, ascending.
    pvalue, p_adj, lfc
        ``(P, K)`` float64: p-value, BH-adjusted p-value within the perturbation, log2 fold change of mean CPMs.
    """

    perts: np.ndarray
    genes: np.ndarray
    pvalue: np.ndarray
    p_adj: np.ndarray
    lfc: np.ndarray

    def on_genes(self, genes: np.ndarray) -> GatedDE:
        """The same DE on the columns ``genes`` (ascending, a superset of :attr:`genes`), NaN where untested."""
        where = np.searchsorted(genes, self.genes)
        fields = []
        for values in (self.pvalue, self.p_adj, self.lfc):
            wide = np.full((values.shape[0], genes.size), np.nan)
            wide[:, where] = values
            fields.append(wide)
        return GatedDE(self.perts, genes, *fields)


def cpm(counts) -> sparse.csr_matrix:
    """Per-cell counts per million of raw counts, float64 CSR (``x / (L / 1e6)``, empty cells left at 0)."""
    out = sparse.csr_matrix(counts, dtype=np.float64, copy=True)
    divide_rows(out.indptr, out.data, cell_scales(out))
    return out


def cell_scales(counts: sparse.csr_matrix) -> np.ndarray:
    """``(cells,)`` ``L / 1e6`` with ``L`` a cell's total in float64 (1 for an empty cell): CPM = x / scale."""
    scale = np.asarray(counts.sum(axis=1, dtype=np.float64)).ravel() / 1e6
    scale[scale == 0] = 1.0
    return scale


def gated_de(
    counts,
    labels,
    *,
    control: str = CONTROL,
    device=None,
    progress: Callable[[int, int], None] | None = None,
) -> GatedDE:
    """DE of every labelled group against ``control`` on the genes its control cells gate (module docstring).

    ``counts``: raw counts of the cells (cells x genes), control cells included; ``labels``: one per cell.
    The counts are read where they lie: the CPM values are never stored, only their ranks (:func:`rank_codes`)
    and the groups' mean CPMs.
    """
    labels = np.asarray(labels).astype(str)
    counts = as_csr(counts)
    scales = cell_scales(counts)
    perts = np.array(sorted(set(labels) - {control}), dtype=object)
    index = {name: k for k, name in enumerate([control, *perts])}
    codes = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    sizes = np.bincount(codes[codes >= 0], minlength=perts.size + 1).astype(np.float64)
    if sizes[0] == 0:
        msg = f"no control cells ({control!r}): the VCC 2026 DE gate is the control cells' mean CPM"
        raise ValueError(msg)
    means = cpm_group_sums(counts, codes, scales, perts.size + 1) / np.maximum(sizes, 1)[:, None]
    # Every gene is ranked (the ungated ones hold few entries) rather than the gated columns copied out.
    ranked = sparse.csr_matrix((rank_codes(counts, scales), counts.indices, counts.indptr), shape=counts.shape)
    names, _, sizes, stat, tie = rank_test(ranked, labels, control=control, device=device, progress=progress)
    if list(names) != list(perts):
        msg = "the DE's perturbations are not in sorted order"
        raise RuntimeError(msg)
    return gated_result(perts, means, sizes, stat, tie)


def cpm_group_sums(counts: sparse.csr_matrix, codes: np.ndarray, scales: np.ndarray, n_groups: int) -> np.ndarray:
    """``(n_groups, genes)`` float64 sums of the CPM values of the cells with each code (-1: left out), each a
    sequential sum in row order (:func:`~vcc_core.data.pseudobulk.add_sparse_rows`): a group whose cells repeat
    another's in the same order has exactly its means, and a fold change of exactly 0."""
    sums = np.zeros((n_groups, counts.shape[1]))
    add_sparse_rows(counts, codes, sums, divisors=scales)
    return sums


def gated_result(perts, means: np.ndarray, sizes: np.ndarray, stat: np.ndarray, tie: np.ndarray) -> GatedDE:
    """The :class:`GatedDE` of the rank sums ``stat``/``tie`` ``(P, genes)`` of every gene; ``means``
    ``(1 + P, genes)`` the mean CPMs and ``sizes`` the cells of control (first) and of each perturbation."""
    genes = np.flatnonzero(means[0] > GATE_CPM)
    pvalue = mwu_pvalues(stat[:, genes], tie[:, genes], n1=sizes[1:], n2=int(sizes[0]))
    kept = means[:, genes]
    with np.errstate(divide="ignore"):
        lfc = np.log2((kept[1:] + EPSILON) / (kept[0] + EPSILON))
    return GatedDE(np.asarray(perts, dtype=object), genes, pvalue, benjamini_hochberg(pvalue), lfc)


def rank_codes(counts: sparse.csr_matrix, scales: np.ndarray) -> np.ndarray:
    """float32 values that rank like the entries' ``log1p(CPM)`` (float64) and tie exactly where they tie
    (:class:`CpmNumbers`); past 2^24 distinct values, which float32 cannot number, the float64 values themselves."""
    numbers = CpmNumbers.of(scales, outside_values(counts, scales))
    if numbers.distinct.size >= 1 << 24:
        return numbers.values(counts, scales)
    return numbers.codes(counts, scales, np.float32)


def outside_values(counts: sparse.csr_matrix, scales: np.ndarray) -> np.ndarray:
    """The distinct ``log1p(CPM)`` of the entries outside the table of :class:`CpmNumbers` (counts above
    :data:`TABLE_COUNTS`, or fractional): few in raw counts."""
    searched, cells = _searched(counts)
    return np.unique(np.log1p(counts.data[searched].astype(np.float64) / scales[cells]))


@dataclass(frozen=True)
class CpmNumbers:
    """The sorted distinct positive ``log1p(CPM)`` values of a set of cells, numbered from 1 (0 is a zero).

    float32 cannot hold every float64 value, and sorting all of them to number the distinct ones would be the slow
    part of the test. But an entry's value depends only on its cell's scale and its count: the values of whole
    counts up to :data:`TABLE_COUNTS` are tabulated once per distinct scale (``log1p(k / s)``: the same numpy
    operations as on the entries, so the same float64 results) and numbered once (``table``), and each entry reads
    its number; other entries (larger or fractional counts, :func:`outside_values`) are numbered by search. Cells of
    two files numbered by one :class:`CpmNumbers` (built from both) rank against each other.

    Attributes: ``distinct`` the values; ``scales`` the distinct cell scales; ``table`` ``(scales, TABLE_COUNTS + 1)``
    uint32 the number of count ``k`` in a cell of each scale (column 0: a stored zero, number 0).
    """

    distinct: np.ndarray
    scales: np.ndarray
    table: np.ndarray

    @classmethod
    def of(cls, scales: np.ndarray, outside: np.ndarray) -> CpmNumbers:
        """From the cells' scales (:func:`cell_scales`) and the values :func:`outside_values` found."""
        distinct_scales = np.unique(scales)
        values = _table(distinct_scales)[:, 1:]
        distinct, inverse = np.unique(np.concatenate([values.ravel(), outside]), return_inverse=True)
        table = np.zeros((distinct_scales.size, TABLE_COUNTS + 1), dtype=np.uint32)
        table[:, 1:] = (inverse[: values.size] + 1).reshape(values.shape)
        return cls(distinct, distinct_scales, table)

    def codes(self, counts: sparse.csr_matrix, scales: np.ndarray, dtype, genes=None, sorted_rows=False) -> np.ndarray:
        """``(nnz,)`` the entries' numbers (cells of ``counts`` scaled by ``scales``, each one of :attr:`scales`)
        in ``dtype``, written once, in place: no temporaries of the matrix's size.

        ``genes = (g0, g1)``: only the entries of those genes are numbered, the others left unwritten; in
        ``sorted_rows`` (each row's genes increasing) only those entries are read.
        """
        which = np.searchsorted(self.scales, scales)
        if not np.array_equal(self.scales[np.minimum(which, self.scales.size - 1)], scales):
            msg = "cells whose CPM scale was not numbered"
            raise ValueError(msg)
        g0, g1 = genes if genes is not None else (0, counts.shape[1])
        codes = np.empty(counts.nnz, dtype=dtype)
        outside = np.zeros(counts.shape[0], dtype=np.int64)
        _table_codes(counts.indptr, counts.indices, counts.data, self.table, which, g0, g1, sorted_rows, codes, outside)
        rows = np.flatnonzero(outside)
        if rows.size:
            places = np.empty(int(outside.sum()), dtype=np.int64)
            _outside_places(counts.indptr, counts.indices, counts.data, rows, g0, g1, sorted_rows, places)
            cells = np.repeat(rows, outside[rows])
            values = np.log1p(counts.data[places].astype(np.float64) / scales[cells])
            codes[places] = np.searchsorted(self.distinct, values) + 1
        return codes

    def values(self, counts: sparse.csr_matrix, scales: np.ndarray) -> np.ndarray:
        """``(nnz,)`` the entries' ``log1p(CPM)`` themselves (float64)."""
        distinct_scales, which = np.unique(scales, return_inverse=True)
        searched, cells = _searched(counts)
        values = np.empty(counts.nnz)
        _table_values(counts.indptr, counts.data, _table(distinct_scales), which.astype(np.int64), searched, values)
        values[searched] = np.log1p(counts.data[searched].astype(np.float64) / scales[cells])
        return values


def _table(scales: np.ndarray) -> np.ndarray:
    """``(scales, TABLE_COUNTS + 1)`` ``log1p(k / s)``."""
    return np.log1p(np.arange(TABLE_COUNTS + 1)[None, :] / scales[:, None])


def _searched(counts: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """The entries outside the table (a mask) and their rows."""
    searched = np.empty(counts.nnz, dtype=np.bool_)
    _outside_table(counts.data, searched)
    cells = np.empty(int(searched.sum()), dtype=np.int64)
    _cells_of(counts.indptr, searched, cells)
    return searched, cells


@numba.njit(cache=True)
def _cells_of(indptr, searched, out):
    """The row of every ``searched`` entry, in entry order."""
    at = 0
    for i in range(indptr.size - 1):
        for e in range(indptr[i], indptr[i + 1]):
            if searched[e]:
                out[at] = i
                at += 1


@numba.njit(inline="always")
def _tabulated(value) -> bool:
    return value <= TABLE_COUNTS and value == np.floor(value)


@numba.njit(inline="always")
def _window(indices, lo, hi, g0, sorted_rows) -> int:
    """First entry of a row ``indices[lo:hi]`` to read for genes from ``g0``."""
    return lo + np.searchsorted(indices[lo:hi], g0) if sorted_rows else lo


@parallel_kernel
def _outside_table(data, out):
    """``out[e]``: the count is not a whole number up to :data:`TABLE_COUNTS`."""
    for e in numba.prange(data.size):
        out[e] = not _tabulated(data[e])


@parallel_kernel
def _table_values(indptr, data, table, which, searched, out):
    """``out[e] = table[which[cell of e], count of e]`` for the entries not ``searched``."""
    for i in numba.prange(indptr.size - 1):
        row = which[i]
        for e in range(indptr[i], indptr[i + 1]):
            if not searched[e]:
                out[e] = table[row, int(data[e])]


@parallel_kernel
def _table_codes(indptr, indices, data, table, which, g0, g1, sorted_rows, out, outside):
    """``out[e] = table[which[cell of e], count of e]`` for the entries of genes ``g0:g1``; ``outside[i]``: row
    ``i``'s entries of those genes not in the table (left for :func:`_outside_places`)."""
    for i in numba.prange(indptr.size - 1):
        row = which[i]
        for e in range(_window(indices, indptr[i], indptr[i + 1], g0, sorted_rows), indptr[i + 1]):
            gene = indices[e]
            if gene >= g1 and sorted_rows:
                break
            if g0 <= gene < g1:
                if _tabulated(data[e]):
                    out[e] = table[row, int(data[e])]
                else:
                    outside[i] += 1


@numba.njit(cache=True)
def _outside_places(indptr, indices, data, rows, g0, g1, sorted_rows, out):
    """The places of the entries of genes ``g0:g1`` of rows ``rows`` outside the table, in entry order."""
    at = 0
    for i in rows:
        for e in range(_window(indices, indptr[i], indptr[i + 1], g0, sorted_rows), indptr[i + 1]):
            gene = indices[e]
            if gene >= g1 and sorted_rows:
                break
            if g0 <= gene < g1 and not _tabulated(data[e]):
                out[at] = e
                at += 1
