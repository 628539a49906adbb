"""The streamed VCC 2026 evaluation (files read in row chunks, one joint DE in batches of genes) equals the
in-memory one, which equals cell-eval2 (tests/evaluation/test_vcc2026_reference.py)."""

from __future__ import annotations

import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tests.conftest import FIXTURES
from vcc_core.evaluation.vcc2026 import aggregate_2026, evaluate_vcc2026
from vcc_core.scale.stream2026 import evaluate_vcc2026_streamed

CASES = ["papalexi", "synthetic", "shape2", "paste"]
SMALL = {"chunk_rows": 200, "batch_entries": 100_000}  # many row chunks, several gene batches


def files(case: str):
    folder = FIXTURES / "vcc2026" / case
    return folder / "real.h5ad", folder / "pred.h5ad"


def assert_same(streamed, in_memory, *, rtol: float) -> None:
    a, b = streamed.results, in_memory.results
    assert list(a.index) == list(b.index)
    assert list(a.columns) == list(b.columns)
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-15)
    assert streamed.derived == pytest.approx(in_memory.derived, rel=rtol)


@pytest.mark.parametrize("case", CASES)
def test_streamed_equals_in_memory(case):
    in_memory = evaluate_vcc2026(*files(case))
    messages = []
    streamed = evaluate_vcc2026_streamed(*files(case), progress=messages.append, **SMALL)
    # Rank sums are exact; the jackknife's float sums are added in another order (about 1e-15 apart).
    assert_same(streamed, in_memory, rtol=1e-12)
    assert any("batch 2 of" in m for m in messages)
    assert_same(evaluate_vcc2026_streamed(*files(case)), in_memory, rtol=1e-13)  # one chunk, one batch


def test_paste_ties_survive_chunking():
    """Predicted cells that repeat the control cells have fold changes of exactly 0 however the rows are
    chunked: the CPM means are sequential sums in row order. The reach of such a prediction hangs on it."""
    streamed = evaluate_vcc2026_streamed(*files("paste"), chunk_rows=7, batch_entries=200_000)
    in_memory = evaluate_vcc2026(*files("paste"))
    pd.testing.assert_series_equal(
        streamed.results["de_wilcoxon_direction_reach_raw"], in_memory.results["de_wilcoxon_direction_reach_raw"]
    )


def test_contract_messages_name_the_cell(tmp_path):
    real, pred = files("synthetic")
    broken = ad.read_h5ad(pred)
    x = sparse.lil_matrix(broken.X, dtype=np.float32)
    row = 40
    x[row, 0] = 2_000_000  # above a million counts in one cell
    x = x.tocsr()
    broken.X = x
    path = tmp_path / "pred.h5ad"
    broken.write_h5ad(path)
    with pytest.raises(ValueError, match=rf"^predictions: cell {row} holds 2,0[0-9,]+ counts, above the limit"):
        evaluate_vcc2026_streamed(real, path, **SMALL)
    broken.X = x.multiply(0.5).tocsr()
    broken.write_h5ad(path)
    with pytest.raises(ValueError, match=r"^predictions: X holds fractional values"):
        evaluate_vcc2026_streamed(real, path, **SMALL)
    relabelled = ad.read_h5ad(pred)
    relabelled.obs["target_gene"] = relabelled.obs["target_gene"].astype(str).replace("non-targeting", "ctrl")
    relabelled.write_h5ad(path)
    with pytest.raises(ValueError, match=r"^predictions: no cell is labelled .non-targeting."):
        evaluate_vcc2026_streamed(real, path, **SMALL)


def test_command_line(tmp_path):
    real, pred = files("papalexi")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "vcc_core", "evaluate", "--profile", "vcc2026", "--real", str(real), "--pred",
           str(pred), "--out", str(out), "--scheduler", "stream", "--memory-gb", "0.0001"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "batch 2 of" in done.stderr
    assert "peak memory of this process" in done.stderr
    ours = pd.read_csv(out / "agg_results.csv", index_col=0)
    want = aggregate_2026(evaluate_vcc2026(real, pred))
    pd.testing.assert_frame_equal(ours, want, rtol=1e-12, check_names=False)
    theirs = pd.read_csv(FIXTURES / "vcc2026" / "papalexi" / "run" / "agg_results.csv", index_col=0)
    pd.testing.assert_frame_equal(ours, theirs, rtol=1e-6)  # and cell-eval2's
    done = subprocess.run([*cmd, "--anchor"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --anchor, --ceiling and --lfc-nmae-ref split the real cells in memory; leave --scheduler out"
    ]
