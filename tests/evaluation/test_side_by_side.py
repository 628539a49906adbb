"""The real and predicted sides evaluated at once, each on its share of the cores, give the numbers of one side after
the other."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import anndata as ad
import numba
import numpy as np
import pytest

from vcc_core.compiled import CoreShare, concurrent_launches, threads
from vcc_core.data.normalize import divide_rows
from vcc_core.evaluation.evaluate import Sides, evaluate

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests" / "fixtures" / "metrics" / "synthetic"

ONE_AFTER_THE_OTHER = """
import sys
from vcc_core.compiled import concurrent_launches
from vcc_core.evaluation.evaluate import evaluate
results, _ = evaluate(sys.argv[1], sys.argv[2], profile="vcc")
assert not concurrent_launches()
results.to_csv(sys.argv[3])
"""


def test_sides_run_in_their_own_threads_where_kernels_may():
    divide_rows(np.array([0, 1]), np.ones(1, np.float32), np.ones(1, np.float32))  # the threading layer is chosen
    seen = {}
    together = concurrent_launches() and threads() >= 2
    both = threading.Barrier(2, timeout=30)  # side by side, each side waits for the other: they run at once

    def work(side, stop):
        seen[side] = (threading.get_ident(), threads())
        if together:
            both.wait()
        return side

    sides = Sides(2)
    sides.start("real", work, "real")
    sides.start("pred", work, "pred")
    assert sides.results() == {"real": "real", "pred": "pred"}
    if together:
        assert seen["real"][0] != seen["pred"][0]
        assert {seen[side][1] for side in seen} == {threads() // 2}
    else:
        assert {seen[side] for side in seen} == {(threading.get_ident(), threads())}
    assert numba.get_num_threads() == threads()


def test_a_thread_left_alone_takes_the_cores_of_those_done():
    """Two threads share the cores; once one is done, the kernels the other launches use them all."""
    cores = numba.config.NUMBA_NUM_THREADS
    share = CoreShare(2, cores=cores)
    entered, leave = threading.Event(), threading.Event()

    def other():
        with share.member():
            entered.set()
            leave.wait(30)

    helper = threading.Thread(target=other)
    helper.start()
    entered.wait(30)
    with share.member():
        assert threads() == max(1, cores // 2)
        leave.set()
        helper.join(30)
        assert threads() == cores
        divide_rows(np.array([0, 1]), np.ones(1, np.float32), np.ones(1, np.float32))
        assert numba.get_num_threads() == cores  # the launch ran on the whole share
    assert threads() == numba.get_num_threads()


def test_the_real_side_is_said_after_the_inputs_are_known_good(tmp_path):
    """The real side starts while the predictions are read, but its lines come after the line saying both are
    loaded; predictions refused stop it, and the refusal is all that is said."""
    said = []
    evaluate(CASE / "real.h5ad", CASE / "pred.h5ad", profile="vcc", progress=said.append)
    assert said[0].startswith("loaded real data")
    assert any(line.startswith("Wilcoxon DE of real") for line in said)
    bad = ad.read_h5ad(CASE / "pred.h5ad")
    bad = bad[:, bad.var_names[1:]].copy()  # a gene missing
    bad.write_h5ad(tmp_path / "bad.h5ad")
    said.clear()
    with pytest.raises(ValueError, match=r"^predictions"):
        evaluate(CASE / "real.h5ad", tmp_path / "bad.h5ad", profile="vcc", progress=said.append)
    assert said == []


def test_one_side_after_the_other_gives_the_same_numbers(tmp_path):
    """Side by side here (OpenMP or TBB), one after the other on numba's thread-unsafe layer: the same tables."""
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "PYTHONPATH": str(ROOT)}
    args = [str(CASE / "real.h5ad"), str(CASE / "pred.h5ad"), str(tmp_path / "sequential.csv")]
    done = subprocess.run([sys.executable, "-c", ONE_AFTER_THE_OTHER, *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    results, _ = evaluate(CASE / "real.h5ad", CASE / "pred.h5ad", profile="vcc")
    results.to_csv(tmp_path / "here.csv")
    assert (tmp_path / "here.csv").read_text() == (tmp_path / "sequential.csv").read_text()


def test_a_side_that_fails_stops_the_other():
    divide_rows(np.array([0, 1]), np.ones(1, np.float32), np.ones(1, np.float32))  # the threading layer is chosen
    together = concurrent_launches() and threads() >= 2
    left = threading.Event()

    def fail(stop):
        raise ValueError("this side failed")

    def wait(stop):
        for _ in range(3000):  # at most 30 s
            if stop.is_set():
                left.set()
                return
            time.sleep(0.01)

    sides = Sides(2)
    sides.start("real", fail)
    sides.start("pred", wait)
    with pytest.raises(ValueError, match="this side failed"):
        sides.results()
    assert left.wait(30 if together else 0) == together  # one after the other, the second side never started
