"""The on-disk result cache: keys by content, safe formats, corruption, concurrency, eviction, settings, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse

from vcc_core.cache import Cache, FileRef, cache_key, cached, default_cache, fingerprint
from vcc_core.cache import digest as fingerprint_mod

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    return Cache(tmp_path / "cache")


def counted(store, *, name="f", version="1", **options):
    """A cached function that records its calls, returning its wrapper and the call log."""
    calls = []

    @cached(name, version=version, cache=store, **options)
    def f(x, *, scale=1.0):
        calls.append(1)
        return {"y": np.asarray(x, dtype=float) * scale, "n": len(calls)}

    return f, calls


def entry_folders(store):
    return sorted(store.root.glob("entries/*/*"))


# ----------------------------------------------------------------------------- hits, misses, invalidation


def test_second_call_is_a_hit_with_equal_value(store):
    f, calls = counted(store)
    first, second = f(np.arange(5), scale=2.0), f(np.arange(5), scale=2.0)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["y"], second["y"])
    assert second["n"] == 1
    assert (store.stats.hits, store.stats.misses, store.stats.writes) == (1, 1, 1)


def test_positional_keyword_and_default_spellings_share_a_key(store):
    f, calls = counted(store)
    f(np.arange(3))
    f(x=np.arange(3))
    f(np.arange(3), scale=1.0)
    assert len(calls) == 1


def test_parameter_change_misses(store):
    f, calls = counted(store)
    f(np.arange(3), scale=1.0)
    f(np.arange(3), scale=3.0)
    assert len(calls) == 2
    assert f(np.arange(3), scale=3.0)["y"].tolist() == [0.0, 3.0, 6.0]


def test_content_change_misses_and_equal_content_hits(store):
    f, calls = counted(store)
    x = np.arange(6.0)
    f(x)
    f(x.copy())
    x[2] = -1.0
    f(x)
    assert len(calls) == 2


def test_code_version_bump_invalidates(store):
    f1, calls1 = counted(store, version="1")
    f2, calls2 = counted(store, version="2")
    f1(np.arange(3))
    f2(np.arange(3))
    f1(np.arange(3))
    assert (len(calls1), len(calls2)) == (1, 1)
    assert len(entry_folders(store)) == 2


def test_ignored_argument_is_left_out_of_the_key(store):
    calls = []

    @cached("g", version="1", cache=store, ignore=("device",))
    def g(x, device="cpu"):
        calls.append(device)
        return np.asarray(x)

    g([1, 2], device="cpu")
    g([1, 2], device="cuda")
    assert calls == ["cpu"]
    assert g.key([1, 2], device="a") == g.key([1, 2])
    with pytest.raises(ValueError, match=r"ignore names \['nope'\]"):
        cached("g", version="1", ignore=("nope",))(g.uncached)


def test_file_argument_keyed_by_content(store, tmp_path):
    path = tmp_path / "counts.txt"
    path.write_text("1 2 3")
    calls = []

    @cached("read", version="1", cache=store)
    def read(source):
        calls.append(1)
        return np.loadtxt(source)

    read(path)
    read(FileRef(str(path)))
    stat = path.stat()
    path.write_text("1 2 4")  # same size; mtime restored below, so only the content hash can tell
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert read(path).tolist() == [1.0, 2.0, 4.0]
    assert len(calls) == 2


def test_large_file_is_sampled_yet_changes_are_seen(tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprint_mod, "FULL_HASH_BYTES", 1024)
    monkeypatch.setattr(fingerprint_mod, "SAMPLE_BLOCK_BYTES", 64)
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(4096))
    before = fingerprint(path)
    stat = path.stat()
    path.write_bytes(b"\x01" + bytes(4095))  # first block is always sampled
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fingerprint(path) != before
    assert fingerprint(FileRef(path, full_hash=True)) != fingerprint(path)


def test_missing_file_argument_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        fingerprint(tmp_path / "absent.h5ad")


# ----------------------------------------------------------------------------- fingerprints


def test_fingerprint_tracks_content_dtype_and_shape():
    a = np.arange(6, dtype=np.int64)
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a) != fingerprint(a.astype(np.int32))
    assert fingerprint(a) != fingerprint(a.reshape(2, 3))
    assert fingerprint(a[::2]) == fingerprint(np.array([0, 2, 4]))
    assert fingerprint(torch.arange(3.0)) == fingerprint(torch.arange(3.0))
    assert fingerprint(torch.arange(3.0)) != fingerprint(torch.arange(3.0).double())
    assert fingerprint(np.float64(0.5)) == fingerprint(0.5)
    assert fingerprint({"a": 1, "b": (2, 3)}) == fingerprint({"b": [2, 3], "a": 1})


def test_fingerprint_of_tables_and_anndata():
    df = pd.DataFrame({"gene": ["A", "B"], "x": [1.0, 2.0]}, index=["c1", "c2"])
    assert fingerprint(df) == fingerprint(df.copy())
    assert fingerprint(df) != fingerprint(df.rename(columns={"x": "z"}))
    assert fingerprint(df) != fingerprint(df.set_axis(["c1", "c3"]))
    assert fingerprint(df) != fingerprint(df.astype({"gene": "category"}))
    adata = ad.AnnData(sparse.csr_matrix(np.eye(3, dtype=np.float32)), obs=pd.DataFrame(index=["a", "b", "c"]))
    changed = adata.copy()
    changed.X[0, 0] = 5.0
    assert fingerprint(adata) == fingerprint(adata.copy())
    assert fingerprint(adata) != fingerprint(changed)
    assert fingerprint(adata[:2]) == fingerprint(adata[:2].copy())


def test_unhashable_argument_names_its_type():
    with pytest.raises(TypeError, match=r"cannot fingerprint a .*object"):
        fingerprint(object())


def test_cache_key_is_stable_across_processes():
    key = cache_key("f", {"x": np.arange(4), "k": 3}, version="1")
    code = "import numpy as np; from vcc_core.cache import cache_key; "
    code += "print(cache_key('f', {'k': 3, 'x': np.arange(4)}, version='1'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == key


# ----------------------------------------------------------------------------- storage formats


def test_round_trip_of_every_part_type_without_pickle(store):
    value = {
        "means": np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32),
        "genes": np.array(["A", "B", "C", "D"], dtype=object),
        "table": pd.DataFrame({"p": pd.Categorical(["x", "y"]), "v": [0.5, np.nan]}, index=["r1", "r2"]),
        "series": pd.Series([1, 2], index=["a", "b"], name="n"),
        "state": torch.arange(4.0).reshape(2, 2),
        "matrix": sparse.csr_matrix(np.eye(3)),
        "n_cells": np.int64(40),
        "meta": {"space": "log1p", "n": 3, "ok": True},
    }
    key = cache_key("all", {}, version="1")
    folder = store.put(key, value, name="all", version="1")
    back = store.get(key)
    np.testing.assert_array_equal(back["means"], value["means"])
    assert back["means"].dtype == np.float32
    assert back["genes"].dtype == object
    assert back["genes"].tolist() == ["A", "B", "C", "D"]
    pd.testing.assert_frame_equal(back["table"], value["table"])
    pd.testing.assert_series_equal(back["series"], value["series"])
    assert torch.equal(back["state"], value["state"])
    assert (back["matrix"] != value["matrix"]).nnz == 0
    assert back["n_cells"] == 40
    assert back["meta"] == value["meta"]
    files = sorted(p for p in folder.iterdir())
    assert {p.suffix for p in files} <= {".npz", ".parquet", ".json", ".safetensors"}
    # A safetensors file opens with its header length, which may legitimately be 0x80.
    assert not [p.name for p in files if p.suffix != ".safetensors" and p.read_bytes()[:1] == b"\x80"]
    with np.load(folder / "arrays.npz", allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)


def test_dataclass_results_need_decode(store):
    @dataclass(frozen=True)
    class Result:
        means: np.ndarray
        perts: np.ndarray

    @cached("dc", version="1", cache=store, decode=lambda parts: Result(**parts))
    def good(n):
        return Result(np.zeros(n), np.array(["p"] * n, dtype=object))

    first, second = good(2), good(2)
    assert isinstance(first, Result)
    assert isinstance(second, Result)
    assert second.perts.tolist() == ["p", "p"]
    assert store.stats.hits == 1

    @cached("dc2", version="1", cache=store)
    def bad(n):
        return Result(np.zeros(n), np.zeros(n))

    with pytest.raises(TypeError, match=r"pass decode=lambda parts: .*Result\(\*\*parts\)"):
        bad(2)


@pytest.mark.parametrize("value", [np.array([1, None], dtype=object), {"f": len}, {"nested": {"a": np.ones(2)}}])
def test_unstorable_values_raise_type_error(store, value):
    with pytest.raises(TypeError, match=r"only strings are supported|cannot store part"):
        store.put(cache_key("bad", {}, version="1"), value)
    assert entry_folders(store) == []


# ----------------------------------------------------------------------------- corruption


def _truncate(folder):
    path = folder / "arrays.npz"
    path.write_bytes(path.read_bytes()[:-20])


def _flip_byte(folder):
    path = folder / "arrays.npz"
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF
    path.write_bytes(bytes(data))


def _delete_file(folder):
    (folder / "values.json").unlink()


def _garble_manifest(folder):
    (folder / "manifest.json").write_text('{"format": 1, "key": ')


@pytest.mark.parametrize("damage", [_truncate, _flip_byte, _delete_file, _garble_manifest])
def test_damaged_entry_is_detected_and_recomputed(store, damage):
    f, calls = counted(store)
    f(np.arange(4))
    damage(entry_folders(store)[0])
    assert f(np.arange(4))["n"] == 2
    assert store.stats.corrupt == 1
    assert f(np.arange(4))["n"] == 2  # the rewritten entry is good again
    assert len(calls) == 2
    assert len(entry_folders(store)) == 1


def test_a_damaged_entry_that_cannot_be_rewritten_is_reported_once(store, caplog):
    """The recomputed value is too large to store again: the damaged entry is removed at its first read, so the
    reruns that follow are plain misses, not one warning each."""
    f, calls = counted(store)
    f(np.arange(4))
    _truncate(entry_folders(store)[0])
    store.max_bytes = 10  # nothing fits any more
    with caplog.at_level("WARNING", logger="vcc_core.cache.store"):
        for _ in range(6):
            assert f(np.arange(4))["n"] == len(calls)
    corrupt = [r for r in caplog.records if "is corrupt" in r.getMessage()]
    assert len(corrupt) == 1
    assert "removed, it will be recomputed" in corrupt[0].getMessage()
    assert store.stats.corrupt == 1
    assert entry_folders(store) == []


def test_leftover_staging_folder_is_not_an_entry(store):
    f, _ = counted(store)
    (store.root / "tmp" / "half-written").mkdir(parents=True)
    (store.root / "tmp" / "half-written" / "arrays.npz").write_bytes(b"PK")
    f(np.arange(2))
    assert store.info().entries == 1


# ----------------------------------------------------------------------------- concurrency

_RACER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from vcc_core.cache import Cache, cached

    store = Cache(sys.argv[1])

    @cached("race", version="1", cache=store)
    def slow(n):
        with open(sys.argv[2], "a") as log:
            log.write("computed\\n")
        time.sleep(0.4)
        return {"values": np.arange(n, dtype=np.float64), "label": "ok"}

    out = slow(100_000)
    print(float(out["values"].sum()), out["label"], store.stats.hits)
    """
)


