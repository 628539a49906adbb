"""The command line, run as a user would (subprocess)."""

import os
import subprocess
import sys
from pathlib import Path

import anndata as ad
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "vcc_core", *args], cwd=ROOT, capture_output=True, text=True)


def test_simulate_writes_a_readable_file(tmp_path):
    out = _cli("simulate", "--preset", "tiny", "--out", str(tmp_path / "t.h5ad"))
    assert out.returncode == 0, out.stderr
    assert "wrote" in out.stderr
    assert ad.read_h5ad(tmp_path / "t.h5ad").shape == (780, 300)


def test_unknown_preset_is_rejected_by_argparse(tmp_path):
    out = _cli("simulate", "--preset", "huge", "--out", str(tmp_path / "t.h5ad"))
    assert out.returncode == 2
    assert "invalid choice: 'huge'" in out.stderr


def test_train_writes_a_submission_in_the_vcc_layout(tmp_path):
    out = _cli("train", "--model", "mean_baseline", "--data", "tiny", "--out", str(tmp_path / "p.h5ad"))
    assert out.returncode == 0, out.stderr
    pred = ad.read_h5ad(tmp_path / "p.h5ad")
    labels = set(pred.obs["target_gene"])
    assert "non-targeting" in labels
    assert len(labels) == 1 + 4  # control + the tiny screen's 4 test perturbations
    assert pred.n_vars == 300


def test_unknown_model_is_one_line_on_stderr(tmp_path):
    out = _cli("train", "--model", "gpt", "--data", "tiny", "--out", str(tmp_path / "p.h5ad"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: unknown model 'gpt'")


def test_precompute_fills_the_cache_the_pages_read(tmp_path, monkeypatch):
    env = {**os.environ, "VCC_CACHE_DIR": str(tmp_path / "cache")}
    args = ["precompute", "--data", "tiny", "--models", "mean_baseline,ridge", "--ceiling-seeds", "1"]
    out = subprocess.run([sys.executable, "-m", "vcc_core", *args], cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "[1/" in out.stderr
    assert "ridge: DES scaling sweep" in out.stderr

    # A later process running the same steps finds every one of them in the cache.
    monkeypatch.setenv("VCC_CACHE_DIR", str(tmp_path / "cache"))
    from vcc_core.cache import default_cache
    from vcc_core.commands.precompute import plan, run
    from vcc_core.data.dataset import open_dataset

    dataset = open_dataset("tiny")
    before = default_cache().stats.as_dict()
    run(plan(dataset, models=["mean_baseline", "ridge"], ceiling_seeds=1))
    after = default_cache().stats.as_dict()
    assert after["misses"] == before["misses"]
    assert after["hits"] > before["hits"]


def test_precompute_of_a_prediction_file_fills_what_the_pages_read(tmp_path, monkeypatch):
    """``--pred FILE`` computes the file's sides and sweep; the explorer's call then only reads the cache."""
    from vcc_core.analyses.sweep import SCALES
    from vcc_core.analyses.sweep_runs import source_sweep
    from vcc_core.cache import default_cache
    from vcc_core.data.dataset import open_dataset
    from vcc_core.data.predictions import table_from_profiles
    from vcc_core.evaluation.sources import PredictionSource, source_inputs
    from vcc_core.models.training import train_predict

    monkeypatch.setenv("VCC_CACHE_DIR", str(tmp_path / "cache"))
    dataset = open_dataset("tiny")
    table_from_profiles(train_predict(dataset, "ridge"), tmp_path / "mine.csv")
    args = ["precompute", "--data", "tiny", "--models", "mean_baseline", "--ceiling-seeds", "0", "--no-des-sweep"]
    env = {**os.environ, "VCC_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "vcc_core", *args, "--pred", str(tmp_path / "mine.csv")], cwd=ROOT,
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "mine.csv (pseudobulk table): sides and DE" in out.stderr

    before = default_cache().stats.as_dict()
    source = PredictionSource.file(tmp_path / "mine.csv")
    source_inputs(dataset, source)
    source_sweep(dataset, source, scales=SCALES)
    after = default_cache().stats.as_dict()
    assert after["misses"] == before["misses"]
    assert after["hits"] > before["hits"]


def test_precompute_rejects_an_unknown_model_at_once(tmp_path):
    out = _cli("precompute", "--data", "tiny", "--models", "ridge,gpt")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1
    assert "gpt" in out.stderr


def test_a_named_command_imports_only_its_own_module():
    """``python -m vcc_core simulate`` builds the simulate parser alone; no name (or a wrong one) lists them all."""
    from vcc_core.__main__ import build_parser

    def commands(parser):
        return set(parser._subparsers._group_actions[0].choices)

    assert commands(build_parser("simulate")) == {"simulate"}
    everything = commands(build_parser(None))
    assert {"evaluate", "simulate", "train", "ceiling"} <= everything
    assert commands(build_parser("nonsense")) == everything


def test_evaluate_lists_every_profile():
    from vcc_core.commands.evaluate import PROFILE_NAMES
    from vcc_core.metrics import PROFILES

    assert (*PROFILES, "vcc2026") == PROFILE_NAMES


def test_vcc2026_evaluation_runs_without_torch_on_the_cpu():
    case = ROOT / "tests" / "fixtures" / "vcc2026" / "papalexi"
    code = (
        "import sys; from vcc_core.__main__ import build_parser; build_parser('evaluate');"
        "from vcc_core.evaluation.vcc2026 import evaluate_vcc2026;"
        f"evaluate_vcc2026('{case / 'real.h5ad'}', '{case / 'pred.h5ad'}'); print('torch' in sys.modules)"
    )
    env = {**os.environ, "VCC_DEVICE": "cpu"}  # a CPU run: importing torch (over a second) would be wasted
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("layout", ["plain", "dense"])
def test_evaluate_hides_dask_from_anndata_and_scores_the_same(tmp_path, layout):
    """The in-process evaluation reads plain files without anndata, and imports anndata without dask for the others
    (either import is a tenth of the command); its tables are those of the same evaluation with dask seen."""
    case = ROOT / "tests" / "fixtures" / "metrics" / "synthetic"
    real, pred = case / "real.h5ad", case / "pred.h5ad"
    if layout == "dense":  # a dense X is read by anndata
        real = tmp_path / "real.h5ad"
        dense = ad.read_h5ad(case / "real.h5ad")
        dense.X = dense.X.toarray()
        dense.write_h5ad(real)
    outs = {}
    for name, hide in (("hidden", True), ("seen", False)):
        outs[name] = tmp_path / name
        code = (
            "import sys\n"
            + ("" if hide else "import dask.array\n")
            + "from vcc_core.__main__ import main\n"
            + f"code = main(['evaluate', '--real', r'{real}', '--pred', r'{pred}', '--out', r'{outs[name]}'])\n"
            + "print(code, 'anndata' in sys.modules, 'dask' in sys.modules, 'dask.array' in sys.modules)\n"
        )
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        last = done.stdout.strip().splitlines()[-1]
        assert last == f"0 {layout == 'dense'} {not hide} {not hide}", done.stdout
    for table in ("results.csv", "agg_results.csv"):
        assert (outs["hidden"] / table).read_text() == (outs["seen"] / table).read_text()
