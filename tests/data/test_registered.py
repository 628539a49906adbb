"""The managed folder of registered predictions: atomic copies, listing, removal, nothing half-copied."""

import io
import os
import time

import pytest

from vcc_core.data.registered import TMP_PREFIX, register, registered, remove


def test_register_list_and_remove(tmp_path):
    src = tmp_path / "mine.csv"
    src.write_text("perturbation,G1\nA,1.0\n")
    entry = register(src, name="mine.csv", kind="table", dataset_key="abc", root=tmp_path / "store")
    assert entry.path.read_text() == src.read_text()
    assert [e.name for e in registered("abc", root=tmp_path / "store")] == ["mine.csv"]
    assert registered("other", root=tmp_path / "store") == []
    register(io.BytesIO(b"perturbation,G1\nA,2.0\n"), name="mine.csv", kind="table", dataset_key="abc",
             root=tmp_path / "store")  # fmt: skip
    (only,) = registered("abc", root=tmp_path / "store")
    assert only.path.read_text().endswith("2.0\n")
    remove("abc", "mine.csv", root=tmp_path / "store")
    assert registered("abc", root=tmp_path / "store") == []


def test_an_oversized_upload_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("VCC_MAX_UPLOAD_MB", "0.001")
    with pytest.raises(ValueError, match="over the limit"):
        register(io.BytesIO(b"x" * 5000), name="big.h5ad", kind="cells", dataset_key="abc", root=tmp_path)
    assert list((tmp_path / "abc").iterdir()) == []


def test_a_truncated_entry_is_not_listed_and_stale_copies_are_removed(tmp_path):
    entry = register(io.BytesIO(b"0123456789"), name="p.h5ad", kind="cells", dataset_key="abc", root=tmp_path)
    entry.path.write_bytes(b"01234")  # cut short behind the store's back
    stale = tmp_path / "abc" / f"{TMP_PREFIX}dead"
    stale.mkdir()
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert registered("abc", root=tmp_path) == []
    assert not stale.exists()
