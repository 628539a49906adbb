"""Fault catalogue: damage to what the app wrote on disk, a disk that cannot be written, a writer killed mid-write,
two writers racing. Each fault is made for real (files truncated or flipped, a cache folder that cannot exist, a
writer raising ENOSPC, a child process killed with SIGKILL, two processes) and each test checks what the user gets
and that no wrong value is ever returned.

Also in the catalogue, tested beside their code: damaged cache entries (truncated, flipped, missing file, garbled
manifest; ``tests/cache/test_cache.py``), two processes computing one entry at once (same file).
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from vcc_core.cache import Cache, cached
from vcc_core.cache import store as store_module

ROOT = Path(__file__).resolve().parents[1]


def python(code: str, *, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=timeout)  # fmt: skip


OPEN_TINY = """
    from vcc_core.data.dataset import open_dataset
    data = open_dataset("tiny")
    print(data.summary.n_cells, data.profiles.perts.size, data.adata.n_obs, float(data.adata.X.sum()))
"""


def test_a_truncated_builtin_dataset_is_rebuilt(tmp_path):
    env = {"VCC_CACHE_DIR": str(tmp_path / "cache")}
    first = python(OPEN_TINY, env=env)
    assert first.returncode == 0, first.stderr
    (stored,) = (tmp_path / "cache" / "datasets").glob("sim-tiny-*.h5ad")
    with stored.open("r+b") as handle:
        handle.truncate(stored.stat().st_size // 3)
    again = python(OPEN_TINY, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout  # the same screen, simulated again
    assert again.stderr.count("is damaged") == 1


def test_a_cache_folder_that_cannot_exist_leaves_the_app_working(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {"VCC_CACHE_DIR": str(blocker / "cache")}  # under a regular file: no folder can be made there
    code = """
        import numpy as np
        from vcc_core.cache import cached

        @cached("fault", version="1")
        def f(n):
            print("computed", flush=True)
            return np.arange(n, dtype=float)

        print(f(5).sum(), f(5).sum())
    """
    done = python(code, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["computed", "computed", "10.0", "10.0"]  # right values, computed each time
    assert done.stderr.count("cannot be written") == 1  # one warning, not one per call


def test_a_full_disk_keeps_the_value_and_shows_nothing_half_written(tmp_path, monkeypatch, caplog):
    store = Cache(tmp_path / "cache")

    def full_disk(value, folder):
        (Path(folder) / "arrays.npz").write_bytes(b"PK\x03\x04 half")  # a write the disk stopped half way
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.codec, "encode", full_disk)

    @cached("fault", version="1", cache=store)
    def f(n):
        return np.arange(n, dtype=float)

    with caplog.at_level("WARNING", logger="vcc_core.cache.store"):
        for _ in range(3):
            np.testing.assert_array_equal(f(4), np.arange(4.0))
    assert store.problem == f"the disk cache at {store.root} cannot be written (No space left on device)"
    assert len([r for r in caplog.records if "cannot be written" in r.getMessage()]) == 1
    assert store.info().entries == 0  # nothing half-written became an entry
    assert list((store.root / "tmp").iterdir()) == []


WRITER = """
    import sys, time
    import numpy as np
    from vcc_core.cache import Cache, cached
    from vcc_core.cache import store as store_module

    real_encode = store_module.codec.encode

    def slow_encode(value, folder):
        layout = real_encode(value, folder)  # the files are written, the manifest is not yet
        print("writing", flush=True)
        time.sleep(60)
        return layout

    store_module.codec.encode = slow_encode
    store = Cache(sys.argv[1])

    @cached("fault", version="1", cache=store)
    def f(n):
        return np.arange(n, dtype=float)

    f(1000)
