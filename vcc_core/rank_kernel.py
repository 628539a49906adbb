"""Compiled CPU kernels for the Wilcoxon rank sums of :mod:`vcc_core.de` (bucket by gene, radix sort, one scan),
and the helpers that plan them (value codes, batches of genes).

Every nonzero entry of a range of genes becomes one int64 key ``value code | group`` (an order-preserving unsigned
32-bit code of the value; control is group 0, so it sorts first among equal values), moved into its gene's bucket
by a counting sort over row blocks in parallel. Each gene's bucket is then sorted by a least-significant-digit
radix sort (linear, in cache) and scanned once. With ``C`` the control's nonzero values, ``zc``/``zp`` the zeros of
control and perturbation, and a run of ``b`` entries of a perturbation equal to ``v`` and to ``a`` control values:

- ``U1 = sum over runs of b (#{C < v} + a / 2) + zc #{entries > 0} + zp (#{C < 0} + zc / 2)``;
- ``T = sum over control runs (a^3 - a) + sum over runs ((a + b)^3 - (a + b) - (a^3 - a)) + (zc + zp)^3 - (zc + zp)``.

Every term is an integer or a half far below 2^53, so float64 holds each sum exactly, whatever the order: the
result equals the sort-based path of :mod:`vcc_core.de` bit for bit (``tests/test_de.py``).
"""

from __future__ import annotations

import itertools

import numba
import numpy as np

from vcc_core.compiled import parallel_kernel

GENES_PER_TASK = 64  # genes sorted by one task: enough tasks to balance the threads, few scratch allocations
FILL_WINDOW = 1024  # genes whose buckets are written in one sweep of the rows


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
def count_entries(indptr, indices, raw, is_float32, zero_code, codes, g0, g1, bounds, counts, unsorted):
    """``counts[b, g - g0]`` = nonzero entries of gene ``g`` in the rows of block ``b`` (negative codes left out),
    and ``unsorted[b]`` = rows of block ``b`` whose genes are not in increasing order.

    ``raw``: the float32 values seen as int32 (``is_float32``), or int64 value codes with ``zero_code`` for 0.
    """
    n_genes = g1 - g0
    counts[:] = 0
    for b in numba.prange(bounds.size - 1):
        disorder = 0
        for r in range(bounds[b], bounds[b + 1]):
            last = -1
            for e in range(indptr[r], indptr[r + 1]):
                if indices[e] < last:
                    disorder += 1
                    break
                last = indices[e]
            if codes[r] < 0:
                continue
            for e in range(indptr[r], indptr[r + 1]):
                gene = indices[e] - g0
                if 0 <= gene < n_genes and _value_code(raw[e], is_float32) != zero_code:
                    counts[b, gene] += 1
        unsorted[b] = disorder


@parallel_kernel
def fill_keys(
    indptr,
    indices,
    raw,
    is_float32,
    zero_code,
    codes,
    g0,
    g1,
    bounds,
    slots,
    ends,
    group_bits,
    keys,
    sorted_rows,
    window,
):
    """Write the key of every entry of genes ``g0:g1`` at ``keys[slots[b, gene]]``, advancing it; returns the
    entries that found their slot range ``slots[b, gene]:ends[b, gene]`` full (0 unless the data changed since it
    was counted: those are not written).

    ``slots[b, g]`` starts at the first slot of block ``b`` in gene ``g``'s bucket; rows stay in order. In
    ``sorted_rows``, only each row's entries of the range are read, ``window`` genes at a time: each row's position
    is kept from one window to the next, and the writes of a window go to few buckets (their cache lines stay in
    cache; writing to every bucket of a large batch at once was twice as slow).
    """
    n_genes = g1 - g0
    overflow = np.zeros(bounds.size - 1, dtype=np.int64)
    window = max(window, 1) if sorted_rows else max(n_genes, 1)
    for b in numba.prange(bounds.size - 1):
        r0, r1 = bounds[b], bounds[b + 1]
        cursor = np.empty(r1 - r0, dtype=np.int64)
        for r in range(r0, r1):
            cursor[r - r0] = _row_start(indices, indptr[r], indptr[r + 1], g0, sorted_rows)
        for w0 in range(0, n_genes, window):
            w1 = min(w0 + window, n_genes)
            for r in range(r0, r1):
                group = codes[r]
                if group < 0:
                    continue
                e = cursor[r - r0]
                stop = indptr[r + 1]
                while e < stop:
                    gene = indices[e] - g0
                    if gene >= w1 and sorted_rows:
                        break
                    if 0 <= gene < n_genes:
                        value = _value_code(raw[e], is_float32)
                        if value != zero_code:
                            slot = slots[b, gene]
                            if slot < ends[b, gene]:
                                keys[slot] = (value << group_bits) | group
                                slots[b, gene] = slot + 1
                            else:
                                overflow[b] += 1
                    e += 1
                cursor[r - r0] = e
    return overflow.sum()


