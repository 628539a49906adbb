"""The streamed path (files read in row chunks, DE in batches of genes) equals the in-memory one."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tests.conftest import FIXTURES
from vcc_core.__main__ import main
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.de.wilcoxon import wilcoxon_de
from vcc_core.evaluation.evaluate import evaluate
from vcc_core.keys import PERT_COL
from vcc_core.scale import stream
from vcc_core.scale.h5ad_rows import open_source

ROOT = Path(__file__).resolve().parents[2]
METRIC_DATA = FIXTURES / "metrics" / "synthetic"
SMALL = {"chunk_rows": 97, "batch_entries": 5_000}  # many row chunks and gene batches


def _frames_equal(got: pd.DataFrame, want: pd.DataFrame, *, rtol: float = 0.0) -> None:
    assert list(got.columns) == list(want.columns)
    assert list(got.index) == list(want.index)
    for column in want.columns:
        a, b = (f[column].to_numpy(dtype=float, na_value=np.nan) for f in (got, want))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=column)


def test_evaluate_equals_in_memory(tmp_path):
    real, pred = METRIC_DATA / "real.h5ad", METRIC_DATA / "pred.h5ad"
    reordered = ad.read_h5ad(pred)
    reversed_genes = tmp_path / "pred_reversed_genes.h5ad"
    reordered[:, reordered.var_names[::-1]].copy().write_h5ad(reversed_genes)  # columns realigned chunk by chunk
    messages = []
    results, agg = stream.evaluate(real, reversed_genes, profile="bulk", progress=messages.append, **SMALL)
    ref_results, ref_agg = evaluate(real, pred, profile="bulk")
    # DE means are float64 means rounded to float32 here, float32 sums there: only the fold changes can move.
    lfc = [c for c in ref_results.columns if "lfc" in c]
    _frames_equal(results.drop(columns=lfc), ref_results.drop(columns=lfc))
    _frames_equal(results[lfc], ref_results[lfc], rtol=1e-6)
    _frames_equal(agg.drop(columns=lfc), ref_agg.drop(columns=lfc))
    assert any("batch 2 of" in m for m in messages)
    with pytest.raises(
        ValueError, match="pearson_edistance reads every cell at once, which --scheduler stream does not"
    ):
        stream.evaluate(real, pred, profile="full")


def test_de_and_pseudobulk_equal_in_memory(tmp_path):
    real = ad.read_h5ad(METRIC_DATA / "real.h5ad")
    real.obs[PERT_COL] = real.obs[PERT_COL].astype(str)
    source = open_source(METRIC_DATA / "real.h5ad")
    profiles, de = stream.profiles_and_de(source, **SMALL)
    normalised = log1p_normalize(real) if source.space == "counts" else real
    ref = wilcoxon_de(normalised.X, normalised.obs[PERT_COL], genes=normalised.var_names)
    for field in ("statistic", "pvalue", "fdr"):
        np.testing.assert_array_equal(getattr(de, field), getattr(ref, field), err_msg=field)
    np.testing.assert_array_equal(de.perts, ref.perts)
    ref_profiles = pseudobulk(normalised)
    np.testing.assert_array_equal(profiles.means, ref_profiles.means)  # both sum in row order, in float64
    np.testing.assert_array_equal(profiles.control, ref_profiles.control)


def test_cells_in_the_pseudobulk_but_not_the_de_are_summed(tmp_path):
    """Cells with an empty label form a pseudobulk group but no DE group: their rows are added all the same."""
    real = ad.read_h5ad(METRIC_DATA / "real.h5ad")
    labels = real.obs[PERT_COL].astype(str).to_numpy()
    labels[np.flatnonzero(labels != "non-targeting")[::5]] = ""
    real.obs[PERT_COL] = labels
    real.write_h5ad(tmp_path / "empty_labels.h5ad")
    source = open_source(tmp_path / "empty_labels.h5ad")
    assert "" in set(source.groups)
    assert "" not in set(source.de_perts)
    profiles, _ = stream.profiles_and_de(source, **SMALL)
    normalised = log1p_normalize(real) if source.space == "counts" else real
    ref = pseudobulk(normalised)
    assert "" in set(ref.perts)
    np.testing.assert_array_equal(profiles.perts, ref.perts)
    np.testing.assert_array_equal(profiles.means, ref.means)
    np.testing.assert_array_equal(profiles.control, ref.control)


def test_dense_file_with_unlabelled_cells(tmp_path):
    adata = ad.read_h5ad(METRIC_DATA / "real.h5ad")
    adata.X = adata.X.toarray() if sparse.issparse(adata.X) else adata.X
    labels = adata.obs[PERT_COL].astype(object)
    labels.iloc[[3, 50]] = np.nan  # left out, and out of the median too
    adata.obs[PERT_COL] = labels
    path = tmp_path / "dense.h5ad"
    adata.write_h5ad(path)
    pred = METRIC_DATA / "pred.h5ad"
    results, _ = stream.evaluate(path, pred, profile="vcc", **SMALL)
    ref, _ = evaluate(path, pred, profile="vcc")
    _frames_equal(results, ref)


def test_bad_values_are_refused_with_the_loader_message(tmp_path):
    adata = ad.read_h5ad(METRIC_DATA / "real.h5ad")
    x = sparse.csr_matrix(adata.X, dtype=np.float32)
    x.data[-1] = -1.0  # far from the rows the space check samples, so only the streamed pass sees it
    adata.X = x
    path = tmp_path / "negative.h5ad"
    adata.write_h5ad(path)
    for metrics in (None, ["mae"]):  # with the DE, and without it (pseudobulk alone)
        with pytest.raises(ValueError, match=r"^real data: X contains negative values"):
            stream.evaluate(path, METRIC_DATA / "pred.h5ad", metrics=metrics, **SMALL)


def test_pseudobulk_without_de_equals_the_one_with_it():
    source = open_source(METRIC_DATA / "real.h5ad")
    alone, no_de = stream.profiles_and_de(source, de=False, **SMALL)
    with_de, _ = stream.profiles_and_de(source, **SMALL)
    assert no_de is None
    np.testing.assert_array_equal(alone.means, with_de.means)
    np.testing.assert_array_equal(alone.control, with_de.control)


def test_command_line(tmp_path, capsys):
    real, pred = str(METRIC_DATA / "real.h5ad"), str(METRIC_DATA / "pred.h5ad")
    args = ["evaluate", "--real", real, "--pred", pred, "--out", str(tmp_path), "--scheduler", "stream"]
    assert main([*args, "--memory-gb", "0.001"]) == 0
    err = capsys.readouterr().err
    assert "batch" in err
    assert "peak memory of this process" in err
    ours = pd.read_csv(tmp_path / "results.csv", index_col=0, float_precision="round_trip")
    ref, _ = evaluate(real, pred, profile="vcc")
    _frames_equal(ours, ref.astype(float))


def test_a_file_that_changes_between_reads_is_refused(tmp_path, monkeypatch):
    source = open_source(METRIC_DATA / "real.h5ad")  # before the patch: opening samples rows too
    calls = []
    read = stream.RowReader.read

    def changed_read(self, rows, **kwargs):
        block = sparse.csr_matrix(read(self, rows, **kwargs), copy=True)
        calls.append(rows)
        if len(calls) > 1 and rows == calls[0]:  # the first chunk, read again for the DE: one more entry
            block = block.tolil()
            block[0, np.flatnonzero(block[0].toarray().ravel() == 0)[0]] = 1.0
            block = block.tocsr()
        return block

    monkeypatch.setattr(stream.RowReader, "read", changed_read)
    with pytest.raises(ValueError, match="changed between two reads"):
        stream.profiles_and_de(source, **SMALL)
    assert len(calls) > len(range(0, len(source.codes), SMALL["chunk_rows"]))


@pytest.mark.parametrize("layout", ["chunked", "contiguous", "gzip"])
def test_row_reader_equals_anndata(tmp_path, layout):
    """Rows read by file offset (plain layouts, two threads) or by h5py (compressed) equal anndata's, reused
    buffers included; a chunk size of 7 elements makes every range cross chunk borders."""
    import h5py

    from vcc_core.data.row_reader import RowReader

    rng = np.random.default_rng(1)
    x = sparse.random(300, 40, density=0.2, format="csr", dtype=np.float32, random_state=1)
    x.data = np.ceil(x.data * 9)
    obs = pd.DataFrame({PERT_COL: rng.choice(["a", "non-targeting"], 300)}, index=[f"c{i}" for i in range(300)])
    adata = ad.AnnData(X=x, obs=obs)
    path = tmp_path / f"{layout}.h5ad"
    adata.write_h5ad(path, compression="gzip" if layout == "gzip" else None)
    if layout != "gzip":
        with h5py.File(path, "r+") as f:
            for name in ("data", "indices"):
                values = f["X"][name][:]
                del f["X"][name]
                f["X"].create_dataset(name, data=values, chunks=(7,) if layout == "chunked" else None)
    with RowReader(str(path), None, chunk_rows=64) as reader:
        assert (reader._raw["data"]._fd is None) == (layout == "gzip")
        for start in (0, 64, 128, 256, 299):
            rows = slice(start, min(start + 64, 300))
            block = reader.read(rows)
            assert (block != x[rows]).nnz == 0
            np.testing.assert_array_equal(block.indices, x[rows].indices)


def test_value_buffer_touched_ahead_is_handed_out_and_kept():
    buffer = stream.ValueBuffer()
    buffer.touch_ahead(3 * stream.ValueBuffer._SLICE // 2)
    first = buffer.get(1000)
    assert first.size == 1000
    assert first.dtype == np.uint32
    assert not first.any()
    assert np.shares_memory(buffer.get(2000), first)  # large enough: kept
    larger = buffer.get(4 * stream.ValueBuffer._SLICE)
    assert larger.size == 4 * stream.ValueBuffer._SLICE
    assert not np.shares_memory(larger, first)
    buffer.release()
    stopped = stream.ValueBuffer()
    stopped.release()  # an error came first: the touching stops at its next slice
    stopped.touch_ahead(8 * stream.ValueBuffer._SLICE)
    assert stopped._ahead.result() is None
    assert stopped.get(10).size == 10


def test_stored_entries(tmp_path):
    from vcc_core.data.row_reader import stored_entries

    x = sparse.random(50, 20, density=0.3, format="csr", dtype=np.float32, random_state=0)
    ad.AnnData(X=x).write_h5ad(tmp_path / "sparse.h5ad")
    ad.AnnData(X=x.toarray()).write_h5ad(tmp_path / "dense.h5ad")
    assert stored_entries(tmp_path / "sparse.h5ad") == x.nnz
    assert stored_entries(tmp_path / "dense.h5ad") == 50 * 20
    assert stored_entries(tmp_path / "missing.h5ad") == 0
