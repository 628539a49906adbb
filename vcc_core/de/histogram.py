"""Wilcoxon rank sums of every perturbation against control from value histograms that add up.

A histogram counts the nonzero entries of labelled cells per ``(gene, value bin, group)``. Histograms of
disjoint row ranges merge by adding counts, so they can be built chunk by chunk on different machines; the
zeros of a gene follow from the group sizes. From one merged histogram, with ``a`` the control count and ``w``
a perturbation's count in a bin:

- ``U1 = sum over the perturbation's bins of w (C + a / 2)``, ``C`` the control count in lower bins of the gene;
- the pooled tie term is ``sum over bins of t^3 - t`` with ``t = w + a``.

These are sums of integers (and halves), held exactly, and they feed :func:`vcc_core.de.wilcoxon.mwu_pvalues`.

Bins: each value is rounded to float32 and mapped to its order-preserving 32-bit code, of which the top
``9 + mantissa_bits`` bits are kept (sign, exponent and the leading mantissa bits). With ``mantissa_bits=23``
a bin is one float32 value and the result equals :func:`vcc_core.de.wilcoxon.wilcoxon_de` exactly for data float32
holds (integer counts below 2^24, float32 log1p values). With fewer bits, values within a relative distance of
about ``2^-mantissa_bits`` may share a bin and are then ranked as tied: that is the only approximation (as are
positive values below ``2^(-149 + 23 - mantissa_bits)``, which share the bin of zero).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import sparse

VALUE_BITS = 32
MANTISSA_BITS = 23
KEY_BITS = 63


@dataclass(frozen=True)
class Histogram:
    """Sorted unique int64 keys ``gene | value bin | group`` and the number of entries under each."""

    keys: np.ndarray
    counts: np.ndarray


def group_bits(n_groups: int) -> int:
    """Bits of the group field for codes ``0 .. n_groups - 1``."""
    return max(1, int(n_groups - 1).bit_length())


def check_key_space(n_genes: int, n_groups: int) -> None:
    """Raise a ``ValueError`` when genes, value bins and groups do not fit in one int64 key."""
    needed = max(1, int(n_genes - 1).bit_length()) + VALUE_BITS + group_bits(n_groups)
    if needed > KEY_BITS:
        msg = f"{n_genes} genes and {n_groups} groups need {needed}-bit histogram keys; at most {KEY_BITS} fit"
        raise ValueError(msg)


def value_bins(values: np.ndarray, *, mantissa_bits: int = MANTISSA_BITS) -> np.ndarray:
    """int64 bin of each value, ordered like the values; equal float32 values share a bin.

    Raises
    ------
    ValueError
        If ``mantissa_bits`` is outside 0..23.
    """
    if not 0 <= mantissa_bits <= MANTISSA_BITS:
        msg = f"mantissa_bits must be between 0 and {MANTISSA_BITS}, got {mantissa_bits}"
        raise ValueError(msg)
    bits = np.asarray(values, dtype=np.float32).view(np.int32)
    ordered = np.where(bits < 0, bits ^ 0x7FFFFFFF, bits).astype(np.int64) + (1 << 31)
    return ordered >> (MANTISSA_BITS - mantissa_bits)


def zero_bin(mantissa_bits: int = MANTISSA_BITS) -> int:
    """The bin of the value 0."""
    return int(value_bins(np.zeros(1), mantissa_bits=mantissa_bits)[0])


def entry_histogram(x, codes: np.ndarray, *, n_groups: int, mantissa_bits: int = MANTISSA_BITS) -> Histogram:
    """Histogram of the nonzero entries of the rows of ``x`` whose code is 0 (control) or more.

    ``x`` is a CSR matrix or a dense array (cells x genes), ``codes`` one group code per row (-1: left out).

    Raises
    ------
    ValueError
        If a value is NaN (the rank test needs ordered values).
    """
    csr = sparse.csr_matrix(x)
    lengths = np.diff(csr.indptr)
    keep = np.repeat(codes >= 0, lengths) & (csr.data != 0)
    values = csr.data[keep]
    if np.isnan(values).any():
        msg = f"X holds {int(np.isnan(values).sum())} NaN values; the rank test needs finite or infinite numbers"
        raise ValueError(msg)
    gb = group_bits(n_groups)
    keys = csr.indices[keep].astype(np.int64) << (VALUE_BITS + gb)
    keys |= value_bins(values, mantissa_bits=mantissa_bits) << gb
    keys |= np.repeat(codes, lengths)[keep].astype(np.int64)
    keys.sort()
    return _sum_equal(keys, np.ones(keys.size, dtype=np.int64))


def merge(*histograms: Histogram) -> Histogram:
    """One histogram holding the entries of all of them."""
    if len(histograms) == 1:
        return histograms[0]
    keys = np.concatenate([h.keys for h in histograms])
    counts = np.concatenate([h.counts for h in histograms])
    order = np.argsort(keys, kind="stable")  # a merge of sorted runs: much faster than a plain sort
    return _sum_equal(keys[order], counts[order])


def split_genes(histogram: Histogram, bounds: np.ndarray, *, n_groups: int) -> list[Histogram]:
    """The histogram cut into gene ranges ``bounds[i]:bounds[i + 1]``."""
    starts = np.searchsorted(histogram.keys, np.asarray(bounds, dtype=np.int64) << (VALUE_BITS + group_bits(n_groups)))
    return [Histogram(histogram.keys[a:b], histogram.counts[a:b]) for a, b in itertools.pairwise(starts)]


def rank_statistics(
    histogram: Histogram, sizes: np.ndarray, genes: tuple[int, int], *, mantissa_bits: int = MANTISSA_BITS
) -> tuple[np.ndarray, np.ndarray]:
    """``(P, n)`` U1 and pooled tie term ``sum(t^3 - t)`` of genes ``g0:g1`` from their merged histogram.

    ``sizes`` holds the number of cells of each group (control first); ``P = sizes.size - 1``.
    """
    g0, g1 = genes
    n_genes, n_perts, gb = g1 - g0, sizes.size - 1, group_bits(sizes.size)
    histogram = _with_zeros(histogram, sizes, genes, mantissa_bits=mantissa_bits)
    keys, w = histogram.keys, histogram.counts  # every gene has entries now: its zeros at least
    gene, group = (keys >> (VALUE_BITS + gb)) - g0, keys & ((1 << gb) - 1)
    control = group == 0
    opens = np.empty(keys.size, dtype=bool)  # first entry of each (gene, bin)
    opens[0] = True
    np.not_equal(keys[1:] >> gb, keys[:-1] >> gb, out=opens[1:])
    starts, run = np.flatnonzero(opens), np.cumsum(opens) - 1
    # Control sorts first in its bin, so the control entries before a bin's first entry are those in lower bins.
    control_w = np.where(control, w, 0)
    before = np.cumsum(control_w) - control_w
    below = before[starts] - before[np.searchsorted(gene, np.arange(n_genes))][gene[starts]]
    a_run = np.add.reduceat(control_w, starts)
    pert = np.flatnonzero(~control)
    wp, rp = w[pert], run[pert]
    ap = a_run[rp]
    index = gene[pert] * n_perts + group[pert] - 1
    twice_u = np.bincount(index, wp * (2 * below[rp] + ap), minlength=n_genes * n_perts)
    tied = np.flatnonzero((ap > 0) | (wp > 1))  # the others add (1 + 0)^3 - 1 - 0 = 0
    t, c = wp[tied] + ap[tied], ap[tied]
    tie = np.bincount(index[tied], t * t * t - t - (c * c * c - c), minlength=n_genes * n_perts)
    shared = np.flatnonzero(control & (w > 1))
    control_tie = np.bincount(gene[shared], w[shared] ** 3 - w[shared], minlength=n_genes)
    return (twice_u.reshape(n_genes, n_perts) / 2).T, (tie.reshape(n_genes, n_perts) + control_tie[:, None]).T


def _with_zeros(histogram: Histogram, sizes: np.ndarray, genes: tuple[int, int], *, mantissa_bits: int) -> Histogram:
    """Add, per gene and group, the cells without an entry as one count in the bin of zero."""
    g0, g1 = genes
    gb = group_bits(sizes.size)
    gene = (histogram.keys >> (VALUE_BITS + gb)) - g0
    group = histogram.keys & ((1 << gb) - 1)
    stored = np.bincount(gene * sizes.size + group, histogram.counts, minlength=(g1 - g0) * sizes.size)
    zeros = np.asarray(sizes, dtype=np.int64)[None, :] - stored.astype(np.int64).reshape(g1 - g0, sizes.size)
    zg, zk = np.nonzero(zeros)
    keys = ((zg + g0).astype(np.int64) << (VALUE_BITS + gb)) | (zero_bin(mantissa_bits) << gb) | zk
    at = np.searchsorted(histogram.keys, keys)
    clash = at < histogram.keys.size
    clash[clash] = histogram.keys[at[clash]] == keys[clash]  # values binned with zero (tiny ones)
    counts = histogram.counts.copy()
    np.add.at(counts, at[clash], zeros[zg, zk][clash])
    fresh = ~clash
    return Histogram(
        np.insert(histogram.keys, at[fresh], keys[fresh]), np.insert(counts, at[fresh], zeros[zg, zk][fresh])
    )


def _sum_equal(keys: np.ndarray, counts: np.ndarray) -> Histogram:
    """Histogram of sorted ``keys``, adding the counts of equal ones."""
    if keys.size == 0:
        return Histogram(keys, counts)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return Histogram(keys[starts], np.add.reduceat(counts, starts))
