"""``.h5ad`` files read by ranges of rows: what a client knows of a file, and what each task reads.

The client opens a file backed, checks it with the loader's own functions (:mod:`vcc_core.io`, so the messages
are the same as in memory) and keeps only labels, genes and the value space (:class:`Source`); a task opens the
file itself and reads one range of rows of ``X`` (:func:`read_rows`), so the matrix never passes through the
client.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
from anndata.io import sparse_dataset
from scipy import sparse

from vcc_core.de import DEResult, benjamini_hochberg, fold_changes, mwu_pvalues
from vcc_core.evaluate import _check_same_perturbations
from vcc_core.io import align_genes, load_dataset, load_predictions, read_h5ad, validate_dataset
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.normalize import Space
from vcc_core.pseudobulk import Profiles, group_codes


@dataclass(frozen=True)
class Source:
    """What the client knows of one file; the matrix stays on disk.

    ``columns`` maps output genes to file columns (None: same order); ``codes``/``groups`` are the pseudobulk
    groups (control first, -1: cell left out), ``de_codes``/``de_perts`` those of the DE (empty labels left out).
    """

    path: str
    genes: np.ndarray
    columns: np.ndarray | None
    codes: np.ndarray
    groups: np.ndarray
    de_codes: np.ndarray
    de_perts: np.ndarray
    space: Space
    is_sparse: bool
    dtype: np.dtype


def open_source(
    path: str | Path, *, pert_col: str = PERT_COL, control: str = CONTROL, space: Space | None = None
) -> Source:
    """A data file checked as :func:`vcc_core.io.load_dataset` checks it (``obs``, ``var``, a sample of ``X``).

    ``space`` None takes the detected one. Cells without a label are left out, as ``evaluate`` does.

    Raises
    ------
    ValueError
        With the messages of :func:`vcc_core.io.load_dataset`.
    """
    adata, detected = load_dataset(path, pert_col=pert_col, control=control, drop_labels=(), backed=True)
    try:
        return _source(adata, pert_col=pert_col, control=control, space=space or detected)
    finally:
        adata.file.close()


def open_predictions(path: str | Path, *, real: Source, pert_col: str = PERT_COL, control: str = CONTROL) -> Source:
    """A prediction file checked against ``real`` as :func:`vcc_core.io.load_predictions` checks it.

    Its genes are taken in the order of ``real`` (the tasks reorder the columns they read).

    Raises
    ------
    ValueError
        With the messages of :func:`vcc_core.io.load_predictions` (all starting with ``predictions``).
    """
    adata = read_h5ad(path, backed=True)
    try:
        try:
            validate_dataset(adata, pert_col=pert_col, control=control)
            aligned = align_genes(adata[:0].to_memory(), real.genes).var_names
        except ValueError as err:
            text = str(err)
            raise ValueError(text if text.startswith("predictions") else f"predictions: {text}") from err
        # A backed file cannot be reordered in place, so its other checks run against the real labels with the
        # prediction's own gene order; the genes were compared just above.
        stand_in = labels_only(real.groups, pert_col=pert_col, genes=adata.var_names)
        adata, space = load_predictions(adata, real=stand_in, pert_col=pert_col, control=control)
        return _source(adata, pert_col=pert_col, control=control, space=space, genes=aligned)
    finally:
        adata.file.close()


def open_pair(real, pred, *, pert_col: str = PERT_COL, control: str = CONTROL) -> tuple[Source, Source]:
    """The real file and the prediction checked as :func:`vcc_core.evaluate.evaluate` checks them, as sources.

    Raises
    ------
    ValueError
        Messages starting with ``real data:`` or ``predictions``, or naming perturbations missing from the prediction.
    """
    try:
        real_src = open_source(real, pert_col=pert_col, control=control)
    except ValueError as err:
        raise ValueError(f"real data: {err}") from err
    pred_src = open_predictions(pred, real=real_src, pert_col=pert_col, control=control)
    real_labels, pred_labels = (labels_only(s.groups, pert_col=pert_col) for s in (real_src, pred_src))
    _check_same_perturbations(real_labels, pred_labels, pert_col=pert_col)
    return real_src, pred_src


def value_dtype(source: Source) -> np.dtype:
    """The float type the in-memory path keeps a side's means in (``evaluate._value_dtype`` of the normalised data)."""
    return source.dtype if source.dtype.kind == "f" and source.dtype.itemsize >= 4 else np.dtype(np.float32)


def labels_only(labels, *, pert_col: str, genes=()) -> ad.AnnData:
    """An AnnData without values: one cell per label, and ``genes``."""
    obs = pd.DataFrame({pert_col: np.asarray(labels, dtype=object)}, index=[str(i) for i in range(len(labels))])
    return ad.AnnData(obs=obs, var=pd.DataFrame(index=pd.Index(genes, dtype=object)))


def _source(adata: ad.AnnData, *, pert_col: str, control: str, space: Space, genes=None) -> Source:
    """The :class:`Source` of a checked, backed AnnData; ``genes``: output order (default: the file's)."""
    columns, names = None, np.asarray(adata.var_names, dtype=object)
    if genes is not None:
        columns, names = adata.var_names.get_indexer(genes), np.asarray(genes, dtype=object)
        columns = None if np.array_equal(columns, np.arange(adata.n_vars)) else columns
    labels = adata.obs[pert_col]
    codes, groups = group_codes(labels.astype(str).where(labels.notna()), control=control)
    de_groups = np.flatnonzero(groups != "")
    remap = np.full(groups.size + 1, -1, dtype=np.int64)  # last slot: code -1 stays -1
    remap[de_groups] = np.arange(de_groups.size)
    stored = np.dtype(adata.X.dtype)
    stored = np.dtype(np.float32) if stored == np.float16 else stored  # as the loader converts it
    dtype = np.dtype(np.float32) if space == "counts" and stored.kind in "iub" else stored
    is_sparse = not isinstance(adata.X, h5py.Dataset)
    fields = (names, columns, codes, groups, remap[codes], groups[de_groups][1:], space, is_sparse, dtype)
    return Source(str(Path(adata.filename).resolve()), *fields)


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


def assemble(source: Source, sums: np.ndarray, stat=None, tie=None):
    """Profiles, and the DE when ``stat``/``tie`` are given, of a source from its float64 group sums.

    DE means are the float64 means rounded to the data's float type (the in-memory path accumulates them in
    that type, so ``target_mean``, ``ref_mean`` and ``log2_fold_change`` may differ in the last bits).
    """
    n_cells = np.bincount(source.codes[source.codes >= 0], minlength=source.groups.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n_cells[:, None]
    profiles = Profiles(means[1:], means[0], source.groups[1:], source.genes, n_cells[1:])
    if stat is None:
        return profiles, None
    sizes = np.bincount(source.de_codes[source.de_codes >= 0], minlength=source.de_perts.size + 1)
    rows = np.r_[0, 1 + np.flatnonzero(source.groups[1:] != "")]
    dtype = source.dtype if source.dtype.kind == "f" else np.dtype(np.float64)
    with np.errstate(over="ignore"):  # means past the float type's range become inf, as in vcc_core.de
        expm1 = np.expm1(means[rows].astype(dtype).astype(np.float64)).astype(dtype)
    pvalue = mwu_pvalues(stat, tie, n1=sizes[1:], n2=int(sizes[0]))
    log2fc, change = fold_changes(expm1[1:], expm1[0])
    fields = (stat, pvalue, benjamini_hochberg(pvalue), log2fc, change, expm1[1:], expm1[0], sizes[1:], int(sizes[0]))
    return profiles, DEResult(source.de_perts, source.genes, *fields)
