"""Rank sums from value histograms: a hand-computed case, the in-memory DE as the oracle, bins that keep the order."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from vcc_core.de import histogram as rh
from vcc_core.de.wilcoxon import mwu_pvalues, wilcoxon_de
from vcc_core.keys import CONTROL


def _statistics(x, codes: np.ndarray, n_groups: int, *, split: int | None = None, mantissa_bits: int = 23):
    """U1 and tie term of all genes, the histogram built from row chunks of ``split`` rows (all rows when None)."""
    step = split or x.shape[0]
    parts = [
        rh.entry_histogram(x[i : i + step], codes[i : i + step], n_groups=n_groups, mantissa_bits=mantissa_bits)
        for i in range(0, x.shape[0], step)
    ]
    sizes = np.bincount(codes[codes >= 0], minlength=n_groups)
    return rh.rank_statistics(rh.merge(*parts), sizes, (0, x.shape[1]), mantissa_bits=mantissa_bits)


def test_hand_computed_example():
    # pert [0, 1, 2, 5] vs control [0, 0, 1, 3, 4]: pairs won 0+2+3+5, tied 2+1 -> U1 = 11.5;
    # pooled ties: three 0s (27-3) and two 1s (8-2) -> T = 30.
    x = np.array([0, 1, 2, 5, 0, 0, 1, 3, 4], dtype=np.float32)[:, None]
    codes = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0])
    stat, tie = _statistics(x, codes, 2)
    assert (stat[0, 0], tie[0, 0]) == (11.5, 30.0)


@pytest.mark.parametrize("split", [None, 7, 64])
def test_equals_wilcoxon_de_with_negatives_ties_and_left_out_cells(split):
    rng = np.random.default_rng(split)
    labels = np.repeat([CONTROL, "A", "B", "C", "skip"], [60, 25, 30, 1, 5])
    x = rng.choice(np.float32([-2.5, -0.25, 0, 0, 0, 0.5, 1.75, np.inf]), size=(labels.size, 20))
    x[:, 3] = rng.normal(size=labels.size).astype(np.float32)  # no ties but zeros
    x[:, 4] = 0  # all zero
    keep = labels != "skip"
    order = rng.permutation(labels.size)
    codes = np.select([labels == CONTROL, labels == "A", labels == "B", labels == "C"], [0, 1, 2, 3], -1)
    stat, tie = _statistics(sparse.csr_matrix(x[order]), codes[order], 4, split=split)
    ref = wilcoxon_de(x[keep], labels[keep])
    np.testing.assert_array_equal(stat, ref.statistic)
    sizes = np.bincount(codes[codes >= 0])
    np.testing.assert_array_equal(mwu_pvalues(stat, tie, n1=sizes[1:], n2=int(sizes[0])), ref.pvalue)


def test_bins_keep_the_order_and_zero_has_its_own():
    rng = np.random.default_rng(0)
    values = np.sort(np.r_[rng.normal(0, 5, 1000), -np.inf, np.inf, 0.0, 1e-30, -1e-30].astype(np.float32))
    for bits in (0, 4, 10, 23):
        bins = rh.value_bins(values, mantissa_bits=bits)
        assert np.all(np.diff(bins) >= 0), bits
        assert (bins == rh.zero_bin(bits)).sum() == 1, bits
    exact = rh.value_bins(values)
    np.testing.assert_array_equal(np.diff(exact) > 0, np.diff(values) > 0)


def test_fewer_bits_tie_only_close_values():
    values = np.float32([1.0, 1.0 + 2**-9, 1.0 + 2**-7, 3.0])
    bins = rh.value_bins(values, mantissa_bits=8)
    assert bins[0] == bins[1] < bins[2] < bins[3]


def test_histograms_of_chunks_add_up():
    rng = np.random.default_rng(1)
    x = sparse.random(50, 8, density=0.4, random_state=2, format="csr", dtype=np.float32)
    x.data = np.round(x.data * 4).astype(np.float32)
    codes = rng.integers(-1, 3, 50)
    whole = rh.entry_histogram(x, codes, n_groups=3)
    parts = rh.merge(*(rh.entry_histogram(x[i : i + 9], codes[i : i + 9], n_groups=3) for i in range(0, 50, 9)))
    np.testing.assert_array_equal(parts.keys, whole.keys)
    np.testing.assert_array_equal(parts.counts, whole.counts)
    assert whole.counts.sum() == (x[codes >= 0] != 0).sum()


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="mantissa_bits must be between 0 and 23, got 24"):
        rh.value_bins(np.ones(2), mantissa_bits=24)
    with pytest.raises(ValueError, match="X holds 1 NaN values"):
        rh.entry_histogram(np.array([[np.nan, 1.0]]), np.array([0]), n_groups=1)
    with pytest.raises(ValueError, match="need 64-bit histogram keys; at most 63 fit"):
        rh.check_key_space(1 << 21, 1 << 11)  # 21 + 32 + 11 bits
