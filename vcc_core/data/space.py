"""What ``X`` holds: finite, non-negative values, and either raw counts or log1p-normalised values.

:func:`check_values` reads every stored value of a matrix in memory; :func:`detect_space` samples up to
20,000 rows (start, middle and end) and looks at each row, so raw-count rows hidden in log1p data are caught.
Float values of CSR rows are looked at by one compiled pass that keeps nothing but a few numbers per row: a numpy
expression would make temporaries as large as the data, and fresh memory is slow to touch (on a VM, touching a
fresh 240 MB array can take longer than the whole check).
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import sparse

from vcc_core.compiled import parallel_kernel
from vcc_core.data.normalize import Space, csr_rows, iter_row_chunks
from vcc_core.keys import UNS_SPACE

LOG1P_MAX = 15.0
"""log1p of any plausible normalised value stays below this (cell-eval uses the same bound)."""


def check_values(x) -> None:
    """Every stored value of ``x`` is finite and >= 0 (in memory: all of them; backed: see :func:`detect_space`).

    Raises
    ------
    ValueError
        NaN or infinite values, or negative ones (scaled or centred data), with the fix.
    """
    if sparse.issparse(x) and x.format == "csr" and x.dtype in (np.float32, np.float64):
        _check_float_rows(*_float_row_stats(x.data, x.indptr)[1:3])
        return
    if sparse.issparse(x):
        chunks = (x.data[i : i + (1 << 24)] for i in range(0, x.data.size, 1 << 24))
    elif isinstance(x, np.ndarray):
        chunks = (block for _, block in iter_row_chunks(x))
    else:
        return
    for values in chunks:
        _check_finite_nonnegative(values)


def _check_finite_nonnegative(values: np.ndarray) -> None:
    if values.size == 0 or (values.dtype.kind in "biu" and values.min() >= 0):
        return
    _check_float_rows(np.array([values.min()]), np.array([not np.all(np.isfinite(values))]))


def _check_float_rows(low: np.ndarray, nonfinite: np.ndarray) -> None:
    """Raise when a row holds NaN or infinite values (``nonfinite``) or its smallest finite value ``low`` is < 0."""
    if nonfinite.any():
        msg = "X contains NaN or infinite values; replace them (e.g. with 0) before loading"
        raise ValueError(msg)
    if low.size and low.min() < 0:
        msg = (
            f"X contains negative values (min {low.min():.3g}); counts and log1p values must be >= 0: "
            "load raw counts or log1p values, not scaled or centred data"
        )
        raise ValueError(msg)


@parallel_kernel
def _float_row_stats(data, indptr):
    """Per CSR row of float ``data``: largest and smallest finite value (0 for an empty row), any NaN or infinity,
    any value more than 1e-3 from a whole number, any value not whole (in the values' own precision)."""
    n = indptr.size - 1
    top, low = np.zeros(n), np.zeros(n)
    nonfinite, fractional, off = np.zeros(n, np.bool_), np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    for row in numba.prange(n):
        hi, lo = -np.inf, np.inf
        for k in range(indptr[row], indptr[row + 1]):
            v = data[k]
            if not np.isfinite(v):
                nonfinite[row] = True
                continue
            hi, lo = max(hi, v), min(lo, v)
            gap = abs(v - np.rint(v))
            if gap > 0:
                off[row] = True
                if gap > 1e-3:
                    fractional[row] = True
        if hi >= lo:
            top[row], low[row] = hi, lo
    return top, low, nonfinite, fractional, off


SAMPLE_ROWS = 20_000
"""Rows :func:`detect_space` looks at (start, middle and end of larger matrices)."""


def checked_space(x, *, declared: str | None = None) -> Space:
    """:func:`check_values` then :func:`detect_space` of a matrix in memory, its values read once when it has at most
    :data:`SAMPLE_ROWS` rows: the space's sample is then every row, and it checks each value as it goes."""
    if not (x.shape[0] <= SAMPLE_ROWS and (sparse.issparse(x) or isinstance(x, np.ndarray))):
        check_values(x)
    return detect_space(x, declared=declared)


def detect_space(x, *, sample_rows: int = SAMPLE_ROWS, declared: str | None = None) -> Space:
    """Say whether ``x`` holds integer counts or log1p-normalised values.

    Decimals mean log1p, as cell-eval's ``guess_is_lognorm`` decides, but every row is looked at (up to
    ``sample_rows`` rows from start, middle and end): beside rows with decimals, a row of whole numbers only (3 or
    more distinct ones, or one of 15 or more) is a row of raw counts, and the mix is refused. ``declared``
    (``uns["vcc_space"]`` of the file, if any) must agree with what the values show.

    Raises
    ------
    ValueError
        Negative, NaN or infinite values; raw and log1p rows mixed; decimals above the log1p range (normalised but
        not logged, or non-integer counts); a ``declared`` space the values contradict.
    """
    rows, top, fractional, whole, nnz = _row_stats(x, sample_rows=sample_rows)
    space: Space = "log1p" if fractional.any() else "counts"
    if space == "log1p":
        raw = whole & (top >= LOG1P_MAX)
        n_raw = int(raw.sum()) + _varied_rows(x, rows[whole & ~raw & (nnz >= 3)])
        if n_raw:
            msg = (
                f"X mixes scales: it has fractional values (log1p) in {fractional.sum()} sampled rows and only "
                f"whole numbers (raw counts) in {n_raw}; load one scale only"
            )
            raise ValueError(msg)
        if top.max() >= LOG1P_MAX:
            msg = (
                f"X holds fractional values up to {top.max():.1f}, above the log1p range [0, {LOG1P_MAX:g}): "
                "neither raw counts nor log1p; load integer counts or log1p-normalised values"
            )
            raise ValueError(msg)
    _check_declared(declared, space, informative=bool(top.size) and top.max() > 0)
    return space


def _check_declared(declared, space: Space, *, informative: bool) -> None:
    if declared is None:
        return
    if declared not in ("counts", "log1p"):
        msg = f"uns[{UNS_SPACE!r}] is {declared!r}; set it to 'counts' or 'log1p', or delete it"
        raise ValueError(msg)
    if informative and declared != space:
        shown = "fractional values (log1p)" if space == "log1p" else "only whole numbers (counts)"
        wanted = "raw counts" if declared == "counts" else "log1p values"
        msg = (
            f"X is declared {declared!r} in uns[{UNS_SPACE!r}] but holds {shown}; "
            f"correct uns[{UNS_SPACE!r}] (or delete it) or load {wanted}"
        )
        raise ValueError(msg)


def _row_stats(x, *, sample_rows: int) -> tuple[np.ndarray, ...]:
    """Sampled row numbers, and per row: maximum, any decimals, whole numbers only (and not empty), non-zeros."""
    n = x.shape[0]
    k = sample_rows // 3
    picks = [slice(0, n)] if n <= sample_rows else [slice(0, k), slice(n // 2, n // 2 + k), slice(n - k, n)]
    parts = []
    for rows in picks:
        if sparse.issparse(x) and x.format == "csr":
            block = csr_rows(x, rows)  # a CSR matrix in memory is read in place, not copied
        else:
            whole_matrix = rows == slice(0, n) and isinstance(x, np.ndarray)
            block = _as_csr(x if whole_matrix else x[rows])
        values = block.data.astype(np.float32) if block.dtype == np.float16 else block.data
        nnz = np.diff(block.indptr)
        if values.dtype.kind == "f":
            top, low, nonfinite, fractional, off = _float_row_stats(values, block.indptr)
            _check_float_rows(low, nonfinite)
            whole = ~off & (nnz > 0)
        else:
            _check_finite_nonnegative(values)
            starts = block.indptr[:-1][nnz > 0]
            top = _per_row(np.maximum, values, starts, nnz).astype(np.float64)  # values >= 0: empty rows are 0
            fractional, whole = np.zeros(nnz.size, dtype=bool), nnz > 0
        parts.append((np.arange(rows.start, rows.stop), top, fractional, whole, nnz))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def _per_row(ufunc: np.ufunc, entries: np.ndarray, starts: np.ndarray, nnz: np.ndarray) -> np.ndarray:
    """``ufunc`` reduced over each row's stored entries (``starts``: first entry of every non-empty row); 0 for
    empty rows. Empty rows own no entries, so each non-empty row's segment ends where the next one starts."""
    out = np.zeros(nnz.size, dtype=entries.dtype)
    if starts.size:
        out[nnz > 0] = ufunc.reduceat(entries, starts)
    return out


def _varied_rows(x, rows: np.ndarray, *, limit: int = 1000) -> int:
    """How many of ``rows`` (at most ``limit`` looked at) hold 3 or more distinct values."""
    if rows.size == 0:
        return 0
    block = _as_csr(x[rows[:limit]])
    return sum(np.unique(block.data[a:b]).size >= 3 for a, b in zip(block.indptr[:-1], block.indptr[1:], strict=True))


def _as_csr(block) -> sparse.csr_matrix:
    """A block of rows as CSR; float16 (which scipy cannot hold) as float32."""
    if not sparse.issparse(block):
        block = np.asarray(block)
        block = block.astype(np.float32) if block.dtype == np.float16 else block
    return sparse.csr_matrix(block)
