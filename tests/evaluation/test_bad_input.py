"""Hostile and broken inputs: each is refused where it enters, with one exact message that names the fix.

Every entry of the catalogue is checked twice: on the library entry
(:func:`vcc_core.evaluation.evaluate.evaluate`, which the CLI and the pages call) and through
``python -m vcc_core evaluate`` (exit status 2, one ``error:`` line, no traceback). Inputs that must *work*
(reordered genes, dense or sparse, float16, odd names) are checked to give the same numbers as the plain input.
The bad files are built in ``tmp_path`` from the tiny simulated screen.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import warnings
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as hs
from scipy import sparse

from vcc_core.__main__ import main
from vcc_core.data.dataset import open_dataset
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.uploads import MAX_UPLOAD_ENV, MB, check_upload_size, confine_path, max_upload_bytes
from vcc_core.evaluation.evaluate import evaluate
from vcc_core.keys import CONTROL, PERT_COL, UNS_SPACE

ROOT = Path(__file__).resolve().parents[2]
CLI_FLAGS = {"control": "--control", "pert_col": "--pert-col", "profile": "--profile"}


def exact(message: str) -> str:
    """A pattern matching ``message`` and nothing else."""
    return "^" + re.escape(message) + "$"


def _perts(adata: ad.AnnData) -> list[str]:
    return sorted(set(adata.obs[PERT_COL].astype(str)) - {CONTROL})


def write_h5ad(adata: ad.AnnData, path: Path) -> Path:
    with warnings.catch_warnings():  # building a bad file is allowed to make anndata complain
        warnings.simplefilter("ignore")
        adata.write_h5ad(path)
    return path


def _keep(adata: ad.AnnData, labels) -> ad.AnnData:
    return adata[adata.obs[PERT_COL].astype(str).isin(labels).to_numpy()].copy()


def _set_value(adata: ad.AnnData, value: float) -> ad.AnnData:
    out = adata.copy()
    out.X = out.X.astype(np.float32)
    out.X.data[5] = value
    return out


def _scaled(adata: ad.AnnData, factor: float) -> ad.AnnData:
    out = adata.copy()
    out.X = out.X.astype(np.float32) * np.float32(factor)
    out.X.eliminate_zeros()
    return out


def _one_cell(adata: ad.AnnData) -> ad.AnnData:
    labels = adata.obs[PERT_COL].astype(str).to_numpy()
    keep = np.ones(adata.n_obs, dtype=bool)
    keep[np.flatnonzero(labels == _perts(adata)[0])[1:]] = False
    return adata[keep].copy()


def _zero_cells(adata: ad.AnnData) -> ad.AnnData:
    """The first perturbation's cells removed, its category kept."""
    labels = adata.obs[PERT_COL].astype("category")
    out = adata[(labels != _perts(adata)[0]).to_numpy()].copy()
    out.obs[PERT_COL] = out.obs[PERT_COL].astype(pd.CategoricalDtype(labels.cat.categories))
    return out


def _renamed_genes(adata: ad.AnnData, mapping: dict[int, str]) -> ad.AnnData:
    out = adata.copy()
    names = out.var_names.to_numpy().copy()
    for i, name in mapping.items():
        names[i] = name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out.var_names = names
    return out


def _extra_gene(adata: ad.AnnData) -> ad.AnnData:
    x = sparse.hstack([adata.X, sparse.csr_matrix((adata.n_obs, 1), dtype=adata.X.dtype)], format="csr")
    var = pd.DataFrame(index=pd.Index([*adata.var_names, "EXTRA1"]))
    return ad.AnnData(X=x, obs=adata.obs.copy(), var=var, uns=dict(adata.uns))


def _with_space(adata: ad.AnnData, declared: str) -> ad.AnnData:
    out = adata.copy()
    out.uns[UNS_SPACE] = declared
    return out


def _raw_rows_in_log1p(adata: ad.AnnData, *, clip: float | None = None) -> ad.AnnData:
    """log1p data whose last 10 rows are raw counts (clipped at ``clip`` to stay inside the log1p range)."""
    logged = log1p_normalize(adata)
    raw = adata.X[-10:].astype(np.float32)
    if clip is not None:
        raw.data = np.minimum(raw.data, clip)
    logged.X = sparse.vstack([logged.X[:-10], raw], format="csr")
    return logged


