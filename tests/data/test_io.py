"""Loader: exact errors for bad input, and both real files in ../shared/data load."""

import re

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tests.conftest import PAPALEXI, PERTURBENCH, require
from vcc_core.data.dataset import open_dataset
from vcc_core.data.io import align_genes, detect_space, load_dataset, load_predictions, read_h5ad
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.space import SAMPLE_ROWS, checked_space


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"file not found: .*nope\.h5ad"):
        read_h5ad(tmp_path / "nope.h5ad")


def test_empty_file(tmp_path):
    (tmp_path / "empty.h5ad").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.h5ad is empty \(0 bytes\)"):
        read_h5ad(tmp_path / "empty.h5ad")


def test_not_hdf5(tmp_path):
    (tmp_path / "table.h5ad").write_text("gene,value\nA,1\n")
    with pytest.raises(ValueError, match=r"table.h5ad is not an .h5ad \(HDF5\) file"):
        read_h5ad(tmp_path / "table.h5ad")


def test_truncated_file(tiny, tmp_path):
    path = tmp_path / "cut.h5ad"
    tiny.write_h5ad(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut.h5ad could not be read as AnnData \(truncated or corrupt\?\)"):
        read_h5ad(path)


def test_missing_perturbation_column(tiny_copy):
    tiny_copy.obs = tiny_copy.obs.rename(columns={"target_gene": "guide"})
    with pytest.raises(ValueError, match=r"obs has no perturbation column 'target_gene' \(columns found: guide\)"):
        load_dataset(tiny_copy)


def test_missing_control_label(tiny_copy):
    with pytest.raises(ValueError, match=r"no control cells: label 'NTC' not found in obs\['target_gene'\]"):
        load_dataset(tiny_copy, control="NTC")


def test_duplicated_genes(tiny_copy):
    names = tiny_copy.var_names.to_numpy().copy()
    names[1] = names[0]
    tiny_copy.var_names = names
    with pytest.raises(ValueError, match="gene names must be unique; duplicated: G00000"):
        load_dataset(tiny_copy)


def test_space_detection(tiny):
    assert detect_space(tiny.X) == "counts"
    assert detect_space(log1p_normalize(tiny).X) == "log1p"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.array([[1.0, np.nan]]), "X contains NaN or infinite values"),
        (np.array([[1.0, -2.0]]), r"X contains negative values \(min -2\)"),
        (np.array([[0.5, 1.2], [300.0, 7.0]]), "X mixes scales: it has fractional values"),
    ],
)
def test_space_detection_errors(values, message):
    with pytest.raises(ValueError, match=message):
        detect_space(sparse.csr_matrix(values))


def test_empty_rows_do_not_shift_the_per_row_checks():
    # Empty rows before, between and after: each stored value must be judged in its own row.
    z = [0.0, 0.0, 0.0]
    raw_between = sparse.csr_matrix(np.array([z, [0.5, 1.2, 0], z, [300.0, 7.0, 2.0], z]))
    with pytest.raises(ValueError, match=r"X mixes scales: it has fractional values \(log1p\) in 1 sampled rows"):
        detect_space(raw_between)
    # a row holding one small whole number beside log1p rows is a log1p row with an integer value, not raw counts
    assert detect_space(sparse.csr_matrix(np.array([z, [0.5, 1.2, 0], z, [0, 1.0, 0], z]))) == "log1p"
    with pytest.raises(ValueError, match=r"fractional values up to 20\.5, above the log1p range"):
        detect_space(sparse.csr_matrix(np.array([z, [0.5, 0, 0], z, z, [0, 0, 20.5]])))
    assert detect_space(sparse.csr_matrix(np.array([z, [1.0, 0, 0], z, [0, 0, 3.0], z]), dtype=np.int32)) == "counts"


def test_mixed_rows_caught_in_the_middle_of_a_large_file():
    # log1p everywhere except raw counts in the middle rows: a sample of the first rows alone would miss it
    x = np.full((60_000, 3), 0.5)
    x[30_000:30_010] = 250.0
    with pytest.raises(ValueError, match="X mixes scales"):
        detect_space(x)


def _large(kind: str) -> np.ndarray:
    """60,000 cells x 3 genes, so that the space is judged on three samples of rows (start, middle, end)."""
    x = np.tile([[0.5, 1.5, 0.0]], (60_000, 1)) if kind != "counts" else np.tile([[1.0, 4.0, 0.0]], (60_000, 1))
    if kind == "raw-middle":
        x[30_000:30_010] = [250.0, 7.0, 3.0]
    if kind == "varied-whole-middle":  # small whole numbers, 3 distinct: raw counts, found only by looking closer
        x[30_000:30_010] = [1.0, 2.0, 3.0]
    return x


