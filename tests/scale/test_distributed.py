"""The Dask path equals the in-process one: pseudobulk, median target, DE, metrics and the command line.

Everything runs on one ``LocalCluster`` of two single-threaded workers in this process (threads start in
about a second; the workers reach the files through the same paths). Its scheduler listens on TCP so that a
command-line child process can use it through ``--address``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from scipy import sparse

from tests.conftest import FIXTURES
from vcc_core.__main__ import main
from vcc_core.data.io import load_dataset
from vcc_core.data.normalize import log1p_normalize, median_target
from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.data.simulate import write_simulation
from vcc_core.de.wilcoxon import wilcoxon_de
from vcc_core.evaluation.evaluate import evaluate
from vcc_core.keys import PERT_COL
from vcc_core.scale import distributed as vd

ROOT = Path(__file__).resolve().parents[2]
METRIC_DATA = FIXTURES / "metrics" / "synthetic"
SMALL = {"chunk_rows": 97, "genes_per_block": 64}  # several row chunks, gene blocks and merge rounds


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0") as c,
        Client(c) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return write_simulation(tmp_path_factory.mktemp("dask") / "tiny.h5ad", "tiny")


@pytest.fixture(scope="module")
def tiny_ad(tiny_path):
    adata = ad.read_h5ad(tiny_path)
    adata.obs[PERT_COL] = adata.obs[PERT_COL].astype(str)
    return adata


def _write(adata: ad.AnnData, path: Path) -> Path:
    adata.write_h5ad(path)
    return path


def test_pseudobulk_equals_in_process(client, tiny_path, tiny_ad):
    ours = vd.pseudobulk(tiny_path, **SMALL)
    ref = pseudobulk(tiny_ad, space="counts")
    assert list(ours.perts) == list(ref.perts)
    assert list(ours.genes) == list(ref.genes)
    np.testing.assert_array_equal(ours.n_cells, ref.n_cells)
    np.testing.assert_allclose(ours.means, ref.means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.control, ref.control, rtol=1e-12, atol=1e-12)


def test_pseudobulk_of_raw_counts_is_exact(client, tiny_path, tiny_ad):
    ours = vd.pseudobulk(tiny_path, space="log1p", **SMALL)  # values taken as stored: integer sums are exact
    ref = pseudobulk(tiny_ad, space="log1p")
    np.testing.assert_array_equal(ours.means, ref.means)
    np.testing.assert_array_equal(ours.control, ref.control)


def test_dense_float16_file_with_empty_cells_and_missing_labels(client, tiny_ad, tmp_path):
    adata = tiny_ad.copy()
    adata.X = adata.X.toarray().astype(np.float16)  # the loader makes it float32
    adata.X[[0, 5, 400]] = 0  # cells with a zero total do not count towards the median of a dense matrix
    labels = adata.obs[PERT_COL].astype(object)
    labels.iloc[[3, 500, 501]] = np.nan  # left out, and out of the median too, as evaluate() does
    adata.obs[PERT_COL] = labels
    path = _write(adata, tmp_path / "dense.h5ad")
    kept, _ = load_dataset(adata.copy(), drop_labels=())
    assert kept.X.dtype == np.float32
    source = vd.open_source(path)
    assert vd.median_targets([source], chunk_rows=97) == [median_target(kept.X)]
    ours, ref = vd.pseudobulk(path, **SMALL), pseudobulk(kept, space="counts")
    np.testing.assert_array_equal(ours.n_cells, ref.n_cells)
    np.testing.assert_allclose(ours.means, ref.means, rtol=1e-12, atol=1e-12)


def test_empty_counts_are_refused(client, tiny_ad, tmp_path):
    empty = tiny_ad.copy()
    empty.X = sparse.csr_matrix(empty.shape, dtype=np.float32)
    path = _write(empty, tmp_path / "empty.h5ad")
    with pytest.raises(ValueError, match="every cell has a total count of 0: nothing to normalise"):
        vd.pseudobulk(path)


def test_de_of_raw_counts_is_exact(client, tiny_path, tiny_ad):
    ours = vd.wilcoxon_de(tiny_path, space="log1p", **SMALL)
    ref = wilcoxon_de(tiny_ad.X, tiny_ad.obs[PERT_COL])
    assert list(ours.perts) == list(ref.perts)
    np.testing.assert_array_equal(ours.n_cells, ref.n_cells)
    assert ours.n_control == ref.n_control
    for field in ("statistic", "pvalue", "fdr"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(ref, field), err_msg=field)


def test_de_of_normalised_values_is_exact_with_23_bits(client, tiny_path, tiny_ad):
    ours = vd.wilcoxon_de(tiny_path, mantissa_bits=23, **SMALL)
    normed = log1p_normalize(tiny_ad)
    ref = wilcoxon_de(normed.X, normed.obs[PERT_COL])
    for field in ("statistic", "pvalue", "fdr"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(ref, field), err_msg=field)
    # Means: float64 sums rounded to float32 here, float32 running sums there.
    np.testing.assert_allclose(ours.target_mean, ref.target_mean, rtol=1e-5)
    np.testing.assert_allclose(ours.ref_mean, ref.ref_mean, rtol=1e-5)
    np.testing.assert_allclose(ours.log2fc, ref.log2fc, rtol=1e-4, atol=1e-5)


def test_binned_de_is_close(client, tiny_path):
    exact = vd.wilcoxon_de(tiny_path, **SMALL)
    binned = vd.wilcoxon_de(tiny_path, mantissa_bits=10, **SMALL)
    pairs = exact.n_cells[:, None] * exact.n_control
    assert 0 < np.max(np.abs(binned.statistic - exact.statistic)) / pairs.max() < 2e-3
    np.testing.assert_allclose(np.log10(binned.pvalue), np.log10(exact.pvalue), atol=0.05)


def _frames_equal(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(ours.columns) == list(ref.columns)
    assert list(ours.index) == list(ref.index)
    for column in ref.columns:
        np.testing.assert_array_equal(ours[column].isna(), ref[column].isna(), err_msg=column)
        got = ours[column].to_numpy(dtype=float, na_value=np.nan)
        want = ref[column].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0, err_msg=column)


def test_evaluate_equals_in_process(client, tmp_path):
    real, pred = METRIC_DATA / "real.h5ad", METRIC_DATA / "pred.h5ad"
    shuffled = ad.read_h5ad(pred)
    path = _write(shuffled[:, shuffled.var_names[::-1]].copy(), tmp_path / "pred_reversed_genes.h5ad")
    results, agg = vd.evaluate(real, path, address=client.scheduler.address, profile="bulk", chunk_rows=97)
    ref_results, ref_agg = evaluate(real, pred, profile="bulk")
    _frames_equal(results, ref_results)
    _frames_equal(agg, ref_agg)


def test_evaluate_on_its_own_local_cluster(tiny_path):
    kwargs = {"n_workers": 1, "threads_per_worker": 2, "processes": False}
    results, _ = vd.evaluate(tiny_path, tiny_path, profile="vcc", cluster_kwargs=kwargs)
    assert (results["mae"] == 0).all()
    assert (results["overlap_at_N"] == 1).all()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcc_core", *args], cwd=ROOT, capture_output=True, text=True)


def test_command_line_with_a_dask_scheduler(client, tmp_path):
    real, pred = str(METRIC_DATA / "real.h5ad"), str(METRIC_DATA / "pred.h5ad")
    address = client.scheduler.address
    assert address.startswith("tcp://")
    done = _cli(
        "evaluate", "--real", real, "--pred", pred, "--out", str(tmp_path), "--scheduler", "dask", "--address", address
    )
    assert done.returncode == 0, done.stderr
    assert "Dask worker(s)" in done.stderr
    ours = pd.read_csv(tmp_path / "results.csv", index_col=0)
    ref, _ = evaluate(real, pred, profile="vcc")
    _frames_equal(ours, ref.astype(float))


def test_address_without_dask_is_refused(tmp_path, capsys):
    real = str(METRIC_DATA / "real.h5ad")
    assert main(["evaluate", "--real", real, "--pred", real, "--out", str(tmp_path), "--address", "tcp://x:1"]) == 2
    assert "add --scheduler dask" in capsys.readouterr().err


def test_prediction_errors_name_the_problem(tiny_path, tiny_ad, tmp_path):
    fewer = _write(tiny_ad[:, 1:].copy(), tmp_path / "fewer_genes.h5ad")
    with pytest.raises(ValueError, match=r"different genes: 1 missing from predictions"):
        vd.evaluate(tiny_path, fewer)
    renamed = tiny_ad.copy()
    renamed.obs[PERT_COL] = renamed.obs[PERT_COL].replace({renamed.obs[PERT_COL].iloc[-1]: "ZZZ"})
    other = _write(renamed, tmp_path / "other_perturbation.h5ad")
    with pytest.raises(ValueError, match="predictions contain perturbations absent from the data: ZZZ"):
        vd.evaluate(tiny_path, other)
    with pytest.raises(ValueError, match=r"^real data: .*no control cells: label 'NTC' not found"):
        vd.evaluate(tiny_path, tiny_path, control="NTC")
