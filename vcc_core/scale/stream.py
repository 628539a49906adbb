"""Pseudobulk, Wilcoxon DE and the metrics of ``.h5ad`` files read in row chunks, in one process, memory bounded.

Neither file is ever held whole: each is read from disk in chunks of rows (:class:`vcc_core.data.row_reader.RowReader`:
into buffers reused from chunk to chunk, by file offset from two threads where the layout allows).

1. A first pass checks the values (finite, >= 0: the loader's messages), sums each cell's counts for the
   normalisation target (counts only) and counts, per group and gene, the nonzero entries that the DE ranks.
2. Then, per batch of genes holding at most ``batch_entries`` such entries, every chunk is read again, normalised
   (:func:`vcc_core.data.normalize.normalize_block`) and its values written straight into their gene's bucket at their
   group's place (:mod:`vcc_core.de.kernel`): the places are known from the counts of pass 1, and a chunk that
   reads differently the second time is refused, never written outside its places. Each batch's pass also adds
   its genes' values to the pseudobulk sums, so that each entry is normalised once (rows whose genes are not in
   increasing order: the first batch normalises and adds every gene). Each finished batch is ranked (radix sort and
   scan) and dropped.

Peak memory: the value buffer (4 bytes x ``batch_entries``), one chunk of rows (normalised in place), and the
``(perturbations x genes)`` statistics and entry counts. The U statistics, tie terms, p-values, FDR and pseudobulk
means equal the in-memory path (:func:`vcc_core.evaluation.evaluate.evaluate`); DE means are float64 means rounded to
the data's type (:func:`vcc_core.scale.h5ad_rows.assemble`). Each file is read ``1 + batches`` times, so the OS file
cache matters.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.data.normalize import (
    DEFAULT_CHUNK_ROWS,
    as_csr,
    log1p_divided_rows,
    log1p_table,
    median_target,
    normalize_block,
    row_factors,
)
from vcc_core.data.pseudobulk import Profiles, add_sparse_rows
from vcc_core.data.row_reader import RowReader, stored_entries
from vcc_core.data.space import check_values
from vcc_core.de import kernel as rank_kernel
from vcc_core.de.wilcoxon import DEResult
from vcc_core.evaluation.evaluate import evaluate_profiles
from vcc_core.evaluation.loop import refuse_cell_metrics
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.metrics import get_metric, profile_metrics
from vcc_core.progress import Say, sayer
from vcc_core.scale.h5ad_rows import Source, assemble, open_pair, value_dtype

DEFAULT_BATCH_ENTRIES = 1 << 28  # 1 GiB of values


class ValueBuffer:
    """The DE's value buffer (uint32), kept from one file to the next: memory touched for the first time is slow
    (about 2.5 s per GiB on a VM, a few times more than the file's read from the OS cache).

    :meth:`touch_ahead` faults it in from a background thread while the process does single-threaded work (reading
    ``obs``, sampling the values), so that the pages are ready when the first batch is filled.
    """

    _SLICE = 1 << 24  # values touched between two looks at the stop flag

    def __init__(self):
        self._array: np.ndarray | None = None
        self._ahead: Future | None = None
        self._stop = threading.Event()

    def touch_ahead(self, size: int) -> None:
        stop = self._stop

        def touched() -> np.ndarray | None:
            array = np.empty(size, dtype=np.uint32)
            for start in range(0, size, self._SLICE):
                if stop.is_set():
                    return None
                array[start : start + self._SLICE] = 0
            return array

        pool = ThreadPoolExecutor(1)
        self._ahead = pool.submit(touched)
        pool.shutdown(wait=False)  # the thread finishes its one task and ends

    def get(self, size: int) -> np.ndarray:
        """An array of ``size`` values: the one held if large enough, else a new one (the old one freed first)."""
        if self._ahead is not None:
            self._array, self._ahead = self._ahead.result(), None
        if self._array is None or self._array.size < size:
            self._array = None
            self._array = np.empty(size, dtype=np.uint32)
        return self._array[:size]

    def release(self) -> None:
        """Drop the buffer, and stop touching it ahead (an error came first)."""
        self._stop.set()
        self._array = self._ahead = None


def profiles_and_de(
    source: Source,
    *,
    de: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    batch_entries: int = DEFAULT_BATCH_ENTRIES,
    buffer: ValueBuffer | None = None,
    progress: Say | None = None,
) -> tuple[Profiles, DEResult | None]:
    """Pseudobulk (and DE against control when ``de``) of one file, streamed (see the module docstring).

    ``buffer``: where the DE's values go, kept for the next file.
    """
    say = sayer(progress)
    n_rows, n_genes = source.codes.size, source.genes.size
    ranges = [slice(r, min(r + chunk_rows, n_rows)) for r in range(0, n_rows, chunk_rows)]
    de_codes = np.ascontiguousarray(source.de_codes, dtype=np.int64)
    counted = source.space == "counts"
    totals = np.zeros(n_rows) if counted else None
    entries = np.zeros(rank_kernel.entry_counts_shape(source.de_perts.size + 1, n_genes) if de else 0, dtype=np.int64)
    sorted_rows = np.ones(len(ranges), dtype=bool)
    steps = ", ".join(["checks"] + ["totals"] * counted + ["entries per gene"] * de)
    say(f"reading {n_rows:,} cells in {len(ranges)} chunks: {steps}")
    with RowReader(source.path, source.columns, chunk_rows=chunk_rows) as reader:
        for i, rows in enumerate(ranges):
            block = as_csr(reader.read(rows))
            if de:
                args = (block.indptr, block.indices, block.data, de_codes[rows])
                sorted_rows[i], valid = rank_kernel.entry_counts(*args, counts=entries)
            if not de or not valid:
                check_values(block)  # raises, naming what is wrong
            if counted:
                totals[rows] = np.asarray(block.sum(axis=1, dtype=np.float64)).ravel()
        target = _target(source, totals) if counted else None

        scaling = {}  # per chunk: its rows' factors and log1p table, made once for every batch of genes

        def normalised(rows: slice, genes: tuple[int, int] | None = None):
            """The chunk's rows normalised, in the reader's buffers (valid until the next read); with ``genes``
            (the rows' genes in increasing order), only the entries of those genes."""
            block = as_csr(reader.read(rows))
            if target is None:
                return block
            if block.data.dtype != np.float32:
                return normalize_block(block, target_sum=target, inplace=True, totals=totals[rows])
            if rows.start not in scaling:
                factor = row_factors(totals[rows], target, block.data.dtype)
                scaling[rows.start] = factor, log1p_table(factor)
            factor, table = scaling[rows.start]
            log1p_divided_rows(block.indptr, block.data, factor, table=table, indices=block.indices, genes=genes)
            return block

        if not de:
            say("pseudobulk")
            sums = np.zeros((source.groups.size, n_genes))
            for rows in ranges:
                add_sparse_rows(normalised(rows), source.codes[rows], sums)
            return assemble(source, sums)
        return _de_pass(
            source,
            ranges,
            entries.sum(axis=0),  # per group and gene
            sorted_rows,
            de_codes,
            normalised,
            batch_entries=batch_entries,
            buffer=buffer or ValueBuffer(),
            say=say,
        )


def _de_pass(source: Source, ranges, entries, sorted_rows, de_codes, normalised, *, batch_entries: int, buffer, say):
    """Pass 2: per batch of genes, every chunk read, normalised and its values placed in ``buffer``, and added to
    the pseudobulk sums. ``entries``: pass 1's counts per (group, gene)."""
    n_genes, n_groups = source.genes.size, source.de_perts.size + 1
    group_bits = max(1, int(n_groups - 1).bit_length())
    sizes = np.bincount(de_codes[de_codes >= 0], minlength=n_groups).astype(np.float64)
    per_gene = entries.sum(axis=0)
    batches = rank_kernel.gene_batches(per_gene, batch_entries)
    room = buffer.get(max(size for _, _, size in batches))
    sums = np.zeros((source.groups.size, n_genes))
    # Where every pseudobulked row lists its genes in order, each batch normalises and adds up only its own genes
    # (each gene's sums still run over the rows in order); else the first batch does every gene.
    windowed = bool(sorted_rows.all()) and np.array_equal(source.codes >= 0, de_codes >= 0)
    stat, tie = np.empty((n_groups - 1, n_genes)), np.empty((n_groups - 1, n_genes))
    for b, (g0, g1, size) in enumerate(batches):
        say(f"Wilcoxon DE, genes {g0:,}-{g1:,} of {n_genes:,} (batch {b + 1} of {len(batches)}, {len(ranges)} chunks)")
        starts = np.concatenate([[0], np.cumsum(per_gene[g0:g1])])
        values = room[:size]
        # The places come from pass 1's counts; a chunk that reads differently now cannot write outside them.
        slots, ends = rank_kernel.value_places(entries[:, g0:g1], starts[:-1])
        for i, rows in enumerate(ranges):
            block = normalised(rows, (g0, g1) if windowed or (b > 0 and sorted_rows[i]) else None)
            if windowed:
                add_sparse_rows(block, source.codes[rows], sums, genes=(g0, g1))
            elif b == 0:
                add_sparse_rows(block, source.codes[rows], sums)
            raw, is_float32, zero_code = rank_kernel.entry_codes(block.data)
            if not is_float32:
                msg = "the streamed DE ranks float32 values; these need float64: evaluate in memory instead"
                raise ValueError(msg)
            refused = rank_kernel.fill(
                block.indptr,
                block.indices,
                raw,
                is_float32,
                zero_code,
                de_codes[rows],
                sorted_rows=bool(sorted_rows[i]),
                genes=(g0, g1),
                per_gene=per_gene[g0:g1],
                slots=slots,
                ends=ends,
                values=values,
            )
            if refused:
                msg = f"rows {rows.start}-{rows.stop} changed between two reads of {source.path}"
                raise ValueError(msg)
        if not np.array_equal(slots, ends):
            msg = f"{source.path} changed between two reads: fewer entries than counted"
            raise ValueError(msg)
        segments = np.ascontiguousarray(entries[:, g0:g1].T)
        stat[:, g0:g1], tie[:, g0:g1] = rank_kernel.rank_sums(
            values, starts, segments, sizes[1:], int(sizes[0]), 1 << 31, group_bits
        )
    return assemble(source, sums, stat, tie)


def _target(source: Source, totals: np.ndarray) -> float:
    """:func:`vcc_core.data.normalize.median_target` over the labelled cells, by its sparse or dense rule."""
    like = sparse.csr_matrix((0, 1), dtype=source.dtype) if source.is_sparse else np.empty((0, 1), source.dtype)
    kept = totals[source.codes >= 0]
    if not source.is_sparse:
        kept = kept[kept > 0]
    if kept.size == 0 or not kept.any():
        return median_target(like, totals=np.zeros(0))
    return median_target(like, totals=kept)


def evaluate(
    real: str | Path,
    pred: str | Path,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    profile: str = "vcc",
    metrics: list[str] | None = None,
    epsilon: float = 0.0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    batch_entries: int = DEFAULT_BATCH_ENTRIES,
    progress: Say | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`vcc_core.evaluation.evaluate.evaluate` of two ``.h5ad`` files, each read in chunks of ``chunk_rows`` rows.

    Working memory is bounded by ``batch_entries`` (4 bytes each) plus a few chunks of rows; the file's
    ``obs``/``var`` and the (perturbations x genes) results are held as usual.

    Raises
    ------
    ValueError
        As :func:`vcc_core.evaluation.evaluate.evaluate`.
    """
    names = metrics if metrics is not None else profile_metrics(profile)
    refuse_cell_metrics(names, "stream")
    need_de = any(get_metric(n).kind == "de" for n in names)
    say = sayer(progress)
    say("reading obs and var of the real and predicted files")
    buffer = ValueBuffer()
    if need_de:
        buffer.touch_ahead(min(batch_entries, max(stored_entries(real), stored_entries(pred))))
    try:
        real_src, pred_src = open_pair(real, pred, pert_col=pert_col, control=control)
        sides = []
        for name, source in (("real", real_src), ("pred", pred_src)):
            try:
                sides.append(
                    profiles_and_de(
                        source,
                        de=need_de,
                        chunk_rows=chunk_rows,
                        batch_entries=batch_entries,
                        buffer=buffer,
                        progress=lambda m, name=name: say(f"{name}: {m}"),
                    )
                )
            except ValueError as err:
                raise ValueError(f"{'real data' if name == 'real' else 'predictions'}: {err}") from err
    finally:
        buffer.release()
    say("metrics")
    (real_p, real_de), (pred_p, pred_de) = sides
    dtypes = tuple(value_dtype(s) for s in (real_src, pred_src))
    return evaluate_profiles(
        real_p, pred_p, real_de=real_de, pred_de=pred_de, metrics=names, dtypes=dtypes, epsilon=epsilon
    )
