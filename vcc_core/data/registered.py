"""Prediction files registered for a dataset, kept on disk for every session of a server and across restarts.

Layout: ``<root>/<dataset key>/<entry>/`` holding the file under its own name and ``entry.json`` (name, kind, size,
sha256, time). ``root`` is ``predictions/`` in the cache folder (``VCC_CACHE_DIR``). A file is copied into a
temporary folder beside the entries and renamed into place once complete, so a copy cut short (an error, a full
disk, a killed process) is never listed; leftovers are removed when the folder is next listed. An entry whose
file no longer matches its size and checksum is removed when listed, and :func:`lost` says so once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vcc_core.cache import default_cache
from vcc_core.data.predictions import Kind
from vcc_core.data.uploads import check_upload_size

ENTRY = "entry.json"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_VERIFIED: dict[tuple[str, int, int], bool] = {}
_LOST: dict[str, list[str]] = {}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    """One registered prediction file."""

    name: str
    kind: Kind
    path: Path
    bytes: int
    registered: float


def default_root() -> Path:
    """``predictions/`` in the cache folder."""
    return default_cache().root / "predictions"


def register(
    source: str | Path | BinaryIO,
    *,
    name: str,
    kind: Kind,
    dataset_key: str,
    root: Path | None = None,
) -> Registered:
    """Copy ``source`` (a path, or an open binary file such as an upload) into the managed folder of the dataset.

    A file of the same ``name`` is replaced. Raises ``ValueError`` for a file over the upload limit
    (:func:`vcc_core.data.uploads.check_upload_size`) and ``OSError`` when the folder cannot be written; in both
    cases nothing is left behind.
    """
    folder = _folder(dataset_key, root)
    folder.mkdir(parents=True, exist_ok=True)
    safe = _safe(name)
    tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        size, digest = _copy(source, tmp / safe)
        entry = {"name": Path(name).name, "kind": kind, "file": safe, "bytes": size, "sha256": digest}
        entry["registered"] = time.time()
        (tmp / ENTRY).write_text(json.dumps(entry))
        final = folder / safe
        if final.exists():
            old = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}"
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _entry(final)


def registered(dataset_key: str, *, root: Path | None = None) -> list[Registered]:
    """The files registered for the dataset, oldest first; entries whose file is missing or of the wrong size are
    left out, and stale temporary folders removed."""
    folder = _folder(dataset_key, root)
    if not folder.is_dir():
        return []
    out = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(TMP_PREFIX):
            if time.time() - child.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(child, ignore_errors=True)
            continue
        try:
            out.append(_entry(child))
        except (OSError, ValueError, KeyError) as err:
            _drop(dataset_key, child, err)
    return sorted(out, key=lambda e: e.registered)


def lost(dataset_key: str) -> list[str]:
    """What :func:`registered` found damaged and removed for the dataset since the last call, one sentence each
    (so that each loss is told once)."""
    return _LOST.pop(dataset_key, [])


def _drop(dataset_key: str, entry: Path, err: Exception) -> None:
    """Remove a damaged entry and keep a sentence for the user."""
    try:
        name = json.loads((entry / ENTRY).read_text())["name"]
    except (OSError, ValueError, KeyError):
        name = entry.name
    gone = entry.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
    try:
        entry.rename(gone)
    except OSError:
        return  # another process removed it, or the folder is read-only: nothing to tell twice
    shutil.rmtree(gone, ignore_errors=True)
    log.warning("registered prediction %s for %s is damaged (%s); removed", name, dataset_key[:12], err)
    _LOST.setdefault(dataset_key, []).append(
        f"The registered prediction {name} was damaged on disk and has been removed: upload it again on the "
        "Bring your own page."
    )


def remove(dataset_key: str, name: str, *, root: Path | None = None) -> None:
    """Forget the registered file ``name`` (no error when it is not there)."""
    entry = _folder(dataset_key, root) / _safe(name)
    if entry.is_dir():
        gone = entry.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
        entry.rename(gone)
        shutil.rmtree(gone, ignore_errors=True)


def _folder(dataset_key: str, root: Path | None) -> Path:
    return (root or default_root()) / _safe(dataset_key)[:32]


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", Path(name).name).strip("._")
    if not cleaned:
        msg = f"{name!r} is not a usable file name; give the file a name with letters or digits"
        raise ValueError(msg)
    return cleaned


def _copy(source, target: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    handle = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115 (closed below)
    try:
        with target.open("wb") as out:
            while chunk := handle.read(1 << 22):
                size += len(chunk)
                check_upload_size(size)
                digest.update(chunk)
                out.write(chunk)
    finally:
        if isinstance(source, str | Path):
            handle.close()
    return size, digest.hexdigest()


def _entry(folder: Path) -> Registered:
    meta = json.loads((folder / ENTRY).read_text())
    path = folder / meta["file"]
    stat = path.stat()
    if stat.st_size != meta["bytes"]:
        msg = f"{path.name} has {stat.st_size} bytes, its entry says {meta['bytes']}"
        raise ValueError(msg)
    stamp = (str(path), stat.st_size, stat.st_mtime_ns)
    if stamp not in _VERIFIED:  # the whole file's checksum, once per version of the file in this process
        with path.open("rb") as handle:
            _VERIFIED[stamp] = hashlib.file_digest(handle, "sha256").hexdigest() == meta["sha256"]
    if not _VERIFIED[stamp]:
        msg = f"{path.name} fails its sha256 check"
        raise ValueError(msg)
    return Registered(meta["name"], meta["kind"], path, int(meta["bytes"]), float(meta["registered"]))
