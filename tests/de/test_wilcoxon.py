"""Wilcoxon DE: hand-computed values, scipy per gene as an oracle, and pdex 0.3.0 golden tables."""

from __future__ import annotations

import itertools
import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse
from scipy.stats import false_discovery_control, mannwhitneyu

from tests.conftest import FIXTURES, ROUNDED_ELSEWHERE
from vcc_core.de import kernel as rank_kernel
from vcc_core.de import sort as rank_sort
from vcc_core.de import wilcoxon as de
from vcc_core.de.wilcoxon import FRAME_COLUMNS, de_from_anndata, group_means, wilcoxon_de
from vcc_core.keys import CONTROL, PERT_COL

DATA = FIXTURES
GOLDEN = ["synthetic", "repeated", "papalexi"]


def _labels(n_control: int, sizes: dict[str, int]) -> np.ndarray:
    return np.repeat([CONTROL, *sizes], [n_control, *sizes.values()])


def _scipy(x: np.ndarray, labels: np.ndarray, pert: str, gene: int) -> tuple[float, float]:
    """U1 and p of scipy's asymptotic two-sided test on float64 copies (pdex ranks float64 values too)."""
    a = np.asarray(x[labels == pert, gene], dtype=np.float64).ravel()
    b = np.asarray(x[labels == CONTROL, gene], dtype=np.float64).ravel()
    res = mannwhitneyu(a, b, method="asymptotic", use_continuity=True, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def _random_counts(seed: int, n_control: int, sizes: dict[str, int], n_genes: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse integer-ish log1p data with many zeros and ties, plus an all-zero and a constant gene."""
    rng = np.random.default_rng(seed)
    labels = _labels(n_control, sizes)
    counts = rng.poisson(rng.gamma(0.4, 1.5, n_genes) * rng.uniform(0.3, 3.0, (labels.size, 1)))
    x = np.log1p(counts.astype(np.float32))
    x[:, 0] = 0.0
    x[:, 1] = np.float32(0.75)
    return x, labels


def test_hand_computed_example():
    # pert [0, 1, 2, 5] vs control [0, 0, 1, 3, 4]: pairs won 0+2+3+5, tied 2+1 -> U1 = 11.5;
    # pooled ties: three 0s (27-3) and two 1s (8-2) -> T = 30; n1 n2 = 20, n = 9.
    x = np.array([0, 1, 2, 5, 0, 0, 1, 3, 4], dtype=np.float32)[:, None]
    labels = np.array(["P"] * 4 + [CONTROL] * 5)
    res = wilcoxon_de(x, labels)
    var = 20 / 12 * (10 - 30 / (9 * 8))
    expected = math.erfc((11.5 - 10 - 0.5) / math.sqrt(var) / math.sqrt(2))
    assert res.statistic[0, 0] == 11.5
    assert res.pvalue[0, 0] == pytest.approx(expected, rel=1e-14)
    assert (res.statistic[0, 0], res.pvalue[0, 0]) == pytest.approx(_scipy(x, labels, "P", 0), rel=1e-14)


def test_degenerate_genes():
    control = np.array([[0, 2, 0, 1, 3], [0, 2, 0, 1, 0], [0, 2, 0, 1, 1]], dtype=np.float32)
    pert = np.array([[0, 2, 4, 0, 3], [0, 2, 4, 0, 0]], dtype=np.float32)
    res = wilcoxon_de(np.vstack([control, pert]), _labels(3, {"P": 2}))
    assert res.pvalue[0, :2].tolist() == [1.0, 1.0]  # all zero, and one constant value: no variance
    assert res.statistic[0, :2].tolist() == [3.0, 3.0]  # n1 n2 / 2
    assert res.log2fc[0, :4].tolist() == [0.0, 0.0, np.inf, -np.inf]  # 0/0 reads as 0, one-sided zeros as inf
    assert res.percent_change[0, :4].tolist() == [0.0, 0.0, np.inf, -1.0]


@pytest.mark.parametrize("n", [50, 300, 2000])
def test_extreme_tail_matches_scipy(n):
    # Fully separated groups: p falls to 7e-18 (n=50), 1e-99 (n=300) and underflows to 0 (n=2000).
    rng = np.random.default_rng(n)
    x = np.concatenate([rng.random(n) + 2.0, rng.random(n)]).astype(np.float32)[:, None]
    labels = np.array(["P"] * n + [CONTROL] * n)
    u, p = _scipy(x, labels, "P", 0)
    res = wilcoxon_de(x, labels)
    assert res.statistic[0, 0] == u == n * n
    assert res.pvalue[0, 0] == pytest.approx(p, rel=1e-12, abs=0)


@pytest.mark.parametrize("sizes", [{"A": 1}, {"A": 1, "B": 2}, {"A": 3}])
@pytest.mark.parametrize("n_control", [1, 2, 7])
def test_small_groups_match_scipy(sizes, n_control):
    x, labels = _random_counts(n_control, n_control, sizes, n_genes=12)
    res = wilcoxon_de(x, labels)
    for i, pert in enumerate(res.perts):
        for g in range(x.shape[1]):
            u, p = _scipy(x, labels, pert, g)
            assert res.statistic[i, g] == u
            assert res.pvalue[i, g] == pytest.approx(p, rel=1e-12)


@pytest.mark.parametrize("layout", ["csr", "csc", "dense", "negative", "float64"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_pair_matches_scipy(seed, layout):
    x, labels = _random_counts(seed, 60, {"B": 20, "A": 1, "C": 45, "D": 7}, n_genes=30)
    if layout == "negative":
        x[::3] *= -1  # dense data may hold negative values; zeros then tie in the middle
    if layout == "float64":
        x = x.astype(np.float64) * 1.1  # values float32 cannot hold: ranked on their float64 order
    matrix = {"csr": sparse.csr_matrix, "csc": sparse.csc_matrix}.get(layout, np.asarray)(x)
    res = wilcoxon_de(matrix, labels)
    assert res.perts.tolist() == ["A", "B", "C", "D"]
    expected = np.array([[_scipy(x, labels, p, g) for g in range(x.shape[1])] for p in res.perts])
    np.testing.assert_array_equal(res.statistic, expected[..., 0])
    np.testing.assert_allclose(res.pvalue, expected[..., 1], rtol=1e-12)
    np.testing.assert_array_equal(res.fdr, false_discovery_control(res.pvalue, axis=1))


def test_batches_and_engines_agree():
    x, labels = _random_counts(3, 50, {"A": 10, "B": 1, "C": 30}, n_genes=40)
    csr = sparse.csr_matrix(x)
    perts, codes = de._group_codes(labels, control=CONTROL, n_cells=x.shape[0])
    counts = np.bincount(codes, minlength=perts.size + 1)
    whole = rank_sort.rank_statistics(csr, codes, counts, device=None, batch_entries=1 << 27, progress=None)
    for batch in (1, 17, 250):
        for device in (None, torch.device("cpu")):
            got = rank_sort.rank_statistics(csr, codes, counts, device=device, batch_entries=batch, progress=None)
            np.testing.assert_array_equal(got[0], whole[0])
            np.testing.assert_array_equal(got[1], whole[1])


@pytest.mark.parametrize("seed", range(6))
def test_compiled_kernel_equals_the_sort_path(seed):
    """The CPU kernel (bucket by gene, radix sort, scan) against the sort path, bit for bit, on hard values:
    ties, negatives, stored zeros of both signs, infinities, float64 values float32 cannot hold, unlabelled rows."""
    rng = np.random.default_rng(seed)
    n, n_genes = int(rng.integers(60, 300)), int(rng.integers(1, 30))
    x = sparse.random(n, n_genes, density=rng.uniform(0.05, 0.9), random_state=seed, format="csr")
    x.data = np.round(x.data * rng.choice([3, 50])) / 4  # few distinct values: many ties
    x.data[rng.random(x.nnz) < 0.3] *= -1  # negatives, and -0.0 where the value was 0
    x.data[rng.random(x.nnz) < 0.02] = np.inf
    if seed % 3 == 1:
        x.data[rng.random(x.nnz) < 0.5] += 1e-9  # float64 values that float32 does not hold
    elif seed % 3 == 2:
        x = x.astype(np.float32)
    labels = rng.choice([CONTROL, "A", "B", "C", ""], n)
    perts, codes = de._group_codes(labels, control=CONTROL, n_cells=n)
    counts = np.bincount(codes[codes >= 0], minlength=perts.size + 1)
    expected = rank_sort.rank_statistics(x, codes, counts, device=None, batch_entries=1 << 27, progress=None)
    shuffled = _shuffle_rows(x, rng)  # genes out of order within rows: every entry read, none found by bisection
    for matrix in (x, shuffled):
        for batch in (1, 50, 1 << 27):
            got = de._compiled_rank_statistics(matrix, codes, counts, batch_entries=batch, progress=None)
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize(("scale", "passes"), [(2.0**-20, 1), (30.0, 2), (1e30, 3)])
def test_compiled_kernel_sorts_in_one_two_or_three_passes(scale, passes):
    """Positive float32 values whose spread in bits takes the radix sort 1, 2 or 3 passes (14-bit digits)."""
    rng = np.random.default_rng(passes)
    x = sparse.random(400, 12, density=0.6, random_state=passes, format="csr", dtype=np.float32)
    x.data = (1.0 + np.round(x.data * 64) / 64 * scale).astype(np.float32)  # ties, and the spread wanted
    bits = x.data.view(np.int32).astype(np.int64)
    assert max((int(bits.max() - bits.min()).bit_length() + 13) // 14, 1) == passes
    perts, codes = de._group_codes(rng.choice([CONTROL, "A", "B"], 400), control=CONTROL, n_cells=400)
    counts = np.bincount(codes[codes >= 0], minlength=perts.size + 1)
    expected = rank_sort.rank_statistics(x, codes, counts, device=None, batch_entries=1 << 27, progress=None)
    got = de._compiled_rank_statistics(x, codes, counts, batch_entries=1 << 27, progress=None)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def _shuffle_rows(x: sparse.csr_matrix, rng) -> sparse.csr_matrix:
    order = np.concatenate([lo + rng.permutation(hi - lo) for lo, hi in itertools.pairwise(x.indptr)])
    out = sparse.csr_matrix((x.data[order], x.indices[order], x.indptr.copy()), shape=x.shape)
    out.has_sorted_indices = False
    return out


def _counted(x, codes, n_groups, copies=2):
    raw, is_float32, zero_code = rank_kernel.entry_codes(x.data)
    args = (x.indptr, x.indices, raw, is_float32, zero_code, np.asarray(codes, dtype=np.int64))
    counts = np.zeros((copies, n_groups, x.shape[1]), dtype=np.int64)
    sorted_rows, _ = rank_kernel.entry_counts(x.indptr, x.indices, x.data, codes, counts=counts)
    return args, counts.sum(axis=0), sorted_rows


def test_values_never_leave_the_counted_places():
    """Entries that differ from the counted ones (data changed between two reads) are refused, not written."""
    x = sparse.csr_matrix(np.array([[1.0, 2.0, 0.0], [0.5, 0.0, 3.0], [0.0, 4.0, 1.0]], dtype=np.float32))
    args, counts, sorted_rows = _counted(x, [0, 1, 1], 2)
    assert sorted_rows
    assert counts.tolist() == [[1, 1, 0], [1, 1, 2]]
    first = np.array([0, 2, 4])

    def fill(counts, values):
        slots, ends = rank_kernel.value_places(counts, first)
        refused = rank_kernel.fill(
            *args, sorted_rows=True, genes=(0, 3), per_gene=counts.sum(axis=0), slots=slots, ends=ends, values=values
        )
        return refused, np.array_equal(slots, ends)

    values = np.zeros(6 + 2, dtype=np.uint32)
    assert fill(counts, values[:6]) == (0, True)
    positive = (values[:6] - np.uint32(1 << 31)).view(np.float32)  # codes of values > 0: bits + 2^31
    assert positive.tolist() == [1.0, 0.5, 2.0, 4.0, 3.0, 1.0]  # each gene: control's values first
    fewer = counts.copy()
    fewer[fewer > 0] -= 1  # one entry more than counted in every non-empty place range
    values[:] = 7
    assert fill(fewer, values[:6])[0] == 5
    assert (values[6:] == 7).all()
    assert fill(counts + 1, values)[1] is False  # fewer entries than counted


@pytest.mark.parametrize("window", [1, 2, 5, 1024])
def test_values_are_the_same_whatever_the_window_of_genes(window):
    rng = np.random.default_rng(window)
    x = sparse.random(200, 37, density=0.3, random_state=window, format="csr", dtype=np.float32)
    x.data = np.round(x.data * 8)
    args, counts, _ = _counted(x, rng.integers(-1, 4, x.shape[0]), 4)
    got, want = (np.zeros(counts[:, 4:30].sum(), dtype=np.uint32) for _ in range(2))
    first = np.r_[0, np.cumsum(counts[:, 4:30].sum(axis=0))[:-1]]
    for values, sorted_rows, size in ((got, True, window), (want, False, 1024)):
        slots, ends = rank_kernel.value_places(counts[:, 4:30], first)
        refused = rank_kernel.fill(
            *args,
            sorted_rows=sorted_rows,
            genes=(4, 30),
            per_gene=counts[:, 4:30].sum(axis=0),
            slots=slots,
            ends=ends,
            values=values,
            window=size,
        )
        assert refused == 0
        assert np.array_equal(slots, ends)
    np.testing.assert_array_equal(got, want)  # same values, same places: rows in order within each group
    assert (got > 0).all()


@pytest.mark.parametrize("copies", [1, 2, 3])
def test_entry_counts_add_up_over_chunks_of_rows(copies):
    rng = np.random.default_rng(3)
    x = sparse.random(300, 50, density=0.2, random_state=3, format="csr", dtype=np.float32)
    x.data[::7] = 0.0  # stored zeros are not entries
    codes = rng.integers(-1, 5, x.shape[0])
    _, whole, _ = _counted(x, codes, 5, copies)
    parts = np.zeros_like(whole)
    for lo, hi in ((0, 120), (120, 121), (121, 300)):
        _, counts, _ = _counted(x[lo:hi], codes[lo:hi], 5, copies)
        parts += counts
    np.testing.assert_array_equal(parts, whole)
    dense = x.toarray() != 0
    expected = np.stack([dense[codes == g].sum(axis=0) for g in range(5)])
    np.testing.assert_array_equal(whole, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_one_read_gives_counts_order_and_validity(dtype):
    rng = np.random.default_rng(4)
    x = sparse.random(400, 60, density=0.3, random_state=4, format="csr", dtype=np.float64)
    x.data = (x.data * 50).astype(dtype) if dtype == np.int32 else (x.data * 50 + 1e-3).astype(dtype)
    x = x.astype(dtype)
    codes = rng.integers(-1, 3, x.shape[0])

    def scan(m, labels=codes, counts=None):
        counts = np.zeros((2, 3, x.shape[1]), dtype=np.int64) if counts is None else counts
        return rank_kernel.entry_counts(m.indptr, m.indices, m.data, labels, counts=counts)

    counts = np.zeros((2, 3, x.shape[1]), dtype=np.int64)
    assert scan(x, counts=counts) == (True, True)
    dense = x.toarray() != 0
    np.testing.assert_array_equal(counts.sum(axis=0), np.stack([dense[codes == g].sum(axis=0) for g in range(3)]))
    shuffled = _shuffle_rows(x, rng)
    assert scan(shuffled) == (False, True)
    first = np.flatnonzero(codes >= 0)[0]
    assert scan(shuffled, labels=np.where(np.arange(x.shape[0]) == first, codes, -1))[0] is False
    assert scan(shuffled, labels=np.full(x.shape[0], -1))[0] is True  # unlabelled rows are never read in order
    bad_values = (np.nan, np.inf, -np.inf, -1.0) if dtype != np.int32 else (-1,)
    for bad in bad_values:
        broken = x.copy()
        broken.data[len(broken.data) // 2] = bad
        assert scan(broken) == (True, False)
    signed_zero = x.copy()
    signed_zero.data[0] = -0.0 if dtype != np.int32 else 0
    assert scan(signed_zero) == (True, True)


def test_kernel_tells_negative_zero_from_small_values():
    # Stored zeros of both signs kept as entries; rows: control, control, A, A.
    data = np.array([-0.0, 1.0, 0.0, -1.0, -1e-30, 2.0, -0.0], dtype=np.float32)
    x = sparse.csr_matrix((data, [0, 1, 0, 1, 0, 0, 1], [0, 2, 4, 5, 7]), shape=(4, 2))
    labels = np.array([CONTROL, CONTROL, "A", "A"])
    res = wilcoxon_de(x, labels, device="cpu")
    for gene in range(2):
        col = x.toarray()[:, gene]
        want = mannwhitneyu(col[2:], col[:2], method="asymptotic").statistic
        assert res.statistic[0, gene] == want


def test_entry_keys_of_a_late_batch_are_relative_to_its_first_gene():
    x = sparse.csr_matrix(np.array([[0, 0, 0, 1.5, 0], [0, 0, 0, 0, 2.5]], dtype=np.float32))
    values, _ = rank_sort._value_codes(x.data)
    keys = rank_sort._entry_keys(x, values, np.array([0, 1]), (3, 5, x.nnz), group_bits=1)
    assert (keys >> (rank_sort.VALUE_BITS + 1)).tolist() == [0, 1]
    assert (keys & 1).tolist() == [0, 1]


def test_progress_reaches_the_end():
    x, labels = _random_counts(4, 20, {"A": 5}, n_genes=25)
    calls = []
    wilcoxon_de(x, labels, batch_entries=40, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (25, 25)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_labels_left_out_and_category_order():
    x, labels = _random_counts(5, 30, {"B": 8, "A": 6}, n_genes=10)
    base = wilcoxon_de(x, labels)
    noisy = pd.Categorical(np.append(labels, [None, ""]), categories=["B", "unused", CONTROL, "A", ""])
    res = wilcoxon_de(np.vstack([x, x[:2] + 1]), noisy)
    assert res.perts.tolist() == ["B", "A"]  # pdex follows the categories' order; empty ones are skipped
    np.testing.assert_array_equal(res.pvalue, base.pvalue[::-1])
    assert res.n_cells.tolist() == [8, 6]
    assert res.n_control == 30


def test_frame_and_significance():
    x, labels = _random_counts(6, 40, {"A": 20, "B": 20}, n_genes=15)
    x[labels == "A", 2:6] += 2.0
    res = wilcoxon_de(x, labels, genes=[f"g{i}" for i in range(15)])
    frame = res.to_frame()
    assert list(frame.columns) == FRAME_COLUMNS
    assert frame["target"].tolist() == ["A"] * 15 + ["B"] * 15
    assert frame["feature"].tolist()[:2] == ["g0", "g1"]
    np.testing.assert_array_equal(frame["fdr"].to_numpy(), res.fdr.ravel())
    assert res.significant()[0, 2:6].all()
    np.testing.assert_array_equal(res.significant(alpha=0.2), res.fdr < 0.2)


def test_bad_input_is_named():
    x, labels = _random_counts(7, 10, {"A": 5}, n_genes=4)
    with pytest.raises(ValueError, match="control 'ctrl'"):
        wilcoxon_de(x, labels, control="ctrl")
    with pytest.raises(ValueError, match="3 names for a matrix with 4 columns"):
        wilcoxon_de(x, labels, genes=["a", "b", "c"])
    with pytest.raises(ValueError, match="labels has 14 entries for a matrix with 15 cells"):
        wilcoxon_de(x, labels[:-1])
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="1 NaN values"):
        wilcoxon_de(x, labels)
    with pytest.raises(ValueError, match="obs has no column 'guide'"):
        de_from_anndata(ad.AnnData(x), pert_col="guide")
    with pytest.raises(ValueError, match="batch_entries must be a positive"):
        wilcoxon_de(np.nan_to_num(x), labels, batch_entries=0)


def _golden(name: str) -> tuple[ad.AnnData, pd.DataFrame]:
    return ad.read_h5ad(DATA / f"de_{name}.h5ad"), pd.read_parquet(DATA / f"de_{name}_pdex.parquet")


def _assert_matches_pdex(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(ours.columns) == list(ref.columns)
    for column in ("target", "feature", "target_membership", "ref_membership", "statistic"):
        np.testing.assert_array_equal(ours[column].to_numpy(), ref[column].to_numpy(), err_msg=column)
    for column in ("p_value", "fdr"):
        np.testing.assert_allclose(ours[column], ref[column], rtol=1e-12, atol=0, err_msg=column)
    # Means agree to 1 float32 ulp: pdex's expm1 is the platform's float32 expm1f, ours is correctly rounded.
    for column in ("target_mean", "ref_mean"):
        np.testing.assert_allclose(ours[column], ref[column], rtol=2.4e-7, atol=0, err_msg=column)
    for column in ("log2_fold_change", "percent_change"):
        np.testing.assert_allclose(ours[column], ref[column], rtol=1e-6, atol=1e-6, err_msg=column)
    np.testing.assert_array_equal(ours["fdr"] < 0.05, ref["fdr"] < 0.05)


@pytest.mark.reference
@pytest.mark.parametrize("name", GOLDEN)
def test_matches_pdex_golden(name):
    adata, ref = _golden(name)
    _assert_matches_pdex(de_from_anndata(adata).to_frame(), ref)


@ROUNDED_ELSEWHERE
@pytest.mark.reference
def test_matches_pdex_from_counts_with_our_normalisation():
    from vcc_core.data.normalize import log1p_normalize

    adata, ref = _golden("papalexi")
    counts = ad.AnnData(adata.layers["counts"], obs=adata.obs, var=adata.var)
    _assert_matches_pdex(de_from_anndata(log1p_normalize(counts), pert_col=PERT_COL).to_frame(), ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_means_round_as_scipy_mean_of_each_group(dtype):
    """Each group's mean, rounded as scipy's ``X[rows].mean(axis=0)`` rounds it (pdex's call): every value times
    ``1 / n`` in the data's type, summed in row order; cells left out (code -1) are not counted."""
    x = sparse.random(400, 60, density=0.3, random_state=5, format="csr", dtype=dtype)
    x.data = np.log1p(x.data * 37).astype(dtype)
    codes = np.random.default_rng(6).integers(-1, 4, size=400)
    counts = np.bincount(codes[codes >= 0], minlength=4)
    means = group_means(x, codes, counts)
    assert means.dtype == dtype
    for g in range(4):
        np.testing.assert_array_equal(means[g], np.asarray(x[codes == g].mean(axis=0)).ravel())
