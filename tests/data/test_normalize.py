"""Normalisation equals scanpy's normalize_total + log1p bit for bit, whatever the chunking."""

import anndata as ad
import numpy as np
import pytest
import scanpy as sc
from scipy import sparse

from vcc_core.data.normalize import LOG1P_TABLE, gather_rows, log1p_normalize, median_target


def _scanpy(x):
    data = ad.AnnData(X=x.copy())
    sc.pp.normalize_total(data)
    sc.pp.log1p(data)
    return data.X


def _dense(x):
    return x.toarray() if sparse.issparse(x) else np.asarray(x)


@pytest.mark.parametrize(
    "kind",
    ["csr_float32", "dense_float32", "csr_int64", "dense_float64"],
)
def test_equals_scanpy_exactly(tiny, kind):
    x = {
        "csr_float32": tiny.X,
        "dense_float32": tiny.X.toarray(),
        "csr_int64": tiny.X.astype(np.int64),
        "dense_float64": tiny.X.toarray().astype(np.float64),
    }[kind]
    ours = log1p_normalize(ad.AnnData(X=x.copy()), chunk_rows=97).X
    ref = _scanpy(x)
    assert _dense(ours).dtype == _dense(ref).dtype
    assert np.array_equal(_dense(ours), _dense(ref))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_in_place_equals_the_copy(tiny, dtype):
    x = tiny.X.astype(dtype)
    ref = _scanpy(x)
    given = ad.AnnData(X=x.copy())
    copied = log1p_normalize(given, copy=True).X
    assert np.array_equal(given.X.toarray(), x.toarray())  # the default leaves the input alone
    inplace = log1p_normalize(given, copy=False).X
    assert np.array_equal(_dense(inplace), _dense(ref))
    assert np.array_equal(_dense(copied), _dense(ref))
    # Floats are overwritten where they lie; integers cannot hold the result and are copied.
    assert np.shares_memory(inplace.data, given.X.data) == (dtype != np.int64)


def test_zero_cells_follow_scanpy_rule():
    x = sparse.csr_matrix(np.array([[0, 0, 0], [1, 2, 3], [4, 0, 0], [0, 0, 0]], dtype=np.float32))
    # scanpy's CSR path takes the median over all cells (zeros included), the dense path over non-zero ones
    assert median_target(x) == 2.0  # totals 0, 6, 4, 0
    assert median_target(x.toarray()) == 5.0
    with pytest.warns(UserWarning, match="Some cells have zero counts"):
        ref = _scanpy(x)
    assert np.array_equal(log1p_normalize(ad.AnnData(X=x.copy())).X.toarray(), ref.toarray())


def test_all_zero_matrix_is_an_error():
    with pytest.raises(ValueError, match="every cell has a total count of 0"):
        median_target(np.zeros((3, 2)))


def test_gather_rows_equals_stacking_the_rows():
    a = sparse.random(20, 7, density=0.4, random_state=1, format="csr", dtype=np.float32)
    b = sparse.random(9, 7, density=0.4, random_state=2, format="csr", dtype=np.float32)
    rows_a, rows_b = np.array([3, 0, 19, 3]), np.array([8, 1])
    expected = sparse.vstack([a[rows_a], b[rows_b]]).toarray()
    np.testing.assert_array_equal(gather_rows([(a, rows_a), (b, rows_b)]).toarray(), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_counts_outside_the_table_equal_scanpy(dtype):
    """Whole counts below the table's size are looked up, others (large, fractional, negative zero) computed: both
    equal scanpy's values bit for bit, in any mix within a row."""
    rng = np.random.default_rng(3)
    x = sparse.random(300, 50, density=0.3, random_state=4, format="csr", dtype=dtype)
    x.data = rng.choice([1, 2, 3, 63, 64, 65, 1000, 2.5, 0.25, -0.0], size=x.nnz).astype(dtype)
    ref = _scanpy(x)
    ours = log1p_normalize(ad.AnnData(X=x.copy()), copy=False).X
    assert np.array_equal(ours.toarray(), ref.toarray())
    assert (x.data >= LOG1P_TABLE).any()
    assert (x.data < LOG1P_TABLE).any()
