"""Pseudobulk equals a dense pandas group-by mean, in memory, backed and in any chunking."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.keys import CONTROL, PERT_COL


def _reference(adata):
    normed = log1p_normalize(adata).X.toarray().astype(np.float64)
    frame = pd.DataFrame(normed, index=adata.obs[PERT_COL].astype(str).to_numpy())
    return frame.groupby(level=0).mean()


@pytest.mark.parametrize("chunk_rows", [50, 10_000])
def test_equals_dense_groupby(tiny, chunk_rows):
    ref = _reference(tiny)
    pb = pseudobulk(tiny, space="counts", chunk_rows=chunk_rows)
    assert list(pb.perts) == sorted(set(tiny.obs[PERT_COL]) - {CONTROL})
    np.testing.assert_allclose(pb.means, ref.loc[pb.perts].to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pb.control, ref.loc[CONTROL].to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pb.delta, ref.loc[pb.perts].to_numpy() - ref.loc[CONTROL].to_numpy())
    assert pb.n_cells.tolist() == [40] * 12


def test_backed_file_equals_in_memory(tiny, tmp_path):
    path = tmp_path / "tiny.h5ad"
    tiny.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    a = pseudobulk(backed, space="counts", chunk_rows=128)
    b = pseudobulk(tiny, space="counts")
    np.testing.assert_array_equal(a.means, b.means)
    backed.file.close()


def test_log1p_space_is_not_normalised_again(tiny):
    normed = log1p_normalize(tiny)
    a = pseudobulk(normed, space="log1p")
    b = pseudobulk(tiny, space="counts")
    np.testing.assert_allclose(a.means, b.means, rtol=1e-12)


def test_missing_control_is_a_clear_error(tiny):
    with pytest.raises(ValueError, match=r"no control cells: label 'NTC' not found in obs\['target_gene'\]"):
        pseudobulk(tiny, control="NTC", space="counts")


def test_subset_and_index(tiny):
    pb = pseudobulk(tiny, space="counts")
    sub = pb.subset(pb.perts[[3, 1]])
    assert list(sub.perts) == [pb.perts[3], pb.perts[1]]
    with pytest.raises(KeyError, match="'nope' is not in these profiles"):
        pb.index("nope")


@pytest.mark.parametrize("layout", ["many groups", "one group", "unlabelled rows"])
def test_group_sums_add_each_row_in_order(layout):
    """Whether the threads split the groups or the genes, every sum is the float64 sum in row order, bit for bit."""
    from scipy import sparse

    from vcc_core.data.pseudobulk import add_sparse_rows

    rng = np.random.default_rng(7)
    x = sparse.random(3000, 300, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    x.data = np.exp(rng.normal(0, 3, x.nnz)).astype(np.float32)  # wide range: the order of the additions shows
    codes = {
        "many groups": rng.integers(0, 40, x.shape[0]),
        "one group": np.where(rng.random(x.shape[0]) < 0.95, 3, rng.integers(0, 40, x.shape[0])),
        "unlabelled rows": rng.integers(-1, 5, x.shape[0]),
    }[layout]
    sums = np.zeros((40, x.shape[1]))
    add_sparse_rows(x, codes, sums)
    expected = np.zeros_like(sums)
    rows = np.repeat(codes, np.diff(x.indptr))
    keep = rows >= 0
    np.add.at(expected, (rows[keep], x.indices[keep]), x.data[keep].astype(np.float64))  # in entry order
    np.testing.assert_array_equal(sums, expected)
    windowed = np.zeros_like(sums)  # the streamed DE's batches of genes: each adds only its genes, found by bisection
    for genes in [(0, 1), (1, 120), (120, 121), (121, 300)]:
        before = windowed.copy()
        add_sparse_rows(x, codes, windowed, genes=genes)
        outside = np.r_[0 : genes[0], genes[1] : x.shape[1]]
        np.testing.assert_array_equal(windowed[:, outside], before[:, outside])
    np.testing.assert_array_equal(windowed, expected)