"""


def test_a_writer_killed_mid_write_leaves_nothing_behind(tmp_path):
    root = tmp_path / "cache"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(root)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        assert any((root / "tmp").iterdir())  # its staging folder, files written
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.communicate(timeout=30)  # closes its pipes
    store = Cache(root)  # the next start
    assert list((root / "tmp").iterdir()) == []  # the dead writer's files are gone at once
    assert store.info().entries == 0  # and were never an entry

    @cached("fault", version="1", cache=store)
    def f(n):
        return np.arange(n, dtype=float)

    np.testing.assert_array_equal(f(1000), np.arange(1000.0))  # recomputed
    assert store.info().entries == 1


def test_a_live_writers_staging_folder_is_left_alone(tmp_path):
    root = tmp_path / "cache"
    staging = root / "tmp" / f"0123456789ab-{store_module._HOST}-{os.getpid()}-x"
    staging.mkdir(parents=True)
    Cache(root)
    assert staging.is_dir()  # this process is alive: a write in progress
    old = time.time() - 2 * store_module._STALE_TMP_SECONDS
    os.utime(staging, (old, old))
    Cache(root)
    assert not staging.exists()  # however old it is, an hour-old staging folder is a leftover


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_cache_entry_is_reported_once_across_reruns(tmp_path, damage, caplog):
    store = Cache(tmp_path / "cache")
    calls = []

    @cached("fault", version="1", cache=store)
    def f(n):
        calls.append(n)
        return np.arange(n, dtype=float)

    f(50)
    (path,) = store.root.glob("entries/*/*/*.npz")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="vcc_core.cache.store"):
        for _ in range(6):  # six reruns of a page
            np.testing.assert_array_equal(f(50), np.arange(50.0))
    assert len([r for r in caplog.records if "is corrupt" in r.getMessage()]) == 1
    assert len(calls) == 2  # recomputed once, then read back


def test_the_app_works_without_a_usable_cache_and_says_so_once(tmp_path, monkeypatch):
    import streamlit as st

    from tests.app.apptest import run_page

    st.cache_resource.clear()  # a fresh server: nothing held in memory by earlier tests
    st.cache_data.clear()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VCC_CACHE_DIR", str(blocker / "cache"))
    at = run_page("explorer.py")
    assert not at.exception
    assert not at.error
    warnings = [w.value for w in at.sidebar.warning]
    assert warnings == [
        f"The disk cache at {blocker / 'cache'} cannot be written (Not a directory): results are computed without "
        "it, so pages are slower."
    ]
    assert at.dataframe[0].value.shape[0] == 1  # the page's numbers are there


RACER = """
    import sys, time
    import numpy as np
    from vcc_core.cache import Cache, cached

    store = Cache(sys.argv[1])

    @cached("race", version="1", cache=store)
    def f(n):
        with open(sys.argv[2], "a") as log:
            log.write("computed\\n")
        time.sleep(1.0)  # long enough for the other process to ask for the same entry
        return np.arange(n, dtype=float)

    print(f(1000).sum(), store.stats.hits)
"""


def test_two_processes_computing_one_entry(tmp_path):
    root, log = tmp_path / "cache", tmp_path / "computed.log"
    command = [sys.executable, "-c", textwrap.dedent(RACER), str(root), str(log)]
    racers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]  # fmt: skip
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [r.returncode for r in racers] == [0, 0], [err for _, err in outputs]
    assert [out.split()[0] for out, _ in outputs] == [str(float(sum(range(1000))))] * 2  # both right
    assert log.read_text().count("computed") == 1  # computed once, the other read it
    store = Cache(root)
    assert store.info().entries == 1
    np.testing.assert_array_equal(store.get(next(root.glob("entries/*/*")).name), np.arange(1000.0))


def test_the_command_line_says_in_one_line_when_it_cannot_write(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    case = ROOT / "tests" / "fixtures" / "vcc2026" / "papalexi"
    done = subprocess.run([sys.executable, "-m", "vcc_core", "evaluate", "--profile", "vcc2026", "--real",
                           str(case / "real.h5ad"), "--pred", str(case / "pred.h5ad"), "--out", str(blocker / "out")],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if not line.startswith("[")]  # progress lines
    assert lines == [f"error: [Errno 20] Not a directory: '{blocker / 'out'}'"]


@pytest.fixture
def read_only(tmp_path):
    """Makes folders read-only for this process: chmod for a user, ``chattr +i`` for root (whom chmod does not
    stop); undone after the test."""
    made = []

    def make(folder: Path) -> None:
        if os.geteuid() != 0:
            folder.chmod(0o555)
        elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("running as root on a file system without chattr +i: no way to make a folder read-only")
        made.append(folder)

    yield make
    for folder in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_a_read_only_cache_still_serves_its_entries_and_computes_the_rest(tmp_path, read_only, caplog):
    store = Cache(tmp_path / "cache")

    @cached("fault", version="1", cache=store)
    def f(n):
        return np.arange(n, dtype=float)

    f(3)  # one entry stored while the folder was writable
    for folder in [store.root / "locks", store.root / "entries", store.root / "tmp", *store.root.glob("entries/*")]:
        read_only(folder)
    fresh = Cache(store.root)  # a new process on the now read-only cache

    @cached("fault", version="1", cache=fresh)
    def g(n):
        return np.arange(n, dtype=float)

    with caplog.at_level("WARNING", logger="vcc_core.cache.store"):
        np.testing.assert_array_equal(g(3), np.arange(3.0))  # read back
        for _ in range(3):
            np.testing.assert_array_equal(g(7), np.arange(7.0))  # computed, cannot be stored
    assert fresh.stats.hits >= 1
    assert fresh.problem is not None
    assert len([r for r in caplog.records if "cannot be written" in r.getMessage()]) == 1
