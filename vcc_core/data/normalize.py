"""Counts -> per-cell total-normalised log1p values, the space every metric works in.

Follows cell-eval 0.8.x (``_evaluator._convert_to_normlog``): when a file holds counts it is passed
through ``scanpy.pp.normalize_total`` with its default target (the median total count of *that* file)
and then ``scanpy.pp.log1p``. Normalisation is row-wise once the target is known, so the target is
computed in a first streamed pass and the rows are then normalised chunk by chunk with the same
arithmetic: the result equals scanpy on the whole matrix, bit for bit (checked in the tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numba
import numpy as np
from scipy import sparse

from vcc_core.compiled import parallel_kernel

if TYPE_CHECKING:
    import anndata as ad

Space = Literal["counts", "log1p"]
DEFAULT_CHUNK_ROWS = 10_000


def iter_row_chunks(x, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[tuple[slice, object]]:
    """Yield ``(rows, block)`` over a matrix in memory or backed on disk, ``chunk_rows`` rows at a time.

    Blocks are CSR matrices or dense arrays; a backed matrix is read one block at a time. Blocks of a CSR matrix
    in memory share its values and column indices (no copy): do not modify them in place.
    """
    n = x.shape[0]
    for start in range(0, n, chunk_rows):
        rows = slice(start, min(start + chunk_rows, n))
        if sparse.issparse(x) and x.format == "csr":
            yield rows, csr_rows(x, rows)
            continue
        block = x[rows]
        if sparse.issparse(block) and not isinstance(block, sparse.csr_matrix):
            block = sparse.csr_matrix(block)
        elif not sparse.issparse(block):
            block = np.asarray(block)
        yield rows, block


def as_csr(x) -> sparse.csr_matrix:
    """``x`` itself when it is a CSR matrix, else a CSR copy of it (sparse of another layout, or dense)."""
    return x if sparse.issparse(x) and x.format == "csr" else sparse.csr_matrix(x)


def csr_rows(x: sparse.csr_matrix, rows: slice) -> sparse.csr_matrix:
    """Rows ``rows`` of ``x`` as a CSR matrix over the same value and index arrays (scipy's slicing copies them)."""
    e0, e1 = x.indptr[rows.start], x.indptr[rows.stop]
    indptr = x.indptr[rows.start : rows.stop + 1] - e0
    return sparse.csr_matrix((x.data[e0:e1], x.indices[e0:e1], indptr), shape=(rows.stop - rows.start, x.shape[1]))


def gather_rows(parts: list[tuple[sparse.csr_matrix, np.ndarray]]) -> sparse.csr_matrix:
    """The rows ``rows`` of each CSR matrix, one part after the other, as one new CSR matrix (same columns), built
    in one allocation and one pass: at VCC size, fancy indexing then stacking would copy every value three times.
    """
    dtype = np.result_type(*(csr.data.dtype for csr, _ in parts))
    lengths = np.concatenate([np.diff(csr.indptr)[rows] for csr, rows in parts])
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data, indices = np.empty(indptr[-1], dtype=dtype), np.empty(indptr[-1], dtype=np.int32)
    start = 0
    for csr, rows in parts:
        _copy_rows(csr.indptr, csr.indices, csr.data, np.asarray(rows, dtype=np.int64), indptr[start:], indices, data)
        start += len(rows)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(lengths), parts[0][0].shape[1]))


@parallel_kernel
def _copy_rows(indptr, indices, data, rows, out_indptr, out_indices, out_data):
    for k in numba.prange(rows.size):
        src, dst = indptr[rows[k]], out_indptr[k]
        for j in range(indptr[rows[k] + 1] - src):
            out_indices[dst + j] = indices[src + j]
            out_data[dst + j] = data[src + j]


