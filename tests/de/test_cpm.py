"""DE in the VCC 2026 space: CPM, the control gate, fold changes of mean CPMs, both rank engines.

Agreement with cell-eval2 / pdex on stored tables: tests/evaluation/test_vcc2026_reference.py.
"""

import numpy as np
import pytest
import torch
from scipy import sparse
from scipy.stats import false_discovery_control, mannwhitneyu

from vcc_core.de import sort as rank_sort
from vcc_core.de.cpm import CpmNumbers, cell_scales, cpm, gated_de, outside_values, rank_codes
from vcc_core.de.wilcoxon import mwu_pvalues

CONTROL = "non-targeting"


def test_cpm_scales_each_cell_to_a_million():
    x = sparse.csr_matrix(np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [5.0, 0.0, 5.0]]))
    out = cpm(x).toarray()
    np.testing.assert_array_equal(out[0], [1 / (4 / 1e6), 3 / (4 / 1e6), 0.0])  # x / (L / 1e6), as scanpy
    np.testing.assert_array_equal(out[1], 0.0)  # an empty cell stays empty
    np.testing.assert_allclose(out.sum(axis=1)[[0, 2]], 1e6)


def test_gate_reads_the_control_mean_cpm():
    x = np.array([[4.0, 5.0, 999_991.0], [6.0, 5.5, 999_988.5], [0.0, 0.0, 9.0]]) * 2  # two cells of 1e6 + a cell
    labels = [CONTROL, CONTROL, "A"]
    # control mean CPM: gene 0 exactly 10 / 2 = 5 (not above 5), gene 1 10.5 / 2: kept, gene 2 kept
    assert gated_de(sparse.csr_matrix(x) / 2, labels).genes.tolist() == [1, 2]
    with pytest.raises(ValueError, match="no control cells"):
        gated_de(sparse.csr_matrix(x), ["A", "B", "A"])