def _unlabelled(adata: ad.AnnData) -> ad.AnnData:
    out = adata.copy()
    labels = out.obs[PERT_COL].astype(object).to_numpy()
    labels[-1] = None
    out.obs[PERT_COL] = pd.Categorical(labels)
    return out


def _unknown_perturbation(adata: ad.AnnData) -> ad.AnnData:
    out = adata.copy()
    out.obs[PERT_COL] = out.obs[PERT_COL].astype(str).replace({_perts(adata)[0]: "XYZ"})
    return out


def _mostly_empty(adata: ad.AnnData) -> ad.AnnData:
    out = adata.copy()
    x = out.X.tolil()
    x[: adata.n_obs // 2 + 1] = 0
    out.X = sparse.csr_matrix(x)
    out.X.eliminate_zeros()
    return out


def _text_file(path: Path) -> Path:
    path.write_text("target_gene,G00000\nnon-targeting,1\n")
    return path


def _empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _truncated(adata: ad.AnnData, path: Path) -> Path:
    write_h5ad(adata, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _scrambled(adata: ad.AnnData, path: Path) -> Path:
    """A valid HDF5 superblock followed by noise."""
    write_h5ad(adata, path)
    data = bytearray(path.read_bytes())
    data[2048:] = np.random.default_rng(0).integers(0, 256, len(data) - 2048, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def _plain_hdf5(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["matrix"] = np.zeros((3, 3))
    return path


def _sparse_float16(adata: ad.AnnData, path: Path) -> Path:
    write_h5ad(adata, path)
    with h5py.File(path, "r+") as f:
        data = f["X/data"][:]
        del f["X/data"]
        f["X/data"] = data.astype(np.float16)
    return path


# id -> (build(tiny, tmp_path) -> (real, pred, options), message pattern). Real or pred is an AnnData or a path.
CATALOGUE = {
    "not-h5ad": (
        lambda t, d: (t, _text_file(d / "pred.h5ad"), {}),
        exact("predictions: pred.h5ad is not an .h5ad (HDF5) file; save it with AnnData.write_h5ad"),
    ),
    "empty-file": (
        lambda t, d: (_empty_file(d / "real.h5ad"), t, {}),
        exact("real data: real.h5ad is empty (0 bytes); expected an .h5ad file"),
    ),
    "truncated-h5ad": (
        lambda t, d: (t, _truncated(t, d / "pred.h5ad"), {}),
        r"^predictions: pred\.h5ad could not be read as AnnData \(truncated or corrupt\?\): .+; re-export or "
        r"re-download it$",
    ),
    "corrupt-h5ad": (
        lambda t, d: (_scrambled(t, d / "real.h5ad"), t, {}),
        r"^real data: real\.h5ad could not be read as AnnData \(truncated or corrupt\?\): .+; re-export or "
        r"re-download it$",
    ),
    "hdf5-not-anndata": (
        lambda t, d: (t, _plain_hdf5(d / "pred.h5ad"), {}),
        exact(
            "predictions: pred.h5ad is HDF5 but not AnnData (no obs/var groups); convert it and save with write_h5ad"
        ),
    ),
    "sparse-float16-file": (
        lambda t, d: (t, _sparse_float16(t, d / "pred.h5ad"), {}),
        exact("predictions: pred.h5ad stores a sparse float16 X, which scipy cannot hold; save X as float32"),
    ),
    "no-perturbation-column": (
        lambda t, d: (t, t, {"pert_col": "guide"}),
        exact(
            "real data: obs has no perturbation column 'guide' (columns found: target_gene); set pert_col (--pert-col)"
        ),
    ),
    "control-label-absent": (
        lambda t, d: (t, t, {"control": "NTC"}),
        r"^real data: no control cells: label 'NTC' not found in obs\['target_gene'\] \(most frequent: "
        r"non-targeting, G\d+, .+\); set control \(--control\)$",
    ),
    "perturbation-with-zero-cells": (
        lambda t, d: (t, _zero_cells(t), {}),
        exact(
            "the prediction has no cells for 1 perturbation(s) of the data: G00021; predict cells for every "
            "perturbation"
        ),
    ),
    "perturbation-with-one-cell": (
        lambda t, d: (_one_cell(t), t, {}),
        exact(
            "real data: 1 perturbation(s) of obs['target_gene'] have only 1 cell: 'G00021'; DE needs at least 2 "
            "cells per perturbation; remove them (they are not dropped automatically)"
        ),
    ),
    "one-perturbation-only": (
        lambda t, d: (_keep(t, [CONTROL, "G00021"]), _keep(t, [CONTROL, "G00021"]), {}),
        exact(
            "PDS ranks perturbations against each other and needs at least 2 (got 1); add perturbations or leave "
            "out the discrimination_score metrics (e.g. profile 'de')"
        ),
    ),
    "control-only": (
        lambda t, d: (_keep(t, [CONTROL]), t, {}),
        exact(
            "real data: no perturbations: every cell of obs['target_gene'] is control 'non-targeting'; load "
            "perturbed cells too"
        ),
    ),
    "genes-missing": (
        lambda t, d: (t, t[:, 1:].copy(), {}),
        exact(
            "predictions and data have different genes: 1 missing from predictions (G00000); predict exactly the "
            "genes of the data"
        ),
    ),
    "genes-extra": (
        lambda t, d: (t, _extra_gene(t), {}),
        exact("predictions and data have different genes: 1 extra (EXTRA1); predict exactly the genes of the data"),
    ),
    "genes-duplicated-in-predictions": (
        lambda t, d: (t, _renamed_genes(t, {1: "G00000"}), {}),
        exact("predictions: gene names must be unique; duplicated: G00000; rename or drop the repeats"),
    ),
    "genes-duplicated-in-data": (
        lambda t, d: (_renamed_genes(t, {1: "G00000"}), t, {}),
        exact("real data: gene names must be unique; duplicated: G00000; rename or drop the repeats"),
    ),
    "nan-values": (
        lambda t, d: (_set_value(t, np.nan), t, {}),
        exact("real data: X contains NaN or infinite values; replace them (e.g. with 0) before loading"),
    ),
    "infinite-values": (
        lambda t, d: (t, _set_value(t, np.inf), {}),
        exact("predictions: X contains NaN or infinite values; replace them (e.g. with 0) before loading"),
    ),
    "negative-counts": (
        lambda t, d: (t, _set_value(t, -3.0), {}),
        exact(
            "predictions: X contains negative values (min -3); counts and log1p values must be >= 0: load raw "
            "counts or log1p values, not scaled or centred data"
        ),
    ),
    "non-integer-counts": (
        lambda t, d: (_scaled(t, 1.37), t, {}),
        r"^real data: X holds fractional values up to [\d.]+, above the log1p range \[0, 15\): neither raw counts "
        r"nor log1p; load integer counts or log1p-normalised values$",
    ),
    "log1p-declared-as-counts": (
        lambda t, d: (_with_space(log1p_normalize(t), "counts"), t, {}),
        exact(
            "real data: X is declared 'counts' in uns['vcc_space'] but holds fractional values (log1p); correct "
            "uns['vcc_space'] (or delete it) or load raw counts"
        ),
    ),
    "counts-declared-as-log1p": (
        lambda t, d: (t, _with_space(t, "log1p"), {}),
        exact(
            "predictions: X is declared 'log1p' in uns['vcc_space'] but holds only whole numbers (counts); correct "
            "uns['vcc_space'] (or delete it) or load log1p values"
        ),
    ),
    "unknown-declared-space": (
        lambda t, d: (_with_space(t, "raw"), t, {}),
        exact("real data: uns['vcc_space'] is 'raw'; set it to 'counts' or 'log1p', or delete it"),
    ),
    "raw-rows-in-log1p": (
        lambda t, d: (t, _raw_rows_in_log1p(t), {}),
        r"^predictions: X mixes scales: it has fractional values \(log1p\) in 770 sampled rows and only whole "
        r"numbers \(raw counts\) in 10; load one scale only$",
    ),
    "shallow-raw-rows-in-log1p": (
        lambda t, d: (t, _raw_rows_in_log1p(t, clip=14.0), {}),
        r"^predictions: X mixes scales: it has fractional values \(log1p\) in 770 sampled rows and only whole "
        r"numbers \(raw counts\) in 10; load one scale only$",
    ),
    "zero-genes": (
        lambda t, d: (t[:, :0].copy(), t, {}),
        exact("real data: the dataset has 0 genes (columns of X); load a file with genes"),
    ),
    "zero-cells": (
        lambda t, d: (t, t[:0].copy(), {}),
        exact("predictions: X has 0 cells (rows); load a file with cells"),
    ),
    "unlabelled-predicted-cells": (
        lambda t, d: (t, _unlabelled(t), {}),
        exact("predictions have 1 cell(s) without a label in obs['target_gene']; label every cell"),
    ),
    "unknown-perturbation": (
        lambda t, d: (t, _unknown_perturbation(t), {}),
        exact("predictions contain perturbations absent from the data: XYZ; predict only perturbations of the data"),
    ),
    "all-zero-counts": (
        lambda t, d: (_scaled(t, 0.0), t, {}),
        exact("real data: every cell has a total count of 0: nothing to normalise; check that X holds the counts"),
    ),
    "mostly-empty-cells": (
        lambda t, d: (t, _mostly_empty(t), {}),
        exact(
            "predictions: the median total count is 0 (most cells have no counts); remove the empty cells before "
            "loading"
        ),
    ),
}


def build_case(case: str, tiny, tmp_path):
    build, pattern = CATALOGUE[case]
    real, pred, options = build(tiny.copy(), tmp_path)
    return real, pred, options, pattern


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_library_refuses_with_the_exact_message(case, tiny, tmp_path):
    real, pred, options, pattern = build_case(case, tiny, tmp_path)
    with pytest.raises(ValueError, match=pattern):
        evaluate(real, pred, **options)


def data_side(pattern: str) -> str | None:
    """``pattern`` without its ``real data:`` prefix, or None when the entry is not about the real data."""
    for prefix in ("^" + re.escape("real data: "), "^real data: "):
        if pattern.startswith(prefix):
            return "^" + pattern.removeprefix(prefix)
    return None


DATA_ENTRIES = [case for case, (_, pattern) in CATALOGUE.items() if data_side(pattern)]


@pytest.mark.parametrize("case", DATA_ENTRIES)
def test_dashboard_loader_refuses_bad_data_with_the_same_message(case, tiny, tmp_path):
    real, _, options, pattern = build_case(case, tiny, tmp_path)
    with pytest.raises(ValueError, match=data_side(pattern)):
        open_dataset(real, pert_col=options.get("pert_col"), control=options.get("control"))


def _as_file(side, path: Path) -> str:
    return str(side if isinstance(side, Path) else write_h5ad(side, path))


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_cli_exits_2_with_one_error_line(case, tiny, tmp_path, capsys):
    real, pred, options, pattern = build_case(case, tiny, tmp_path)
    argv = [
        "evaluate",
        "--real",
        _as_file(real, tmp_path / "real.h5ad"),
        "--pred",
        _as_file(pred, tmp_path / "pred.h5ad"),
    ]
    argv += ["--out", str(tmp_path / "out")]
    for key, value in options.items():
        argv += [CLI_FLAGS[key], value]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err  # every entry is refused before any progress line
    assert re.match("^error: " + pattern.removeprefix("^"), lines[0]), lines[0]
    assert not (tmp_path / "out").exists()


def test_missing_file_is_one_line(tmp_path, capsys):
    argv = ["evaluate", "--real", str(tmp_path / "nope.h5ad"), "--pred", str(tmp_path / "nope.h5ad")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: file not found: {tmp_path / 'nope.h5ad'}"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcc_core", *args], cwd=ROOT, capture_output=True, text=True)


def test_cli_subprocess_prints_no_traceback_or_warning(tiny, tmp_path):
    """A real run as a user starts it: a corrupt file and a duplicated gene name give one line and nothing else."""
    real = write_h5ad(_renamed_genes(tiny, {1: "G00000"}), tmp_path / "real.h5ad")
    pred = _truncated(tiny, tmp_path / "pred.h5ad")
    out = _cli("evaluate", "--real", str(real), "--pred", str(pred), "--out", str(tmp_path / "out"))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "error: real data: gene names must be unique; duplicated: G00000; rename or drop the repeats"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["evaluate", "--real", "{real}", "--pred", "{real}", "--out", "{file}"],
            "--out {file} is a file; give a folder for the results",
        ),
        (
            ["train", "--model", "mean_baseline", "--data", "tiny", "--out", "{tmp}/no/p.h5ad"],
            "the folder of --out {tmp}/no/p.h5ad does not exist; create {tmp}/no first",
        ),
        (
            ["train", "--model", "mean_baseline", "--data", "tiny", "--out", "{tmp}/p.h5ad", "--cells-per-pert", "1"],
            "--cells-per-pert must be at least 2 (DE compares cells), got 1",
        ),
        (
            ["train", "--model", "mean_baseline", "--data", "{nan}", "--out", "{tmp}/p.h5ad"],
            "X contains NaN or infinite values; replace them (e.g. with 0) before loading",
        ),
        (
            ["simulate", "--preset", "tiny", "--out", "{tmp}/no/t.h5ad"],
            "the folder of --out {tmp}/no/t.h5ad does not exist; create {tmp}/no first",
        ),
        (
            ["simulate", "--preset", "tiny", "--out", "{tmp}"],
            "--out {tmp} is a folder; give a file name such as {tmp}/out.h5ad",
        ),
    ],
)
def test_other_commands_refuse_in_one_line(args, message, tiny, tmp_path, capsys):
    paths = {
        "tmp": str(tmp_path),
        "real": str(write_h5ad(tiny, tmp_path / "real.h5ad")),
        "file": str(_text_file(tmp_path / "results.txt")),
        "nan": str(write_h5ad(_set_value(tiny, np.nan), tmp_path / "nan.h5ad")),
    }
    assert main([a.format(**paths) for a in args]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {message.format(**paths)}"]


# --------------------------------------------------------------------------------------------- inputs that must work


def _imperfect(adata: ad.AnnData) -> ad.AnnData:
    """A prediction with some signal and some error: half the perturbed cells get a random perturbation's label."""
    out = adata.copy()
    labels = out.obs[PERT_COL].astype(str).to_numpy().copy()
    rng = np.random.default_rng(1)
    cells = np.flatnonzero(labels != CONTROL)
    picked = rng.choice(cells, size=cells.size // 2, replace=False)
    labels[picked] = rng.permutation(labels[picked])
    out.obs[PERT_COL] = pd.Categorical(labels)
    return out


def _assert_same(got: tuple[pd.DataFrame, pd.DataFrame], want: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    for a, b in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_reordered_genes_are_aligned_silently_and_correctly(tiny):
    pred = _imperfect(tiny)
    order = np.random.default_rng(2).permutation(tiny.n_vars)
    shuffled = pred[np.random.default_rng(3).permutation(pred.n_obs), order].copy()
    want = evaluate(tiny, pred, profile="full")
    assert want[0]["mae"].max() > 0  # the prediction is not the truth, so a misalignment would show
    _assert_same(evaluate(tiny, shuffled, profile="full"), want)


@pytest.mark.parametrize(("real_dense", "pred_dense"), [(True, False), (False, True), (True, True)])
def test_dense_and_sparse_give_the_same_numbers(tiny, real_dense, pred_dense):
    pred = _imperfect(tiny)
    want = evaluate(tiny, pred, profile="full")
    real_in, pred_in = tiny.copy(), pred.copy()
    if real_dense:
        real_in.X = real_in.X.toarray()
    if pred_dense:
        pred_in.X = pred_in.X.toarray()
    _assert_same(evaluate(real_in, pred_in, profile="full"), want)


def test_dense_float16_is_converted_to_float32(tiny, tmp_path):
    pred = log1p_normalize(_imperfect(tiny))
    half = pred.copy()
    half.X = pred.X.toarray().astype(np.float16)
    widened = pred.copy()
    widened.X = half.X.astype(np.float32)
    want = evaluate(tiny, widened)
    _assert_same(evaluate(tiny, half), want)
    _assert_same(evaluate(tiny, write_h5ad(half, tmp_path / "half.h5ad")), want)


def test_category_without_cells_in_the_data_is_ignored(tiny):
    real = tiny.copy()
    real.obs[PERT_COL] = real.obs[PERT_COL].astype("category").cat.add_categories(["GHOST"])
    pred = _imperfect(tiny)
    _assert_same(evaluate(real, pred), evaluate(tiny, pred))


def test_repeated_cell_names_in_a_file_are_made_unique(tiny, tmp_path):
    real = tiny.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        real.obs_names = ["cell"] * real.n_obs
    path = write_h5ad(real, tmp_path / "real.h5ad")
    _assert_same(evaluate(path, path), evaluate(tiny, tiny))


def test_one_perturbation_scores_without_pds(tiny):
    one = _keep(tiny, [CONTROL, "G00021"])
    results, _ = evaluate(one, one, profile="de")
    assert list(results.index) == ["G00021"]


ODD = ["Gène-α/β", 'q"uote', "comma,name", "tab\tname", "emoji 🧬", "new\nline", "../../etc/passwd", "<b>x</b>"]


def _odd_names(adata: ad.AnnData) -> tuple[ad.AnnData, dict[str, str]]:
    """Perturbations (and their target genes) renamed to odd unicode names; control too."""
    mapping = dict(zip(_perts(adata), ODD, strict=False))
    out = adata.copy()
    labels = out.obs[PERT_COL].astype(str).replace({**mapping, CONTROL: "контроль ✓"})
    out.obs[PERT_COL] = pd.Categorical(labels)
    out.var_names = [mapping.get(g, g) for g in out.var_names]
    return out, mapping


def test_unicode_and_odd_names_work_in_the_library_and_the_cli(tiny, tmp_path, capsys):
    pred = _imperfect(tiny)
    want, _ = evaluate(tiny, pred, profile="full")
    real_odd, mapping = _odd_names(tiny)
    pred_odd, _ = _odd_names(pred)
    got, _ = evaluate(real_odd, pred_odd, control="контроль ✓", profile="full")
    # Leiden's clusters depend on the order of its nodes, the sorted names (as in cell-eval): renaming moves them
    order_bound = "clustering_agreement"
    pd.testing.assert_frame_equal(
        got.drop(columns=order_bound), want.rename(index=mapping).sort_index().drop(columns=order_bound)
    )

    real_file, pred_file = write_h5ad(real_odd, tmp_path / "réel.h5ad"), write_h5ad(pred_odd, tmp_path / "préd.h5ad")
    argv = ["evaluate", "--real", str(real_file), "--pred", str(pred_file), "--out", str(tmp_path / "sortie")]
    assert main([*argv, "--control", "контроль ✓", "--profile", "full"]) == 0
    assert "error" not in capsys.readouterr().err
    written = pd.read_csv(tmp_path / "sortie" / "results.csv", index_col=0, keep_default_na=False)
    assert list(written.index) == list(got.index)
    np.testing.assert_allclose(written["mae"].to_numpy(), got["mae"].to_numpy(dtype=float))


# ------------------------------------------------------------------------------------------- upload size and paths


def test_upload_size_limit_defaults_to_2048_mb(monkeypatch):
    monkeypatch.delenv(MAX_UPLOAD_ENV, raising=False)
    assert max_upload_bytes() == 2048 * MB
    check_upload_size(2048 * MB)
    with pytest.raises(ValueError, match=exact(_too_big("3,072", "2,048"))):
        check_upload_size(3 * 1024 * MB)


def test_upload_size_limit_follows_the_environment_and_the_argument(monkeypatch):
    monkeypatch.setenv(MAX_UPLOAD_ENV, "1.5")
    check_upload_size(MB)
    with pytest.raises(ValueError, match=exact(_too_big("2", "1.5"))):
        check_upload_size(2 * MB)
    with pytest.raises(ValueError, match=exact(_too_big("1.5", "1"))):
        check_upload_size(MB + MB // 2, MB)
    monkeypatch.setenv(MAX_UPLOAD_ENV, "0.01")
    with pytest.raises(ValueError, match=exact(_too_big("0.0143", "0.01"))):
        check_upload_size(15_000)


def _too_big(size_mb: str, limit_mb: str) -> str:
    return f"the upload is {size_mb} MB, over the limit of {limit_mb} MB; use a smaller file or raise {MAX_UPLOAD_ENV}"


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_bad_upload_limit_setting_is_named(monkeypatch, value):
    monkeypatch.setenv(MAX_UPLOAD_ENV, value)
    message = f"{MAX_UPLOAD_ENV}={value!r} is not a positive number of megabytes; set it to e.g. 2048"
    with pytest.raises(ValueError, match=exact(message)):
        check_upload_size(10)


@pytest.fixture
def folders(tmp_path):
    """``data/`` (allowed) holding ``a.h5ad``, links in and out, and ``secret.h5ad`` beside it (not allowed)."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.h5ad").write_bytes(b"x")
    (tmp_path / "secret.h5ad").write_bytes(b"x")
    (tmp_path / "data2").mkdir()
    (data / "link_in.h5ad").symlink_to(data / "a.h5ad")
    (data / "link_out.h5ad").symlink_to(tmp_path / "secret.h5ad")
    (data / "up").symlink_to(tmp_path, target_is_directory=True)
    (data / "loop").symlink_to(data / "loop")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "resolved"),
    [("data/a.h5ad", "data/a.h5ad"), ("data/sub/../a.h5ad", "data/a.h5ad"), ("data/link_in.h5ad", "data/a.h5ad")],
)
def test_paths_inside_the_data_folders_resolve(folders, path, resolved):
    assert confine_path(folders / path, [folders / "data"]) == (folders / resolved).resolve()


@pytest.mark.parametrize(
    "path",
    ["secret.h5ad", "data/../secret.h5ad", "data/link_out.h5ad", "data/up/secret.h5ad", "data2/x.h5ad", "/etc/passwd"],
)
def test_paths_outside_the_data_folders_are_refused(folders, path):
    target = folders / path
    message = (
        f"{str(target)!r} is outside the allowed data folders; choose a file in them or add its folder to VCC_DATA_DIRS"
    )
    with pytest.raises(ValueError, match=exact(message)):
        confine_path(target, [folders / "data"])


def test_unusable_paths_are_refused(folders):
    with pytest.raises(ValueError, match=r"is not a usable path \(.*null byte.*\); choose a file in the data folders"):
        confine_path(str(folders / "data" / "a\x00.h5ad"), [folders / "data"])
    with pytest.raises(ValueError, match="is outside the allowed data folders"):
        confine_path(folders / "data" / "a.h5ad", [])


# ----------------------------------------------------------------------------------------------------- properties


def _known(message: str) -> bool:
    """A message raised by our checks (every loading error names its side; the rest are evaluate's own)."""
    starts = ("real data: ", "predictions", "the prediction has no cells", "PDS ranks", "every cell has", "the median")
    return message.startswith(starts) and "\n" not in message


@hs.composite
def anndatas(draw, *, like: ad.AnnData | None = None) -> ad.AnnData:
    """Small AnnData: random groups (0 to 6 cells each, control or not, a few unlabelled cells), 0 to 6 genes
    (names repeated now and then), values as counts, log1p or wild (negative, NaN, inf), dense, sparse or float16.
    """
    if like is None and draw(hs.booleans()):  # a well-formed layout, so that DE and the metrics run on it
        groups = [CONTROL, *draw(hs.permutations(["A", "B", "C", "Gène ü"]))[: draw(hs.integers(2, 4))]]
        labels = [g for g in groups for _ in range(draw(hs.integers(2, 6)))]
        genes = draw(hs.lists(hs.sampled_from(["A", "B", "G1", "G2", "Gène ü"]), min_size=1, max_size=5, unique=True))
    elif like is None:
        groups = draw(hs.lists(hs.sampled_from([CONTROL, "A", "B", "C", "Gène ü"]), unique=True, max_size=5))
        labels = [g for g in groups for _ in range(draw(hs.integers(0, 6)))]
        labels += [None] * draw(hs.integers(0, 2))
        n_genes = draw(hs.integers(0, 6))
        genes = draw(hs.lists(hs.sampled_from(["A", "B", "G1", "G2", "Gène ü"]), min_size=n_genes, max_size=n_genes))
    else:
        labels, genes = list(like.obs[PERT_COL]), list(like.var_names)
    n_cells, n_genes = len(labels), len(genes)
    kind = draw(hs.sampled_from(["counts", "log1p", "wild"]))
    if kind == "counts":
        elements = hs.integers(0, 30).map(float)
    elif kind == "log1p":
        elements = hs.floats(0, 6, width=32)
    else:
        elements = hs.one_of(hs.floats(-1, 1e6, width=32), hs.sampled_from([np.nan, np.inf, 0.0]))
    values = draw(hs.lists(elements, min_size=n_cells * n_genes, max_size=n_cells * n_genes))
    x = np.asarray(values, dtype=np.float32).reshape(n_cells, n_genes)
    storage = draw(hs.sampled_from(["csr", "dense", "float16", "int"] if kind == "counts" else ["csr", "dense"]))
    x = {
        "csr": sparse.csr_matrix,
        "dense": np.asarray,
        "float16": lambda a: a.astype(np.float16),
        "int": lambda a: a.astype(np.int32),
    }[storage](x)
    obs = pd.DataFrame({PERT_COL: pd.Categorical(labels)}, index=[f"c{i}" for i in range(n_cells)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicated gene names are one of the inputs
        return ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=pd.Index(genes, dtype=object)))


@hs.composite
def real_and_pred(draw) -> tuple[ad.AnnData, ad.AnnData]:
    real = draw(anndatas())
    how = draw(hs.sampled_from(["same", "same layout", "independent"]))
    if how != "same":
        return real, draw(anndatas(like=real if how == "same layout" else None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicated gene names
        return real, real.copy()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pair=real_and_pred(), profile=hs.sampled_from(["vcc", "full", "de"]))
def test_random_inputs_evaluate_or_raise_our_value_error(pair, profile):
    real, pred = pair
    try:
        results, agg = evaluate(real, pred, profile=profile)
    except ValueError as err:
        message = str(err)
        event(message[:70])
    else:
        event("evaluated")
        assert list(agg.index)[:2] == ["count", "null_count"]
        assert len(results) >= 1
        return
    assert _known(message), message


# --------------------------------------------------------------------------------------------------------- safety

SOURCES = sorted(
    [*(ROOT / "vcc_core").rglob("*.py"), *(ROOT / "app_pages").glob("*.py"), ROOT / "ui.py", ROOT / "app.py"]
)
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _unsafe(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "torch" and any(a.name == "load" for a in node.names):
            found.append("from torch import load")
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            safe_load = (
                isinstance(keywords.get("weights_only"), ast.Constant) and keywords["weights_only"].value is True
            )
            if name == "torch.load" and not safe_load:
                found.append("torch.load without weights_only=True")
            if isinstance(keywords.get("allow_pickle"), ast.Constant) and keywords["allow_pickle"].value is not False:
                found.append(f"{name}(allow_pickle=True)")
            if name.endswith(("read_pickle", "to_pickle")) or "persist" in keywords:
                found.append(name)
    return found


def test_no_pickle_or_unrestricted_torch_load_in_any_source():
    assert len(SOURCES) > 20
    offenders = {p.relative_to(ROOT).as_posix(): bad for p in SOURCES if (bad := _unsafe(ast.parse(p.read_text())))}
    assert offenders == {}


def test_the_scan_catches_what_it_looks_for():
    code = (
        "import pickle\nfrom joblib import load\nimport torch\ntorch.load('m.pt')\n"
        "np.load('a.npy', allow_pickle=True)\npd.read_pickle('x')\nst.cache_data(persist='disk')\n"
        "torch.load('m.pt', weights_only=True)\n"
    )
    assert _unsafe(ast.parse(code)) == [
        "pickle",
        "joblib",
        "torch.load without weights_only=True",
        "np.load(allow_pickle=True)",
        "pd.read_pickle",
        "st.cache_data",
    ]
