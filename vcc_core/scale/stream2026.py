"""``evaluate --profile vcc2026 --scheduler stream``: the VCC 2026 metrics of two ``.h5ad`` files read in chunks
of rows, memory bounded, equal to :func:`vcc_core.evaluation.vcc2026.evaluate_vcc2026`.

Neither matrix is held whole (:class:`vcc_core.data.row_reader.RowReader` reads each in chunks, into reused buffers).

1. A first pass over each file checks the counts (the contract's messages), and sums each cell's counts, each
   group's counts per gene (the profiles), each DE group's CPM per gene (the gate and fold changes) and its
   nonzero entries per gene (the DE's places), and collects the rare values outside the CPM table.
2. The DE of both sides is one rank test: control (the real control cells), the real perturbations, then the
   predicted ones (the predicted control cells are only checked), every value numbered by one
   :class:`~vcc_core.de.cpm.CpmNumbers` built from both files, so the real and the predicted cells rank
   against the same control exactly as in two separate tests. Per batch of genes holding at most
   ``batch_entries`` entries, every chunk of both files is read again, numbered and written into its gene's bucket
   (:mod:`vcc_core.de.kernel`); the first batch's pass also sums each group's jackknife
   (:class:`~vcc_core.metrics.vcc2026.GroupNoise`).

Peak memory: the value buffer (4 bytes x ``batch_entries``), a chunk of rows per file and its numbers, and
``(groups x genes)`` sums. The rank sums equal the in-memory path's bit for bit; the sums of floats (CPM means,
jackknife) are added in another order, so the metrics agree to about 1e-13.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcc_core.data.normalize import DEFAULT_CHUNK_ROWS, as_csr
from vcc_core.data.pseudobulk import add_sparse_rows
from vcc_core.data.row_reader import RowReader, stored_entries
from vcc_core.de import kernel as rank_kernel
from vcc_core.de.cpm import CpmNumbers, gated_result, outside_values
from vcc_core.evaluation.counts_pair import check_count_block, check_pair_layout, read_layout
from vcc_core.evaluation.vcc2026 import CountsSide, Evaluation2026, score_sides
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.metrics.vcc2026 import GroupNoise, profiles_of
from vcc_core.progress import Say, sayer
from vcc_core.scale.stream import DEFAULT_BATCH_ENTRIES, ValueBuffer


@dataclass
class _File:
    """One side's file and what the first pass learns of it.

    ``groups``/``codes``: the profiles' groups (sorted labels, control included) and each cell's; ``de_codes``:
    each cell's group in the joint rank test (-1: not tested).
    """

    side: str
    path: str
    groups: np.ndarray
    codes: np.ndarray
    de_codes: np.ndarray
    ranges: list
    lib: np.ndarray | None = None
    sums: np.ndarray | None = None
    sorted_rows: np.ndarray | None = None

    def scales(self, rows: slice) -> np.ndarray:
        """CPM scales ``L / 1e6`` of the cells ``rows`` (1 for an empty cell): :func:`~vcc_core.de.cpm.cell_scales`."""
        scale = self.lib[rows] / 1e6
        scale[scale == 0] = 1.0
        return scale


def evaluate_vcc2026_streamed(
    real: str | Path,
    pred: str | Path,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    batch_entries: int = DEFAULT_BATCH_ENTRIES,
    progress: Say | None = None,
) -> Evaluation2026:
    """:func:`~vcc_core.evaluation.vcc2026.evaluate_vcc2026` of two ``.h5ad`` files, streamed (module docstring).

    Raises ``ValueError`` with the messages of :mod:`vcc_core.evaluation.counts_pair`.
    """
    say = sayer(progress)
    rank_kernel.check_batch(batch_entries)
    real_layout, pred_layout = read_layout(real), read_layout(pred)
    check_pair_layout(real_layout, pred_layout, pert_col=pert_col, control=control)
    real_labels = real_layout.obs[pert_col].astype(str).to_numpy()
    pred_labels = pred_layout.obs[pert_col].astype(str).to_numpy()
    perts = np.array(sorted(set(real_labels) - {control}), dtype=object)
    de_index = {name: 1 + k for k, name in enumerate(perts)}
    real_de = np.array([0 if x == control else de_index[x] for x in real_labels], dtype=np.int64)
    pred_de = np.array([-1 if x == control else perts.size + de_index[x] for x in pred_labels], dtype=np.int64)
    files = [
        _file("real data", real, real_labels, real_de, chunk_rows),
        _file("predictions", pred, pred_labels, pred_de, chunk_rows),
    ]
    n_genes, n_de = real_layout.n_vars, 1 + 2 * perts.size
    buffer = ValueBuffer()
    buffer.touch_ahead(min(batch_entries, stored_entries(real) + stored_entries(pred)))
    with ExitStack() as stack:
        readers = [stack.enter_context(RowReader(f.path, None, chunk_rows=chunk_rows)) for f in files]
        stack.callback(buffer.release)
        entries = np.zeros(rank_kernel.entry_counts_shape(n_de, n_genes), dtype=np.int64)
        cpm_sums = np.zeros((n_de, n_genes))
        outside = [_first_pass(f, reader, entries, cpm_sums, say) for f, reader in zip(files, readers, strict=True)]
        scales = np.concatenate([f.scales(slice(None)) for f in files])
        numbers = CpmNumbers.of(scales, np.unique(np.concatenate(outside)))
        say(f"{numbers.distinct.size:,} distinct CPM values numbered")
        noises = [[_noise(f, k) for k in range(f.groups.size)] for f in files]
        ranked = _rank_pass(files, readers, entries.sum(axis=0), numbers, noises, batch_entries, buffer, say)
    stat, tie, noise_sums = ranked
    sizes = np.bincount(np.concatenate([real_de, pred_de[pred_de >= 0]]), minlength=n_de).astype(np.float64)
    means = cpm_sums / np.maximum(sizes, 1)[:, None]
    sides = []
    for s, (f, noise) in enumerate(zip(files, noises, strict=True)):
        rows = np.r_[0, 1 + s * perts.size + np.arange(perts.size)]
        part = slice(s * perts.size, (s + 1) * perts.size)
        de = gated_result(perts, means[rows], sizes[rows], stat[part], tie[part])
        c = np.array([g.correction(*noise_sums[s][k]) for k, g in enumerate(noise)])
        sides.append(CountsSide(f.groups.astype(object), profiles_of(f.sums), c, de))
    say("metrics")
    return score_sides(*sides, genes=real_layout.var_names, control=control)


def _file(side: str, path, labels: np.ndarray, de_codes: np.ndarray, chunk_rows: int) -> _File:
    groups = np.array(sorted(set(labels)))
    ranges = [slice(r, min(r + chunk_rows, labels.size)) for r in range(0, labels.size, chunk_rows)]
    return _File(side, str(path), groups, np.searchsorted(groups, labels), de_codes, ranges)


def _first_pass(f: _File, reader: RowReader, entries, cpm_sums, say) -> np.ndarray:
    """Pass 1 over one file (module docstring); returns the distinct values outside the CPM table."""
    say(f"{f.side}: reading {f.codes.size:,} cells in {len(f.ranges)} chunks: checks, totals, sums")
    f.lib = np.zeros(f.codes.size)
    f.sums = np.zeros((f.groups.size, entries.shape[2]))
    f.sorted_rows = np.ones(len(f.ranges), dtype=bool)
    outside = [np.zeros(0)]
    for i, rows in enumerate(f.ranges):
        block = as_csr(reader.read(rows))
        check_count_block(block, side=f.side, first_row=rows.start)
        f.lib[rows] = np.asarray(block.sum(axis=1, dtype=np.float64)).ravel()
        add_sparse_rows(block, f.codes[rows], f.sums)
        scales = f.scales(rows)
        add_sparse_rows(block, f.de_codes[rows], cpm_sums, divisors=scales)
        f.sorted_rows[i], _ = rank_kernel.entry_counts(
            block.indptr, block.indices, block.data, f.de_codes[rows], counts=entries
        )
        outside.append(outside_values(block, scales))
    return np.unique(np.concatenate(outside))


def _noise(f: _File, k: int) -> GroupNoise:
    return GroupNoise.of(f.sums[k], f.lib[f.codes == k])


def _rank_pass(files, readers, entries, numbers, noises, batch_entries, buffer, say):
    """Pass 2: per batch of genes, every chunk of both files read, numbered and placed; the first batch also
    sums the jackknife of every group. Returns the rank sums ``(2P, genes)`` and each file's jackknife sums."""
    n_groups, n_genes = entries.shape
    group_bits = max(1, int(n_groups - 1).bit_length())
    sizes = np.bincount(np.concatenate([f.de_codes[f.de_codes >= 0] for f in files]), minlength=n_groups)
    per_gene = entries.sum(axis=0)
    batches = rank_kernel.gene_batches(per_gene, batch_entries)
    room = buffer.get(max(size for _, _, size in batches))
    stat, tie = np.empty((n_groups - 1, n_genes)), np.empty((n_groups - 1, n_genes))
    noise_sums = [[(np.zeros(n_genes), np.zeros(n_genes)) for _ in f.groups] for f in files]
    within = [_positions_within(f.codes) for f in files]
    for b, (g0, g1, size) in enumerate(batches):
        say(f"Wilcoxon DE on CPM, genes {g0:,}-{g1:,} of {n_genes:,} (batch {b + 1} of {len(batches)})")
        starts = np.concatenate([[0], np.cumsum(per_gene[g0:g1])])
        values = room[:size]
        slots, ends = rank_kernel.value_places(entries[:, g0:g1], starts[:-1])
        for s, (f, reader) in enumerate(zip(files, readers, strict=True)):
            for i, rows in enumerate(f.ranges):
                block = as_csr(reader.read(rows))
                if b == 0:
                    _add_noise(block, f.codes[rows], within[s][rows], noises[s], noise_sums[s])
                sorted_rows = bool(f.sorted_rows[i])
                codes = numbers.codes(block, f.scales(rows), np.uint32, genes=(g0, g1), sorted_rows=sorted_rows)
                refused = rank_kernel.fill(
                    block.indptr, block.indices, codes, False, 0, f.de_codes[rows],
                    sorted_rows=sorted_rows, genes=(g0, g1), per_gene=per_gene[g0:g1],
                    slots=slots, ends=ends, values=values,
                )  # fmt: skip
                if refused:
                    msg = f"{f.side}: rows {rows.start}-{rows.stop} changed between two reads of {f.path}"
                    raise ValueError(msg)
        if not np.array_equal(slots, ends):
            msg = "a file changed between two reads: fewer entries than counted"
            raise ValueError(msg)
        segments = np.ascontiguousarray(entries[:, g0:g1].T)
        stat[:, g0:g1], tie[:, g0:g1] = rank_kernel.rank_sums(
            values, starts, segments, sizes[1:].astype(np.float64), int(sizes[0]), 0, group_bits
        )
    return stat, tie, noise_sums


def _positions_within(codes: np.ndarray) -> np.ndarray:
    """Each cell's position among its group's cells, in row order."""
    order = np.argsort(codes, kind="stable")
    first = np.searchsorted(codes[order], codes[order])
    within = np.empty(codes.size, dtype=np.int64)
    within[order] = np.arange(codes.size) - first
    return within


def _add_noise(block, codes, within, noises, noise_sums) -> None:
    """Add a chunk's cells to their groups' jackknife sums."""
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, bounds):
        if rows.size == 0:
            continue
        k = codes[rows[0]]
        first, second = noises[k].entry_sums(block, rows, within[rows])
        noise_sums[k][0][:] += first
        noise_sums[k][1][:] += second
