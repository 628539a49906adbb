import subprocess
import sys

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tests.conftest import ROOT
from vcc_core.data.cells import Cells, plain_file, read_cells
from vcc_core.data.io import read_h5ad
from vcc_core.data.normalize import log1p_normalize
from vcc_core.evaluation.evaluate import evaluate
from vcc_core.keys import PERT_COL, UNS_SPACE


def _same_as_anndata(cells: Cells, adata: ad.AnnData) -> None:
    assert cells.shape == adata.shape
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(cells.X, part), getattr(adata.X, part))
    assert cells.X.dtype == adata.X.dtype
    pd.testing.assert_index_equal(cells.var_names, adata.var_names)
    got, want = cells.obs[PERT_COL], adata.obs[PERT_COL]
    assert list(got.astype(str).where(got.notna(), "-")) == list(want.astype(str).where(want.notna(), "-"))
    assert isinstance(got.dtype, pd.CategoricalDtype) == isinstance(want.dtype, pd.CategoricalDtype)


@pytest.mark.parametrize("column", ["categorical", "strings", "numbers"])
def test_a_plain_file_reads_as_anndata_reads_it(tiny, tmp_path, column):
    adata = tiny.copy()
    labels = adata.obs[PERT_COL].astype(str).to_numpy().copy()
    labels[:3] = None  # cells without a label stay without one
    if column == "numbers":
        adata.obs[PERT_COL] = pd.Categorical(pd.Categorical(labels).codes.astype(np.int64))
    else:
        adata.obs[PERT_COL] = pd.Categorical(labels)
    adata.uns[UNS_SPACE] = "counts"
    path = tmp_path / "plain.h5ad"
    adata.write_h5ad(path)
    if column == "strings":  # anndata writes repeated strings as a categorical: an array of strings written alone
        _replace_column(path, labels.astype(str).astype(object))

    cells = read_cells(path)
    assert plain_file(path)
    assert cells is not None
    _same_as_anndata(cells, read_h5ad(path))
    assert cells.uns == {UNS_SPACE: "counts"}


def _replace_column(path, values) -> None:
    with h5py.File(path, "r+") as f:
        del f["obs"][PERT_COL]
        ad.io.write_elem(f["obs"], PERT_COL, values)


def _dense(adata, path):
    adata.X = adata.X.toarray()
    adata.write_h5ad(path)


def _nullable(adata, path):
    adata.write_h5ad(path)
    with ad.settings.override(allow_write_nullable_strings=True):
        _replace_column(path, pd.array(adata.obs[PERT_COL].astype(str), dtype="string"))


def _no_column(adata, path):
    adata.obs = adata.obs.drop(columns=[PERT_COL])
    adata.write_h5ad(path)


def _csc(adata, path):
    adata.X = sparse.csc_matrix(adata.X)
    adata.write_h5ad(path)


@pytest.mark.parametrize("write", [_dense, _nullable, _no_column, _csc], ids=lambda f: f.__name__[1:])
def test_other_files_are_left_to_anndata(tiny, tmp_path, write):
    path = tmp_path / "other.h5ad"
    write(tiny.copy(), path)
    assert not plain_file(path)
    assert read_cells(path) is None


def test_unreadable_files_are_left_to_the_loader(tmp_path):
    broken = tmp_path / "broken.h5ad"
    broken.write_bytes(b"not hdf5")
    assert read_cells(broken) is None
    assert read_cells(tmp_path / "missing.h5ad") is None
    assert not plain_file(broken)


def test_selections_and_copies_match_anndata(tiny, tmp_path):
    path = tmp_path / "plain.h5ad"
    tiny.write_h5ad(path)
    cells, adata = read_cells(path), read_h5ad(path)
    rows = np.arange(adata.n_obs) % 3 == 0
    genes = pd.Index(adata.var_names[::-2])
    _same_as_anndata(cells[rows], adata[rows].copy())
    _same_as_anndata(cells[rows, genes], adata[rows, genes].copy())
    _same_as_anndata(cells[:, genes.to_numpy()], adata[:, genes].copy())
    with pytest.raises(KeyError, match="names not found: nope"):
        cells[:, ["nope"]]
    copied = cells.copy()
    copied.X.data[:] = 0
    assert cells.X.data.any()


def test_normalising_keeps_the_container(tiny, tmp_path):
    path = tmp_path / "plain.h5ad"
    tiny.write_h5ad(path)
    normalised = log1p_normalize(read_cells(path))
    assert isinstance(normalised, Cells)
    assert normalised.uns[UNS_SPACE] == "log1p"
    want = log1p_normalize(read_h5ad(path)).X
    np.testing.assert_array_equal(normalised.X.toarray(), want.toarray())


def test_evaluate_scores_plain_files_without_importing_anndata(tmp_path):
    """Files read without anndata score as the same cells passed in as AnnData; anndata is never imported."""
    case = ROOT / "tests" / "fixtures" / "metrics" / "synthetic"
    real, pred = case / "real.h5ad", case / "pred.h5ad"
    code = (
        "import sys\n"
        "from vcc_core.evaluation.evaluate import evaluate\n"
        f"results, _ = evaluate(r'{real}', r'{pred}', profile='bulk')\n"
        f"results.to_pickle(r'{tmp_path / 'results.pkl'}')\n"
        "print('anndata' in sys.modules, 'zarr' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False"
    results, _ = evaluate(ad.read_h5ad(real), ad.read_h5ad(pred), profile="bulk")
    pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "results.pkl"), results, check_exact=True)
