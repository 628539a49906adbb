"""Rank sums by one sort per batch of genes: the engine of :func:`vcc_core.de.wilcoxon.wilcoxon_de` on a GPU (torch).

Per batch of genes, every nonzero entry of a labelled cell becomes one int64 key
``gene | value | group`` (an order-preserving 32-bit code of the value; control is group 0, so it sorts first
among equal values). After one sort, a running count of control entries gives, for every perturbation entry,
the number of control values at or below it. Zeros never enter the sort: per gene and group they form one tie
block whose size follows from the nonzero counts. Exact ties between nonzero values are corrected on the few
entries equal to a neighbour. All counts are integers held exactly in float64.

The same code runs with numpy on the CPU (``device=None``), where the tests compare it with the compiled kernel.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from scipy import sparse

from vcc_core.data.normalize import as_csr
from vcc_core.de import kernel as rank_kernel
from vcc_core.device import to_numpy

VALUE_BITS = 32
CPU_CHUNK = 1 << 18  # entries per post-sort step on the CPU: a few arrays of this size stay in cache


def rank_statistics(X, codes, counts, *, device, batch_entries: int, progress) -> tuple[np.ndarray, np.ndarray]:
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
    csr = as_csr(X)
    if not np.all(codes >= 0):
        csr, codes = csr[np.flatnonzero(codes >= 0)], codes[codes >= 0]
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
    rank_kernel.check_batch(batch_entries)
    if csr.nnz <= batch_entries and csr.shape[1] <= max_genes:
        return [(0, csr.shape[1], csr.nnz)]
    return rank_kernel.gene_batches(
        np.bincount(csr.indices, minlength=csr.shape[1]), batch_entries, max_genes=max_genes
    )


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