def test_concurrent_processes_compute_once_and_leave_one_good_entry(tmp_path):
    root, log = tmp_path / "cache", tmp_path / "computed.log"
    command = [sys.executable, "-c", _RACER, str(root), str(log)]
    racers = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=60) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], [err for _, err in outputs]
    assert [out.split()[:2] for out, _ in outputs] == [[str(float(sum(range(100_000)))), "ok"]] * 2
    assert log.read_text().count("computed") == 1
    assert sorted(int(out.split()[2]) for out, _ in outputs) == [0, 1]  # the loser read the winner's entry
    store = Cache(root)
    assert store.info().entries == 1
    assert store.get(entry_folders(store)[0].name)["label"] == "ok"
    assert list((root / "tmp").iterdir()) == []


# ----------------------------------------------------------------------------- eviction


def test_eviction_keeps_the_bound_and_drops_least_recently_used(tmp_path):
    store = Cache(tmp_path / "cache")
    keys = [cache_key("e", {"i": i}, version="1") for i in range(4)]
    value = np.zeros(300)
    for key in keys[:3]:
        store.put(key, value)
    store.max_bytes = int(store.info().total_bytes * 3.5 / 3)  # three entries fit, four do not
    assert store.get(keys[0]) is not None  # key 0 is now more recent than key 1
    store.put(keys[3], value)
    assert store.info().total_bytes <= store.max_bytes
    assert store.get(keys[1]) is None
    assert all(store.get(key) is not None for key in (keys[0], keys[2], keys[3]))
    assert store.stats.evictions == 1


