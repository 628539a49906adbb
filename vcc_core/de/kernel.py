"""Compiled CPU kernels for the Wilcoxon rank sums of :mod:`vcc_core.de.wilcoxon` (bucket by gene and group, radix sort,
one scan), and the helpers that plan them (value codes, batches of genes).

Every nonzero entry of a range of genes becomes a 32-bit order-preserving code of its value, written into its
gene's bucket at its group's place: a bucket holds control's values (group 0), then group 1's, and so on, each in
row order. The places come from counts per (group, gene) made in a first pass (threads split the rows, each
counting into its own copy, and check the values on the way); in the second, threads split the genes, so each
place has one writer. Each bucket is then sorted by value by a least-significant-digit radix sort (linear, in
cache, stable: equal values stay in group order, control first) into int64 keys ``value << group_bits | group``,
and scanned once. With ``C`` the control's nonzero values, ``zc``/``zp`` the zeros of control and perturbation,
and a run of ``b`` entries of a perturbation equal to ``v`` and to ``a`` control values:

- ``U1 = sum over runs of b (#{C < v} + a / 2) + zc #{entries > 0} + zp (#{C < 0} + zc / 2)``;
- ``T = sum over control runs (a^3 - a) + sum over runs ((a + b)^3 - (a + b) - (a^3 - a)) + (zc + zp)^3 - (zc + zp)``.

Every term is an integer or a half far below 2^53, so float64 holds each sum exactly, whatever the order: the
result equals the sort-based path of :mod:`vcc_core.de.wilcoxon` bit for bit (``tests/test_de.py``). Four bytes per
entry of a batch (the bucket) is the working memory, plus scratch for the genes being sorted.
"""

from __future__ import annotations

import itertools

import numba
import numpy as np

from vcc_core.compiled import parallel_kernel, threads

GENES_PER_TASK = 64  # genes sorted by one task: enough tasks to balance the threads, few scratch allocations
FILL_WINDOW = 1024  # genes whose buckets are written in one sweep of the rows
CPU_BATCH_ENTRIES = 1 << 23
"""Values of a batch of genes on the CPU, at most: 32 MB, reused from batch to batch. A batch as large as the data
(120 MB for 10,000 cells) is fresh memory, slow to touch the first time, and sorts no faster."""


@numba.njit(cache=True, inline="always")
def _value_code(raw, is_float32):
    """Unsigned order-preserving code: float32 bits (negatives flipped, offset by 2^31; -0.0 as 0.0), or the code."""
    if is_float32:
        bits = np.int64(raw)
        if bits == -(1 << 31):  # -0.0 is zero
            return np.int64(1 << 31)
        if bits < 0:
            bits = bits ^ 0x7FFFFFFF
        return bits + (1 << 31)
    return np.int64(raw)