def row_totals(x, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
    """Total count of each row (cell), streamed, in float64."""
    totals = np.empty(x.shape[0], dtype=np.float64)
    for rows, block in iter_row_chunks(x, chunk_rows=chunk_rows):
        totals[rows] = np.asarray(block.sum(axis=1), dtype=np.float64).ravel()
    return totals


def median_target(x, *, totals: np.ndarray | None = None) -> float:
    """The target total ``scanpy.pp.normalize_total`` picks by default for ``x``.

    scanpy takes the median over all cells for a CSR matrix and over cells with a non-zero total for
    a dense one; the same rule is kept so that results match it exactly. ``totals`` may be a subset of
    the row totals that has the same median (as the distributed path passes).

    Raises
    ------
    ValueError
        Every cell empty, or a median of 0 (scanpy would divide by it).
    """
    every_row = totals is None
    totals = row_totals(x) if totals is None else totals
    is_csr = sparse.issparse(x) or getattr(x, "format", None) == "csr"
    values = totals if is_csr else totals[totals > 0]
    if values.size == 0 or (every_row and not values.any()):
        msg = "every cell has a total count of 0: nothing to normalise; check that X holds the counts"
        raise ValueError(msg)
    dtype = np.float32 if _dtype_of(x).kind in "iub" else _dtype_of(x)
    target = float(np.median(values.astype(dtype)))
    if target == 0:
        msg = "the median total count is 0 (most cells have no counts); remove the empty cells before loading"
        raise ValueError(msg)
    return target


def normalize_block(block, *, target_sum: float, inplace: bool = False, totals: np.ndarray | None = None):
    """Total-normalise then log1p one block of count rows (CSR or dense), as scanpy does.

    Same arithmetic as ``scanpy.pp.normalize_total(target_sum=...)`` + ``scanpy.pp.log1p``: integers
    become float32, totals are accumulated in float64 and stored in the data dtype, each row is divided
    by ``total / target_sum`` (all-zero rows by 1). Equality with scanpy is checked in the tests; it is
    redone here in numpy to avoid scanpy's per-call JIT start-up and AnnData round trips.

    ``inplace``: a CSR block of floats is overwritten and returned (its indices shared), saving a copy of
    the values, which at VCC size is most of the time spent here (fresh memory is slow to touch).
    ``totals``: the rows' float64 sums when already known (``block.sum(axis=1, dtype=np.float64)``).
    """
    dtype = np.dtype(np.float32) if _dtype_of(block).kind in "iub" else _dtype_of(block)
    if totals is None:
        totals = np.asarray(block.sum(axis=1, dtype=np.float64)).ravel()
    factor = row_factors(totals, target_sum, dtype)
    if sparse.issparse(block):
        block = sparse.csr_matrix(block)
        own = inplace and block.data.dtype == dtype
        data = block.data if own else block.data.astype(dtype, copy=True)
        log1p_divided_rows(block.indptr, data, factor)
        if own:
            return block
        return sparse.csr_matrix((data, block.indices.copy(), block.indptr.copy()), shape=block.shape)
    return np.log1p(np.asarray(block, dtype=dtype) / factor[:, None])


LOG1P_TABLE = 64
"""Whole counts below this have their ``log1p(count / factor)`` computed once per row and looked up (raw counts:
about 99.8% of the entries of a 10x screen; the others are computed one by one)."""


def row_factors(totals: np.ndarray, target_sum: float, dtype: np.dtype) -> np.ndarray:
    """What scanpy divides each row by: ``total / target_sum`` in the values' float type, 1 for an empty row."""
    factor = totals.astype(dtype) / dtype.type(target_sum)
    return factor + (factor == 0)


def log1p_table(factor: np.ndarray) -> np.ndarray:
    """``(rows, LOG1P_TABLE)`` ``log1p(k / factor[row])`` for the whole counts ``k`` below :data:`LOG1P_TABLE`, in
    ``factor``'s float type (numpy's division and ``log1p``, as on the entries themselves)."""
    return np.log1p(np.arange(LOG1P_TABLE, dtype=factor.dtype)[None, :] / factor[:, None])


def log1p_divided_rows(
    indptr: np.ndarray,
    data: np.ndarray,
    factor: np.ndarray,
    *,
    table: np.ndarray | None = None,
    indices: np.ndarray | None = None,
    genes: tuple[int, int] | None = None,
) -> None:
    """``data`` of CSR row ``r`` replaced by ``log1p(data / factor[r])`` in place (``factor`` in ``data``'s float type).

    numpy's ``log1p`` computes every value, as scanpy calls it, but an entry's value depends only on its row and its
    count: the whole counts below :data:`LOG1P_TABLE` are tabulated per row (:func:`log1p_table`; IEEE division,
    as the kernels', rounds alike), and only the other entries are computed one by one. The result is the same, bit
    for bit, at a thirtieth of the ``log1p`` calls: they were most of the time spent normalising (float32 ``log1p``
    is not vectorised on most CPUs).

    ``table``: :func:`log1p_table` of ``factor`` when already made (a streamed pass normalises a block again per
    batch of genes). ``genes = (g0, g1)`` with the rows' column ``indices`` (each row's in increasing order): only
    the entries of those genes are normalised, the others are left as they are.
    """
    table = log1p_table(factor) if table is None else table
    g0, g1 = genes if genes is not None else (0, np.iinfo(np.int64).max)
    window = (indices if genes is not None else indptr[:0], g0, g1)
    outside = np.zeros(indptr.size - 1, dtype=np.int64)
    _count_outside(indptr, data, *window, outside)
    starts = np.concatenate([[0], np.cumsum(outside)])
    places = np.empty(int(starts[-1]), dtype=np.int64)
    values = np.empty(places.size, dtype=data.dtype)
    _tabulate_rows(indptr, data, factor, table, *window, starts, places, values)
    if places.size:
        data[places] = np.log1p(values)


@numba.njit(inline="always")
def _in_table(value) -> bool:
    return 0 <= value < LOG1P_TABLE and value == np.floor(value)


@numba.njit(inline="always")
def _entries(indptr, indices, g0, g1, r) -> tuple[int, int]:
    """Row ``r``'s entries of genes ``g0:g1`` (its genes in increasing order), or all of them without ``indices``."""
    lo, hi = indptr[r], indptr[r + 1]
    if indices.size == 0:
        return lo, hi
    return lo + np.searchsorted(indices[lo:hi], g0), lo + np.searchsorted(indices[lo:hi], g1)


@parallel_kernel
def _count_outside(indptr, data, indices, g0, g1, outside):
    """``outside[r]``: the entries of row ``r`` (of genes ``g0:g1``, see :func:`_entries`) that are not whole counts
    below :data:`LOG1P_TABLE`."""
    for r in numba.prange(indptr.size - 1):
        lo, hi = _entries(indptr, indices, g0, g1, r)
        n = 0
        for e in range(lo, hi):
            n += not _in_table(data[e])
        outside[r] = n


@parallel_kernel
def _tabulate_rows(indptr, data, factor, table, indices, g0, g1, starts, places, values):
    """Tabulated entries (of genes ``g0:g1``, see :func:`_entries`) replaced by ``table[row, count]``; the others'
    places and ``data / factor`` listed from ``starts[row]``, for one call of numpy's ``log1p``."""
    for r in numba.prange(indptr.size - 1):
        at = starts[r]
        lo, hi = _entries(indptr, indices, g0, g1, r)
        for e in range(lo, hi):
            value = data[e]
            if _in_table(value):
                data[e] = table[r, np.int64(value)]
            else:
                places[at] = e
                values[at] = value / factor[r]
                at += 1


@parallel_kernel
def divide_rows(indptr, data, factor):
    """``data`` of row ``r`` divided by ``factor[r]`` in place (IEEE division: the same result as numpy's)."""
    for r in numba.prange(indptr.size - 1):
        for e in range(indptr[r], indptr[r + 1]):
            data[e] /= factor[r]


def log1p_normalize(adata: ad.AnnData, *, chunk_rows: int = DEFAULT_CHUNK_ROWS, copy: bool = True) -> ad.AnnData:
    """Return a new in-memory AnnData (or :class:`~vcc_core.data.cells.Cells`, as ``adata`` is) whose ``X`` is
    normalised log1p (``obs``, ``var`` and ``obsm`` kept).

    ``copy=False``: a sparse ``X`` of floats is normalised in place (``adata`` is left holding the result).

    Raises
    ------
    ValueError
        If every cell has zero counts.
    """
    target = median_target(adata.X)
    if sparse.issparse(adata.X):  # in memory: normalised in one pass (the result is as large as the input anyway)
        x = normalize_block(adata.X, target_sum=target, inplace=not copy)
    else:
        blocks = [normalize_block(b, target_sum=target) for _, b in iter_row_chunks(adata.X, chunk_rows=chunk_rows)]
        x = sparse.vstack(blocks, format="csr") if blocks and sparse.issparse(blocks[0]) else np.vstack(blocks)
    # The container's own class: AnnData, or Cells (built alike) for a file read without anndata.
    out = type(adata)(X=x, obs=adata.obs.copy(), var=adata.var.copy(), obsm=dict(adata.obsm.items()))
    out.uns["vcc_space"] = "log1p"
    out.uns["vcc_target_sum"] = target
    return out


def _dtype_of(x) -> np.dtype:
    return x.data.dtype if sparse.issparse(x) else np.dtype(x.dtype)