def test_value_larger_than_the_bound_is_not_stored(tmp_path):
    store = Cache(tmp_path / "cache", max_bytes=1000)
    assert store.put(cache_key("big", {}, version="1"), np.zeros(1000)) is None
    assert store.info().entries == 0


def test_clear_removes_everything(store):
    f, _ = counted(store)
    f(np.arange(2))
    f(np.arange(3))
    assert store.clear() == 2
    assert store.info().entries == 0


# ----------------------------------------------------------------------------- settings


def test_environment_sets_location_and_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("VCC_CACHE_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setenv("VCC_CACHE_MAX_BYTES", "2M")
    calls = []

    @cached("env", version="1")
    def f(x):
        calls.append(1)
        return np.asarray(x)

    f([1])
    assert default_cache().root == tmp_path / "env-cache"
    assert default_cache().max_bytes == 2 * 1024**2
    assert len(list((tmp_path / "env-cache").glob("entries/*/*"))) == 1
    monkeypatch.setenv("VCC_CACHE", "off")
    f([1])
    f([1])
    assert len(calls) == 3
    assert default_cache().stats.bypassed == 2


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [("VCC_CACHE_MAX_BYTES", "lots", "VCC_CACHE_MAX_BYTES='lots'"), ("VCC_CACHE", "maybe", "VCC_CACHE='maybe'")],
)
def test_malformed_settings_are_named(monkeypatch, name, value, match):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=match):
        default_cache()


