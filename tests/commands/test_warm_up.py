"""Compiled kernels launched from many threads at once (Streamlit serves each session from its own thread)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vcc_core.data.simulate import DEFAULT_PRESET, VERSION

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import threading
import numpy as np
from scipy import sparse
from vcc_core.de.wilcoxon import wilcoxon_de
from vcc_core.data.normalize import normalize_block
from vcc_core.data.pseudobulk import group_sums

rng = np.random.default_rng(0)
counts = sparse.random(3000, 400, density=0.2, format="csr", dtype=np.float32, random_state=0)
counts.data = np.ceil(counts.data * 20)
labels = rng.choice(["non-targeting", "a", "b"], 3000)
codes = np.unique(labels, return_inverse=True)[1]

def run():
    x = normalize_block(counts, target_sum=100.0)
    return wilcoxon_de(x, labels).statistic, group_sums(x, codes, 3)

want = run()
got = [None] * 8
def work(i):
    got[i] = run()
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
import numba
assert numba.threading_layer() == "workqueue", numba.threading_layer()
assert all(np.array_equal(g[0], want[0]) and np.array_equal(g[1], want[1]) for g in got)
print("ok")
"""


def test_concurrent_launches_on_the_thread_unsafe_layer():
    """numba's fallback layer aborts the process on concurrent launches; the kernels take turns instead."""
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


READ_ONLY = """
from vcc_core.data import simulate
from vcc_core.data.dataset import open_dataset

def refuse(*args, **kwargs):
    raise AssertionError("simulated again")

simulate.simulate = simulate.write_simulation = refuse
data = open_dataset(simulate.DEFAULT_PRESET)
print(data.profiles.perts.size, data.summary.n_genes)
"""


@pytest.mark.slow
def test_warm_up_prepares_the_default_dataset(tmp_path):
    """After ``make install``'s warm-up, the app's first start reads the default dataset rather than simulating it."""
    env = {**os.environ, "VCC_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "vcc_core", "warm-up"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in (tmp_path / "datasets").glob("*.h5ad")] == [f"sim-{DEFAULT_PRESET}-seed0-v{VERSION}.h5ad"]
    again = subprocess.run([sys.executable, "-c", READ_ONLY], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.split() == ["60", "5000"]