def entry_counts(indptr, indices, raw, is_float32, zero_code, codes, *, n_genes: int, blocks: int):
    """Row block bounds, ``(blocks, n_genes)`` counts of the entries to rank (see :func:`count_entries`) and whether
    every row lists its genes in increasing order."""
    bounds = row_blocks(indptr, blocks)
    counts = np.empty((blocks, n_genes), dtype=np.int64)
    unsorted = np.zeros(blocks, dtype=np.int64)
    count_entries(indptr, indices, raw, is_float32, zero_code, codes, 0, n_genes, bounds, counts, unsorted)
    return bounds, counts, not unsorted.any()


def gene_keys(
    indptr, indices, raw, is_float32, zero_code, codes, group_bits, *, genes, bounds, counts, buffer, sorted_rows
):
    """Keys of the entries of ``genes = (g0, g1)`` bucketed by gene, in ``buffer``: ``(keys, starts)``.

    ``counts``: the columns ``g0:g1`` of :func:`entry_counts`. Reusing one buffer for every batch matters: memory
    touched for the first time costs several times more than the work done in it here.
    """
    starts = np.concatenate([[0], np.cumsum(counts.sum(axis=0))])
    keys = buffer[: starts[-1]]
    args = (indptr, indices, raw, is_float32, zero_code, codes, group_bits)
    if not place_keys(
        *args, genes=genes, bounds=bounds, counts=counts, first=starts[:-1], keys=keys, sorted_rows=sorted_rows
    ):
        msg = "the matrix changed while its DE was computed"
        raise RuntimeError(msg)
    return keys, starts


def place_keys(
    indptr,
    indices,
    raw,
    is_float32,
    zero_code,
    codes,
    group_bits,
    *,
    genes,
    bounds,
    counts,
    first,
    keys,
    sorted_rows,
    window: int = FILL_WINDOW,
) -> bool:
    """Write the keys of these rows' entries of ``genes``, block ``b``'s entries of gene ``g`` from slot
    ``first[g]`` plus the entries of the blocks before ``b`` (``counts``: the blocks' :func:`count_entries`).

    Returns False, with no write outside those slots, when the entries are not those counted (the data changed).
    """
    slots = first[None, :] + np.cumsum(counts, axis=0) - counts
    ends = slots + counts
    g0, g1 = genes
    args = (indptr, indices, raw, is_float32, zero_code, codes, g0, g1, bounds, slots, ends, group_bits, keys)
    overflow = fill_keys(*args, sorted_rows, window)
    return overflow == 0 and np.array_equal(slots, ends)


@numba.njit(cache=True)
def _radix_sort(keys, scratch):
    """Sort ``keys`` with ``scratch`` of the same size; returns the sorted one (``keys`` or ``scratch``).

    Digits are taken from ``key - min``, so only the bits in which the keys differ are sorted: a gene's values
    span a few binades, which saves a pass of the four that all 41 bits of a key would take. The counts of every
    digit are made in one read of the keys.
    """
    n = keys.size
    if n < 2:
        return keys
    lo = keys[0]
    hi = keys[0]
    for i in range(1, n):
        lo = min(lo, keys[i])
        hi = max(hi, keys[i])
    n_bits = 0
    while (hi - lo) >> n_bits:
        n_bits += 1
    passes = (n_bits + 11) // 12
    if passes == 0:
        return keys
    width = (n_bits + passes - 1) // passes
    mask = (1 << width) - 1
    count = np.zeros((passes, mask + 1), dtype=np.int64)
    for i in range(n):
        key = keys[i] - lo
        for p in range(passes):
            count[p, (key >> (p * width)) & mask] += 1
    src, dst = keys, scratch
    for p in range(passes):
        shift = p * width
        if count[p].max() == n:  # one digit value for all keys: already in order for this digit
            continue
        total = 0
        for d in range(mask + 1):
            c = count[p, d]
            count[p, d] = total
            total += c
        for i in range(n):
            d = ((src[i] - lo) >> shift) & mask
            dst[count[p, d]] = src[i]
            count[p, d] += 1
        src, dst = dst, src
    return src


@parallel_kernel
def rank_sums(keys, starts, sizes, n_control, zero_code, group_bits):
    """``(P, G)`` U1 and pooled tie term of the ``P = sizes.size`` perturbations (groups 1..P) against control.

    ``keys[starts[g]:starts[g + 1]]`` are gene ``g``'s keys (sorted here, in place); ``sizes[p]`` cells in group
    ``p + 1``, ``n_control`` in control.

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
        scratch = np.empty(longest, dtype=np.int64)
        acc = np.empty((n_perts + 1, 3), dtype=np.int64)  # per group: 2 U1, entries, entries below zero
        ties = np.empty(n_perts + 1)  # per group: tie term (float64: a run of 2 million would overflow int64)
        for g in range(first, last):
            bucket = keys[starts[g] : starts[g + 1]]
            s = _radix_sort(bucket, scratch[: bucket.size])
            n = s.size
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