@numba.njit(cache=True)
def row_blocks(indptr, n_blocks):
    """``n_blocks + 1`` row bounds splitting the entries into about equal parts."""
    n_rows = indptr.size - 1
    bounds = np.empty(n_blocks + 1, dtype=np.int64)
    for b in range(n_blocks + 1):
        bounds[b] = np.searchsorted(indptr, indptr[n_rows] * b // n_blocks)
    bounds[n_blocks] = n_rows
    return bounds


@numba.njit(cache=True, inline="always")
def _row_start(indices, lo, hi, g0, sorted_rows):
    """First entry of a row (``indices[lo:hi]``) whose gene may be >= ``g0``: found by bisection in sorted rows."""
    if not sorted_rows:
        return lo
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < g0:
            lo = mid + 1
        else:
            hi = mid
    return lo


@parallel_kernel
def scan_rows(indptr, indices, data, codes, bounds, counts, flags):
    """One read of a chunk of rows, split into row blocks ``bounds`` (one per thread): ``counts[b, group, gene] +=``
    the nonzero entries of block ``b``'s labelled rows (a private copy per block: no place has two writers), and
    ``flags[b]``: labelled rows of block ``b`` whose genes are not in increasing order, and values not finite or
    below 0.
    """
    for b in numba.prange(bounds.size - 1):
        disorder, bad = 0, 0
        for r in range(bounds[b], bounds[b + 1]):
            lo, hi = indptr[r], indptr[r + 1]
            for e in range(lo, hi):  # a loop of its own: it vectorises
                value = data[e]
                bad += (value < 0) | (value != value) | (value == np.inf)
            if codes[r] < 0:
                continue
            row = counts[b, codes[r]]
            previous = -1
            for e in range(lo, hi):
                gene = indices[e]
                disorder += gene < previous
                previous = gene
                row[gene] += data[e] != 0
        flags[b, 0] = disorder
        flags[b, 1] = bad


@parallel_kernel
def fill_values(
    indptr, indices, raw, is_float32, zero_code, codes, sorted_rows, splits, g0, slots, ends, values, window
):
    """Write the value code of every nonzero entry of genes ``splits[0]:splits[-1]`` of the labelled rows at
    ``values[slots[group, gene - g0]]``, advancing it; returns the entries that found their place range
    ``slots:ends`` full (0 unless the data changed since it was counted: those are not written).

    Thread ``t`` writes genes ``splits[t]:splits[t + 1]``. In ``sorted_rows``, only each row's entries of those
    genes are read, ``window`` genes at a time: each row's position is kept from one window to the next, and the
    writes of a window go to few places (their cache lines stay in cache).
    """
    overflow = np.zeros(splits.size - 1, dtype=np.int64)
    n_rows = indptr.size - 1
    for t in numba.prange(splits.size - 1):
        a, b = splits[t], splits[t + 1]
        step = max(window, 1) if sorted_rows else max(b - a, 1)
        cursor = np.empty(n_rows, dtype=np.int64)
        for r in range(n_rows):
            cursor[r] = _row_start(indices, indptr[r], indptr[r + 1], a, sorted_rows)
        for w0 in range(a, b, step):
            w1 = min(w0 + step, b)
            for r in range(n_rows):
                group = codes[r]
                if group < 0:
                    continue
                e = cursor[r]
                stop = indptr[r + 1]
                while e < stop:
                    gene = indices[e]
                    if gene >= w1 and sorted_rows:
                        break
                    if w0 <= gene < w1:
                        value = _value_code(raw[e], is_float32)
                        if value != zero_code:
                            slot = slots[group, gene - g0]
                            if slot < ends[group, gene - g0]:
                                values[slot] = value
                                slots[group, gene - g0] = slot + 1
                            else:
                                overflow[t] += 1
                    e += 1
                cursor[r] = e
    return overflow.sum()


COUNT_COPIES_BYTES = 1 << 28  # the threads' private (group, gene) counts, at most (one copy if a copy is larger)


def entry_counts_shape(n_groups: int, n_genes: int) -> tuple[int, int, int]:
    """Shape of the counts :func:`entry_counts` adds to: a private copy per thread, as ``COUNT_COPIES_BYTES``
    allows (a genome-wide screen's copy can be larger: its rows are then counted by one thread)."""
    copies = min(threads(), max(1, COUNT_COPIES_BYTES // max(8 * n_groups * n_genes, 1)))
    return copies, n_groups, n_genes


def entry_counts(indptr, indices, data, codes, *, counts: np.ndarray) -> tuple[bool, bool]:
    """Read the rows once: add their nonzero entries per (group, gene) to ``counts`` (shaped by
    :func:`entry_counts_shape`; its sum over the first axis is the counts).

    Returns ``(sorted_rows, valid)``: whether every labelled row lists its genes in increasing order, and whether
    every value is finite and >= 0 (if not, :func:`vcc_core.data.space.check_values` says which).
    """
    bounds = row_blocks(indptr, counts.shape[0])
    flags = np.zeros((bounds.size - 1, 2), dtype=np.int64)
    scan_rows(indptr, indices, data, np.ascontiguousarray(codes, dtype=np.int64), bounds, counts, flags)
    return not flags[:, 0].any(), not flags[:, 1].any()


def gene_splits(per_gene: np.ndarray, g0: int, g1: int, parts: int) -> np.ndarray:
    """``parts + 1`` gene bounds from ``g0`` to ``g1`` holding about equal numbers of entries (``per_gene``)."""
    cumulative = np.cumsum(per_gene[g0:g1], dtype=np.int64)
    total = int(cumulative[-1]) if cumulative.size else 0
    inner = np.searchsorted(cumulative, [total * t // parts for t in range(1, parts)], side="right")
    return np.concatenate([[g0], g0 + inner, [g1]]).astype(np.int64)


def value_places(counts: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(slots, ends)``: group ``p``'s values of gene ``g`` go to ``slots[p, g]:ends[p, g]``, from ``first[g]``
    (the gene's bucket) after the groups before ``p``. ``counts``: ``(groups, genes)`` of a batch of genes."""
    slots = first[None, :] + np.cumsum(counts, axis=0) - counts
    return slots, slots + counts


def fill(
    indptr,
    indices,
    raw,
    is_float32,
    zero_code,
    codes,
    *,
    sorted_rows,
    genes,
    per_gene,
    slots,
    ends,
    values,
    window: int = FILL_WINDOW,
) -> int:
    """:func:`fill_values` of genes ``genes = (g0, g1)`` with the threads' ranges balanced on ``per_gene``
    (the batch's entries per gene); returns the entries refused (0 unless the data changed)."""
    g0, g1 = genes
    splits = gene_splits(per_gene, 0, g1 - g0, threads()) + g0
    args = (indptr, indices, raw, is_float32, zero_code, codes, sorted_rows, splits, g0, slots, ends, values)
    return int(fill_values(*args, window))


@numba.njit(cache=True, inline="always")
def _bit_length(n):
    bits = 0
    while n >> bits:
        bits += 1
    return bits


@numba.njit(cache=True)
def _sorted_keys(bucket, segments, group_bits, one, two):
    """The keys ``value << group_bits | group`` of one gene's bucket, sorted by value, equal values in group order.

    ``bucket`` holds ``segments[0]`` values of group 0, then ``segments[1]`` of group 1, and so on; ``one`` and
    ``two`` are scratch of its size, and the one that holds the result is returned. The first pass of the
    least-significant-digit radix sort reads the bucket and writes keys; digits are taken from ``value - min``, so
    only the bits in which the values differ are sorted (a gene's values span a few binades: two passes, where
    all 32 bits would take three), and the counts of every digit are made in one read.
    """
    n = bucket.size
    lo = np.int64(bucket[0]) if n else np.int64(0)
    hi = lo
    for i in range(1, n):
        v = np.int64(bucket[i])
        lo = min(lo, v)
        hi = max(hi, v)
    n_bits = _bit_length(hi - lo)
    # Digits of about log2(n) bits, 11 to 14: each pass zeroes and sums a count per digit value, which for most genes
    # (a few hundred values) would cost far more than the values themselves at 14 bits. 32 bits take 3 passes at most.
    cap = min(max(_bit_length(n), 11), 14)
    passes = max((n_bits + cap - 1) // cap, 1)
    width = max((n_bits + passes - 1) // passes, 1)
    mask = (1 << width) - 1
    count = np.zeros((passes, mask + 1), dtype=np.int64)
    if passes == 1:  # one loop per number of passes (at most 3 for 32 bits): a loop over passes here costs 30%
        for i in range(n):
            count[0, (np.int64(bucket[i]) - lo) & mask] += 1
    elif passes == 2:
        for i in range(n):
            v = np.int64(bucket[i]) - lo
            count[0, v & mask] += 1
            count[1, (v >> width) & mask] += 1
    else:
        for i in range(n):
            v = np.int64(bucket[i]) - lo
            count[0, v & mask] += 1
            count[1, (v >> width) & mask] += 1
            count[2, (v >> (2 * width)) & mask] += 1
    needed = np.empty(passes, dtype=np.bool_)
    for p in range(passes):
        needed[p] = p == 0 or count[p].max() < n  # one digit value for all keys: already in order for it
        total = 0
        for d in range(mask + 1):
            c = count[p, d]
            count[p, d] = total
            total += c
    i = 0
    for group in range(segments.size):
        for _ in range(segments[group]):
            v = np.int64(bucket[i])
            d = (v - lo) & mask
            one[count[0, d]] = (v << group_bits) | group
            count[0, d] += 1
            i += 1
    src, dst = one, two
    for p in range(1, passes):
        if not needed[p]:
            continue
        shift = p * width
        for i in range(n):
            d = (((src[i] >> group_bits) - lo) >> shift) & mask
            dst[count[p, d]] = src[i]
            count[p, d] += 1
        src, dst = dst, src
    return src


@parallel_kernel
def rank_sums(values, starts, segments, sizes, n_control, zero_code, group_bits):
    """``(P, G)`` U1 and pooled tie term of the ``P = sizes.size`` perturbations (groups 1..P) against control.

    ``values[starts[g]:starts[g + 1]]`` are gene ``g``'s value codes, ``segments[g, p]`` of group ``p`` after
    those of the groups before it; ``sizes[p]`` cells in group ``p + 1``, ``n_control`` in control.

    The scan does not branch on the data (ties are frequent: 41% of the preset's entries equal the next one in
    their gene). In a run of equal values the control entries come first, then each group's entries together, so
    an entry knows ``a``, the control entries of its run, and ``k``, the entries of its group before it in the run:
    it adds ``below + a / 2`` to its group's U1 and ``f(a + k + 1) - f(a + k) = 3 (a + k) (a + k + 1)`` to its
    group's tie term (``f(t) = t^3 - t``; a control entry adds ``3 k (k + 1)`` to control's). Sums are kept in int64
    (U1 doubled) and float64 (tie terms, exact below 2^53), as the sort-based path.
    """
    n_genes = starts.size - 1
    n_perts = sizes.size
    mask = (1 << group_bits) - 1
    stat = np.empty((n_perts, n_genes))
    tie = np.empty((n_perts, n_genes))
    n_tasks = (n_genes + GENES_PER_TASK - 1) // GENES_PER_TASK
    for task in numba.prange(n_tasks):
        first = task * GENES_PER_TASK
        last = min(first + GENES_PER_TASK, n_genes)
        longest = 0
        for g in range(first, last):
            longest = max(longest, starts[g + 1] - starts[g])
        one = np.empty(longest, dtype=np.int64)
        two = np.empty(longest, dtype=np.int64)
        acc = np.empty((n_perts + 1, 3), dtype=np.int64)  # per group: 2 U1, entries, entries below zero
        ties = np.empty(n_perts + 1)  # per group: tie term (float64: a run of 2 million would overflow int64)
        for g in range(first, last):
            n = starts[g + 1] - starts[g]
            s = _sorted_keys(values[starts[g] : starts[g + 1]], segments[g], group_bits, one[:n], two[:n])
            acc[:] = 0
            ties[:] = 0.0
            i = 0
            while i < n and s[i] >> group_bits < zero_code:  # values below zero sort first
                acc[s[i] & mask, 2] += 1
                i += 1
            below = 0  # control entries below the current value
            run_below = 0  # control entries below the current run of equal values
            a = 0  # control entries of the run seen so far (all of them, from its first other entry on)
            k = 0  # entries of the run with this entry's key (value and group) before it
            previous = -1
            for i in range(n):
                key = s[i]
                group = key & mask
                same_value = key >> group_bits == previous >> group_bits
                k = k + 1 if key == previous else 0
                previous = key
                run_below = run_below if same_value else below
                a = a if same_value else 0
                is_control = group == 0
                m = k if is_control else a + k
                acc[group, 0] += 2 * run_below + a
                acc[group, 1] += 1
                ties[group] += 3.0 * m * (m + 1)
                below += is_control
                a += is_control
            zc = float(n_control - below)  # control zeros: control cells without an entry
            negative = float(acc[0, 2])  # control values below zero
            ctrl_ties = ties[0]
            for p in range(1, n_perts + 1):
                nnz = float(acc[p, 1])
                zp = sizes[p - 1] - nnz
                block = zc + zp
                stat[p - 1, g] = acc[p, 0] / 2.0 + zc * (nnz - acc[p, 2]) + zp * (negative + zc / 2.0)
                tie[p - 1, g] = ctrl_ties + ties[p] + block * block * block - block
    return stat, tie


def entry_codes(data: np.ndarray) -> tuple[np.ndarray, bool, int]:
    """What the kernel reads per entry: float32 values as int32 bits, else order-preserving int64 codes.

    Values that float32 does not hold exactly are coded ``2 * rank + 1`` among the distinct values and zero gets
    the even code between its neighbours, so zeros are told apart from every other value.
    """
    if data.dtype != np.float32:
        narrow = data.astype(np.float32)
        if not np.array_equal(narrow, data):
            distinct, inverse = np.unique(data, return_inverse=True)
            if distinct.size >= 1 << 31:  # codes must fit in 32 bits
                msg = f"{distinct.size:,} distinct values: too many to rank as float64; store the data as float32"
                raise ValueError(msg)
            zero = 2 * int(np.searchsorted(distinct, 0.0))
            return np.where(data == 0, zero, 2 * inverse.astype(np.int64) + 1), False, zero
        data = narrow
    return data.view(np.int32), True, 1 << 31


def check_batch(batch_entries: int) -> None:
    if batch_entries < 1:
        msg = f"batch_entries must be a positive number of entries, got {batch_entries}"
        raise ValueError(msg)


def gene_batches(
    per_gene: np.ndarray, batch_entries: int, *, max_genes: int | None = None
) -> list[tuple[int, int, int]]:
    """Consecutive gene ranges ``(g0, g1, entries)`` of at most ``batch_entries`` entries (or one gene)."""
    check_batch(batch_entries)
    n_genes = per_gene.size
    max_genes = max_genes or max(n_genes, 1)
    cumulative = np.concatenate([[0], np.cumsum(per_gene, dtype=np.int64)])
    bounds = [0]
    while bounds[-1] < n_genes:
        g0 = bounds[-1]
        g1 = int(np.searchsorted(cumulative, cumulative[g0] + batch_entries, side="right")) - 1
        bounds.append(min(max(g1, g0 + 1), g0 + max_genes, n_genes))
    return [(a, b, int(cumulative[b] - cumulative[a])) for a, b in itertools.pairwise(bounds)] or [(0, 0, 0)]