def data(seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat([CONTROL, "A", "B"], [30, 20, 25])
    rates = rng.gamma(1.0, 2.0, size=40)
    rates[:5] = 1e-4  # barely expressed: gated out
    x = rng.poisson(rates, size=(labels.size, 40)).astype(np.float64)
    x[labels == "A", 10] += rng.poisson(20.0, size=20)  # a real effect
    x[:, 39] = 0
    x[0, 39] = 1e3  # a gene whose control mean CPM passes while almost every cell is 0: ties
    return x, labels


def test_against_scipy_gene_by_gene():
    x, labels = data()
    values = cpm(x)
    de = gated_de(x, labels)
    dense = values.toarray()
    keep = dense[labels == CONTROL].mean(axis=0) > 5
    np.testing.assert_array_equal(de.genes, np.flatnonzero(keep))
    assert list(de.perts) == ["A", "B"]
    for p, name in enumerate(de.perts):
        own, ctrl = dense[labels == name][:, de.genes], dense[labels == CONTROL][:, de.genes]
        expected = [
            mannwhitneyu(np.log1p(own[:, k]), np.log1p(ctrl[:, k]), method="asymptotic").pvalue
            for k in range(de.genes.size)
        ]
        np.testing.assert_allclose(de.pvalue[p], expected, rtol=1e-12)
        np.testing.assert_allclose(de.p_adj[p], false_discovery_control(de.pvalue[p]), rtol=1e-12)
        lfc = np.log2((own.mean(axis=0) + 1e-9) / (ctrl.mean(axis=0) + 1e-9))
        np.testing.assert_allclose(de.lfc[p], lfc, rtol=1e-12)
    assert de.p_adj[0, list(de.genes).index(10)] < 0.05  # the real effect is found


def test_torch_engine_ranks_cpm_like_the_compiled_kernel():
    x, labels = data(1)
    logged = cpm(x)
    logged.data = np.log1p(logged.data)  # float64 values that float32 cannot hold: ranked by their order
    codes = np.select([labels == CONTROL, labels == "A"], [0, 1], 2)
    counts = np.bincount(codes)
    numpy_path = rank_sort.rank_statistics(logged, codes, counts, device=None, batch_entries=1 << 20, progress=None)
    torch_path = rank_sort.rank_statistics(
        logged, codes, counts, device=torch.device("cpu"), batch_entries=97, progress=None
    )
    compiled = gated_de(x, labels)  # the CPU kernel, on the gated genes
    for ours, theirs in zip(torch_path, numpy_path, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    pvalue = mwu_pvalues(*torch_path, n1=counts[1:], n2=int(counts[0]))
    np.testing.assert_array_equal(pvalue[:, compiled.genes], compiled.pvalue)


def test_rank_codes_tie_and_order_exactly_like_the_values():
    x, _ = data(2)
    x[3, :5] = 500  # above the table: numbered by search
    counts = sparse.csr_matrix(x)
    logged = np.log1p(cpm(counts).data)
    codes = rank_codes(counts, cell_scales(counts))
    assert codes.dtype == np.float32  # the fast path was taken
    order = np.argsort(logged, kind="stable")
    np.testing.assert_array_equal(np.diff(codes[order]) > 0, np.diff(logged[order]) > 0)  # same ties, same order
    fractional = counts.copy()
    fractional.data = fractional.data * 0.37
    values = np.log1p(cpm(fractional).data)
    codes = rank_codes(fractional, cell_scales(fractional))
    order = np.argsort(values, kind="stable")
    np.testing.assert_array_equal(np.diff(codes[order]) > 0, np.diff(values[order]) > 0)


def test_a_stored_zero_ranks_as_a_zero():
    x, labels = data(3)
    counts = sparse.csr_matrix(x)
    stored = counts.copy()
    stored.data[::7] = 0  # zeros kept as entries, as some writers leave them
    dropped = stored.copy()
    dropped.eliminate_zeros()
    codes = rank_codes(stored, cell_scales(stored))
    assert (codes[stored.data == 0] == 0).all()
    assert (codes[stored.data > 0] > 0).all()
    ours, theirs = gated_de(stored, labels), gated_de(dropped, labels)
    np.testing.assert_array_equal(ours.pvalue, theirs.pvalue)
    np.testing.assert_array_equal(ours.lfc, theirs.lfc)


def test_codes_of_a_window_of_genes_equal_the_whole_matrix_codes():
    x, _ = data(4)
    x[2, 3:9] = 700  # above the table, inside and outside the window
    x[5, 1] = 0.5  # fractional
    counts = sparse.csr_matrix(x)
    scales = cell_scales(counts)
    numbers = CpmNumbers.of(scales, outside_values(counts, scales))
    whole = numbers.codes(counts, scales, np.uint32)
    window = (counts.indices >= 4) & (counts.indices < 11)
    part = numbers.codes(counts, scales, np.uint32, genes=(4, 11), sorted_rows=True)
    np.testing.assert_array_equal(part[window], whole[window])
    flipped = counts.copy()  # each row's entries in decreasing gene order: read whole, not bisected
    for i in range(flipped.shape[0]):
        lo, hi = flipped.indptr[i], flipped.indptr[i + 1]
        flipped.indices[lo:hi], flipped.data[lo:hi] = flipped.indices[lo:hi][::-1], flipped.data[lo:hi][::-1]
    part = numbers.codes(flipped, scales, np.uint32, genes=(4, 11), sorted_rows=False)
    flipped_whole = numbers.codes(flipped, scales, np.uint32)
    inside = (flipped.indices >= 4) & (flipped.indices < 11)
    np.testing.assert_array_equal(part[inside], flipped_whole[inside])
    assert sorted(flipped_whole) == sorted(whole)
    with pytest.raises(ValueError, match="scale was not numbered"):
        numbers.codes(counts, scales * 1.5, np.uint32)