def test_bad_key_is_rejected(store):
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.get("../../etc")


# ----------------------------------------------------------------------------- command line


def _cli(*args, env):
    command = [sys.executable, "-m", "vcc_core", "cache", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_info_and_clear(tmp_path):
    root = tmp_path / "cli-cache"
    store = Cache(root)
    for i in range(2):
        store.put(cache_key("pseudobulk", {"i": i}, version="1"), np.arange(10), name="pseudobulk", version="1")
    env = {**os.environ, "VCC_CACHE_DIR": str(root)}
    info = json.loads(_cli("info", "--json", env=env))
    assert (info["location"], info["entries"]) == (str(root), 2)
    assert info["by_name"]["pseudobulk"]["entries"] == 2
    assert "removed 2 entries" in _cli("clear", env=env)
    assert Cache(root).info().entries == 0


def test_objects_with_a_fingerprint_are_keyed_by_it(store):
    class Big:
        def __init__(self, digest):
            self.digest = digest

        def __cache_fingerprint__(self):
            return self.digest

    calls = []

    @cached("fp", version="1", cache=store)
    def f(obj, n):
        calls.append(n)
        return n

    assert f(Big("a"), 1) == f(Big("a"), 1) == 1
    f(Big("b"), 1)
    assert calls == [1, 1]


def test_dataset_fingerprint_follows_source_and_layout(tmp_path):
    from vcc_core.data.dataset import open_dataset
    from vcc_core.data.simulate import write_simulation

    path = write_simulation(tmp_path / "tiny.h5ad", "tiny")
    first, again = open_dataset(path), open_dataset(path)
    assert first.fingerprint == again.fingerprint
    assert fingerprint(first) == fingerprint(again)
    assert open_dataset(path, seed=1).fingerprint != first.fingerprint
    assert open_dataset(first.adata).fingerprint != first.fingerprint
    write_simulation(path, "tiny", seed=3)
    assert open_dataset(path).fingerprint != first.fingerprint
