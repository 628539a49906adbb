"""Rows of an ``.h5ad`` file's ``X`` read by range: a CSR file's arrays straight from their place in the file.

The lowest layer of the streamed paths (:mod:`vcc_core.scale.stream`, :mod:`vcc_core.scale.distributed`) and of the
sample that :func:`vcc_core.data.space.detect_space` looks at in a backed file; it knows nothing of labels or checks.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
from scipy import sparse


def stored_entries(path) -> int:
    """Values stored in a file's ``X`` (every value of a dense one): an upper bound on its entries; 0 for a file
    that cannot be read so (the loader says why, with its own message)."""
    try:
        with h5py.File(path, "r") as f:
            x = f["X"]
            return int(x["data"].shape[0]) if isinstance(x, h5py.Group) else int(np.prod(x.shape))
    except (OSError, KeyError, TypeError):
        return 0


def read_rows(path: str, rows: slice, columns: np.ndarray | None):
    """Rows of ``X`` as CSR or a dense array, columns in output order."""
    with RowReader(path, columns) as reader:
        return reader.read(rows, reuse=False)


class RowReader:
    """Ranges of rows of one file's ``X``, the file kept open between reads.

    The rows of a CSR file (its common layout) are read straight into buffers kept from one read to the next when
    ``reuse``: memory touched for the first time is slow to fault in (several times slower than reading the file
    from the OS cache, on a VM), and fresh arrays per chunk would pay that on every chunk of every pass. A block
    read with ``reuse`` is valid until the next read. Other layouts go through anndata's sparse reader or h5py.
    """

    def __init__(self, path: str, columns: np.ndarray | None, *, chunk_rows: int | None = None):
        self._file = h5py.File(path, "r")
        self._columns = columns
        elem = self._file["X"]
        self._elem = elem
        self._direct = (
            isinstance(elem, h5py.Group)
            and elem.attrs.get("encoding-type") == "csr_matrix"
            and np.dtype(elem["data"].dtype) != np.float16
        )
        if self._direct:
            self._indptr = elem["indptr"][:].astype(np.int64)
            self._raw = {name: _RawLayout(path, elem[name]) for name in ("data", "indices")}
            self._shape = tuple(int(n) for n in elem.attrs["shape"])
            self._buffers: dict[str, np.ndarray] = {}
            # Sized once for the largest chunk of ``chunk_rows`` rows (a buffer that grew would be fresh memory).
            bounds = self._indptr[:: chunk_rows or 1]
            self._largest = int(max(np.diff(np.r_[bounds, self._indptr[-1]]).max(initial=0), 0))

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *_exc) -> None:
        for raw in getattr(self, "_raw", {}).values():
            raw.close()
        self._file.close()

    def read(self, rows: slice, *, reuse: bool = True):
        if not self._direct:
            from anndata.io import sparse_dataset  # the other layouts only: reading a CSR file needs no anndata

            elem = self._elem
            block = elem[rows] if isinstance(elem, h5py.Dataset) else sparse.csr_matrix(sparse_dataset(elem)[rows])
            if block.dtype == np.float16:  # the loader makes float16 float32 (scipy and torch need it)
                block = block.astype(np.float32)
        else:
            start, stop, _ = rows.indices(self._shape[0])
            lo, hi = int(self._indptr[start]), int(self._indptr[stop])
            parts = {}
            for name in ("data", "indices"):
                dataset = self._elem[name]
                out = self._buffer(name, dataset.dtype, hi - lo) if reuse else np.empty(hi - lo, dataset.dtype)
                if hi > lo and not self._raw[name].read(lo, out):
                    dataset.read_direct(out, np.s_[lo:hi])
                parts[name] = out
            index_dtype = parts["indices"].dtype if hi - lo < np.iinfo(np.int32).max else np.int64
            indptr = (self._indptr[start : stop + 1] - lo).astype(index_dtype)
            # Built from parts of the right index type, scipy keeps the arrays (no copy, no full check).
            block = sparse.csr_matrix(
                (parts["data"], parts["indices"].astype(index_dtype, copy=False), indptr),
                shape=(stop - start, self._shape[1]),
            )
        return block if self._columns is None else block[:, self._columns]

    def _buffer(self, name: str, dtype, size: int) -> np.ndarray:
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(max(size, self._largest), dtype=dtype)
        return buffer[:size]


class _RawLayout:
    """Where an unfiltered HDF5 dataset's elements lie in the file, so that ranges of them are read with ``pread``
    from two threads (h5py reads with one, at about half the speed from the OS cache). ``read`` returns False for
    layouts it does not handle (compressed or filtered, unallocated chunks, foreign byte order)."""

    def __init__(self, path: str, dataset: h5py.Dataset):
        self._fd = None
        self._itemsize = dataset.dtype.itemsize
        plain = (
            dataset.ndim == 1
            and dataset.dtype.byteorder in "=|" + ("<" if np.little_endian else ">")
            and dataset.id.get_create_plist().get_nfilters() == 0
        )
        if not plain:
            return
        if dataset.chunks is None:
            offset = dataset.id.get_offset()
            self._chunk, self._offsets = max(dataset.shape[0], 1), np.array([offset if offset is not None else -1])
        else:
            self._chunk = dataset.chunks[0]
            offsets = np.full(-(-dataset.shape[0] // self._chunk), -1, dtype=np.int64)

            def note(info):
                offsets[info.chunk_offset[0] // self._chunk] = info.byte_offset

            dataset.id.chunk_iter(note)
            self._offsets = offsets
        if (self._offsets >= 0).all():
            self._fd = os.open(path, os.O_RDONLY)

    def read(self, lo: int, out: np.ndarray) -> bool:
        """Elements ``lo : lo + out.size`` into ``out``; False (nothing read) if this layout is not handled."""
        if self._fd is None:
            return False
        hi = lo + out.size
        pieces = []
        for k in range(lo // self._chunk, (hi - 1) // self._chunk + 1):
            first, last = max(lo, k * self._chunk), min(hi, (k + 1) * self._chunk)
            pieces.append((int(self._offsets[k]) + (first - k * self._chunk) * self._itemsize, first - lo, last - lo))
        view = out.view(np.uint8)
        halves = (pieces[: len(pieces) // 2], pieces[len(pieces) // 2 :])
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda part: self._pread(part, view), halves))
        return all(done)

    def _pread(self, pieces, view: np.ndarray) -> bool:
        size = self._itemsize
        for offset, first, last in pieces:
            target = view[first * size : last * size]
            while target.size:  # pread may return less than asked
                got = os.preadv(self._fd, [target], offset)
                if got <= 0:
                    msg = "the file ended before the data its layout names"
                    raise OSError(msg)
                target, offset = target[got:], offset + got
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