@pytest.mark.parametrize("layout", ["csr", "dense"])
@pytest.mark.parametrize("kind", ["counts", "log1p", "raw-middle", "varied-whole-middle"])
def test_a_backed_file_gets_the_space_and_errors_of_memory(tmp_path, layout, kind):
    x = _large(kind)
    obs = pd.DataFrame({"target_gene": ["non-targeting", "A"] * 30_000}, index=[f"c{i}" for i in range(60_000)])
    adata = ad.AnnData(X=sparse.csr_matrix(x) if layout == "csr" else x, obs=obs)
    adata.write_h5ad(tmp_path / "x.h5ad")
    if kind in ("raw-middle", "varied-whole-middle"):
        with pytest.raises(ValueError, match="X mixes scales") as in_memory:
            load_dataset(adata)
        with pytest.raises(ValueError, match=f"^{re.escape(str(in_memory.value))}$"):
            load_dataset(tmp_path / "x.h5ad", backed=True)
        return
    backed, space = load_dataset(tmp_path / "x.h5ad", backed=True)
    assert backed.isbacked
    assert space == load_dataset(adata)[1] == ("counts" if kind == "counts" else "log1p")


def test_align_genes_reorders_and_reports(tiny):
    pred = tiny[:, ::-1].copy()
    assert list(align_genes(pred, tiny.var_names).var_names) == list(tiny.var_names)
    with pytest.raises(ValueError, match=r"different genes: 1 missing from predictions \(G00000\); predict exactly"):
        align_genes(tiny[:, 1:].copy(), tiny.var_names)


def test_predictions_with_unknown_perturbation(tiny):
    pred = tiny.copy()
    pred.obs["target_gene"] = pred.obs["target_gene"].astype(str).replace({pred.obs["target_gene"].iloc[-1]: "XYZ"})
    with pytest.raises(ValueError, match="predictions contain perturbations absent from the data: XYZ"):
        load_predictions(pred, real=tiny)


def test_papalexi_loads_as_counts_without_unassigned():
    data, space = load_dataset(require(PAPALEXI))
    assert space == "counts"
    assert "unassigned" not in set(data.obs["target_gene"])
    assert data.n_vars == 299
    assert (data.obs["target_gene"] == "non-targeting").sum() == 1923


def test_papalexi_dataset_shows_knockdown():
    data = open_dataset(str(require(PAPALEXI)))
    measured = data.knockdown[data.knockdown["measured"]].set_index("perturbation")
    assert data.summary.n_perts == 25
    assert measured.loc["STAT1", "log2fc"] < -1.0


def test_perturbench_is_detected_as_log1p_with_guessed_layout():
    data = open_dataset(str(require(PERTURBENCH)), context=("cell_type", "k562"))
    assert data.space == "log1p"
    assert (data.pert_col, data.control) == ("condition", "control")
    assert data.summary.n_control > 0
    raw = ad.read_h5ad(PERTURBENCH)
    keep = (raw.obs["cell_type"] == "k562").to_numpy()
    sub = raw[keep]
    labels = sub.obs["condition"].astype(str).to_numpy()
    ref = pd.DataFrame(sub.X.toarray(), index=labels).groupby(level=0).mean()
    np.testing.assert_allclose(data.profiles.means, ref.loc[data.profiles.perts].to_numpy(), rtol=1e-10)


def test_unknown_context_value():
    with pytest.raises(ValueError, match=r"no cells with cell_type == 'hela'"):
        open_dataset(str(require(PERTURBENCH)), context=("cell_type", "hela"))


@pytest.mark.parametrize("n_rows", [SAMPLE_ROWS, 3 * SAMPLE_ROWS])
def test_checked_space_reads_every_value_whatever_the_sample(n_rows):
    """Up to SAMPLE_ROWS rows the space's sample is every row and checks the values itself; beyond, the rows outside
    the sample are checked too: a NaN or a negative value anywhere is refused, with the same message."""
    x = sparse.csr_matrix((np.ones(n_rows, np.float32), (np.arange(n_rows), np.zeros(n_rows, int))), shape=(n_rows, 2))
    assert checked_space(x) == "counts"
    row = SAMPLE_ROWS // 3 + 1 if n_rows > SAMPLE_ROWS else n_rows // 2  # outside the sample of a large matrix
    for bad, message in ((np.nan, "NaN or infinite"), (-1.0, "negative values")):
        y = x.copy()
        y.data[row] = bad
        with pytest.raises(ValueError, match=message):
            checked_space(y)
