"""Content-addressed on-disk cache for expensive results, shared by sessions, processes and restarts.

An entry's key hashes the function's name, its code ``version`` and its arguments by content
(:mod:`~vcc_core.cache.digest`). Values are written in safe formats, never pickle (:mod:`~vcc_core.cache.codec`),
into a temporary folder that is renamed into place, with a manifest of each file's size and sha256: a truncated,
half-written or altered entry reads as a miss and is recomputed.

The decorator that uses it is :func:`vcc_core.cache.decorator.cached`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from vcc_core.cache import codec
from vcc_core.cache.digest import (
    FORMAT,
    describe,
    file_digest,
)
from vcc_core.cache.records import CacheInfo, CacheStats, EntryInfo

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 5 * 1024**3
MANIFEST = "manifest.json"

_KEY = re.compile(r"[0-9a-f]{64}")
_STALE_TMP_SECONDS = 3600
_HOST = socket.gethostname().replace("-", "_")
_SAFE_SUFFIXES = (".npz", ".parquet", ".json", ".safetensors")


# --------------------------------------------------------------------------- the store


class Cache:
    """An on-disk store of results under ``root``, bounded to ``max_bytes``.

    Layout: ``entries/<key[:2]>/<key>/`` (value files + ``manifest.json``), ``tmp/`` for writes in progress and
    ``locks/`` for one lock file per key. The manifest's mtime is the entry's last access time: it is touched on
    every hit, which is cheaper and safer than rewriting the JSON while other processes read it.

    Parameters
    ----------
    root
        Folder of the store; created on the first write.
    max_bytes
        Size bound; after each write the least recently used entries are evicted until the store fits.
    enabled
        ``False`` makes :meth:`get_or_compute` always compute and store nothing.
    verify
        Check every file's sha256 on each read (sizes are always checked).
    """

    def __init__(
        self, root: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES, enabled: bool = True, verify: bool = True
    ) -> None:
        if max_bytes <= 0:
            msg = f"max_bytes must be positive, got {max_bytes}"
            raise ValueError(msg)
        self.root = Path(root).expanduser()
        self.max_bytes = int(max_bytes)
        self.enabled = enabled
        self.verify = verify
        self.stats = CacheStats()
        self._reported: set[str] = set()  # damaged entries already logged by this process
        self.problem: str | None = None
        """Why the disk cache could not be written (disk full, read-only, unusable folder), once it has failed;
        results are then computed without it."""
        if enabled:
            self._sweep_tmp(older_than=_STALE_TMP_SECONDS)  # a new process clears what killed writers left

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r}, max_bytes={self.max_bytes}, enabled={self.enabled})"

    # ------------------------------------------------------------------ reading

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value of ``key``, or ``default`` when it is absent or unreadable."""
        found, value, _ = self._load(key)
        self.stats.add(hits=int(found), misses=int(not found))
        return value if found else default

    def _load(self, key: str, *, report: bool = True) -> tuple[bool, Any, dict]:
        folder = self._entry(key)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            return False, None, {}
        except (OSError, ValueError):
            return self._corrupt(key, "unreadable manifest", report=report)
        try:
            self._check_files(folder, manifest)
            value = codec.decode(folder, manifest["layout"])
        except FileNotFoundError as err:
            if (folder / MANIFEST).exists():
                return self._corrupt(key, f"missing file {Path(err.filename or '?').name}", report=report)
            # Evicted or replaced by another process between our reads: a plain miss.
            return False, None, {}
        except Exception as err:  # any failure to read an entry (parquet, safetensors, npz) means "recompute it"
            return self._corrupt(key, f"{type(err).__name__}: {err}", report=report)
        self._touch(folder / MANIFEST)
        return True, value, manifest

    def _check_files(self, folder: Path, manifest: dict) -> None:
        if manifest.get("format") != FORMAT or manifest.get("key") != folder.name:
            msg = "manifest of another format or key"
            raise ValueError(msg)
        for name, meta in manifest["files"].items():
            path = folder / name
            if Path(name).name != name or not name.endswith(_SAFE_SUFFIXES):
                msg = f"unexpected file name {name!r}"
                raise ValueError(msg)
            if path.stat().st_size != meta["bytes"]:
                msg = f"{name} has {path.stat().st_size} bytes, manifest says {meta['bytes']}"
                raise ValueError(msg)
            if self.verify and file_digest(path, meta["bytes"], full=True) != meta["sha256"]:
                msg = f"{name} fails its sha256 check"
                raise ValueError(msg)

    def _corrupt(self, key: str, reason: str, *, report: bool) -> tuple[bool, Any, dict]:
        """A damaged entry: removed at once (so later reads are plain misses even if its recomputed value cannot be
        stored) and reported once per process."""
        if not report:
            return False, None, {}
        with contextlib.suppress(OSError):  # a read-only cache: the entry stays, but it is not reported again
            self._discard(self._entry(key))
        if key not in self._reported:
            self._reported.add(key)
            log.warning("cache entry %s is corrupt (%s); removed, it will be recomputed", key[:12], reason)
            self.stats.add(corrupt=1)
        return False, None, {}

    # ------------------------------------------------------------------ writing

    def put(self, key: str, value: Any, *, name: str = "", version: str = "", params: Any = None) -> Path | None:
        """Store ``value`` under ``key`` atomically; returns the entry folder, or ``None`` if it exceeds the bound.

        ``value`` is an array, DataFrame, Series, tensor, sparse matrix, JSON-like value, or a dict (or dataclass)
        of those; anything else raises ``TypeError`` naming the part.
        """
        with self._lock(key):
            folder = self._write(key, value, {"name": name, "version": str(version), "params": describe(params)})
        self.evict()
        return folder

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Any],
        *,
        name: str = "",
        version: str = "",
        params: Any = None,
        decode: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The stored value of ``key``, or ``compute()`` stored under it.

        Concurrent callers with the same key (threads or processes) compute once: the others wait on the key's
        lock and read the winner's entry. ``decode`` is applied to values read back from disk, never to a fresh
        ``compute()`` result. A failed write (disk full, permissions) is logged and the computed value returned.
        """
        if not self.enabled:
            self.stats.add(bypassed=1)
            return compute()
        # The first look goes without the lock so hits never queue; a damaged entry is reported once, below.
        found, value, manifest = self._load(key, report=False)
        if not found:
            try:
                lock = self._lock(key)
                lock.acquire()
            except OSError as err:  # no lock can be made: the folder is read-only, missing or the disk is full
                self.unusable(err)
                self.stats.add(bypassed=1)
                return compute()
            try:
                found, value, manifest = self._load(key)
                if not found:
                    value = self._compute_and_write(key, compute, name=name, version=version, params=params)
            finally:
                lock.release()
        if found:
            self.stats.add(hits=1, seconds_saved=manifest.get("compute_seconds", 0.0))
            return decode(value) if decode else value
        try:
            self.evict()
        except OSError as err:  # a full or read-only disk: the value is still good
            self.unusable(err)
        return value

    def _compute_and_write(self, key: str, compute: Callable[[], Any], *, name: str, version: str, params: Any) -> Any:
        self.stats.add(misses=1)
        start = time.perf_counter()
        value = compute()
        meta = {"name": name, "version": str(version), "params": describe(params)}
        try:
            self._write(key, value, {**meta, "compute_seconds": time.perf_counter() - start})
        except OSError as err:  # nothing half-written is visible: the entry appears only by its final rename
            self.unusable(err)
        return value

    def unusable(self, err: OSError) -> None:
        """Record (and log, once per process) that the disk cache cannot be written."""
        if self.problem is None:
            self.problem = f"the disk cache at {self.root} cannot be written ({err.strerror or err})"
            log.warning("%s; results are computed without it", self.problem)

    def _write(self, key: str, value: Any, meta: dict) -> Path | None:
        tmp_root = self.root / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{key[:12]}-{_HOST}-{os.getpid()}-", dir=tmp_root))
        try:
            layout = codec.encode(value, staging)
            files = {
                p.name: {"bytes": p.stat().st_size, "sha256": file_digest(p, 0, full=True)}
                for p in sorted(staging.iterdir())
            }
            now = time.time()
            manifest = {
                "format": FORMAT,
                "key": key,
                **meta,
                "layout": layout,
                "files": files,
                "created": now,
                "last_access": now,
            }
            text = json.dumps(manifest, indent=1, allow_nan=True)
            if sum(f["bytes"] for f in files.values()) + len(text) > self.max_bytes:
                log.warning(
                    "%s result is larger than the cache bound (%d bytes); not stored",
                    meta["name"] or key[:12],
                    self.max_bytes,
                )
                return None
            # The manifest goes in last: a folder without one is never mistaken for an entry.
            (staging / MANIFEST).write_text(text)
            self._touch(staging / MANIFEST, now)
            return self._install(staging, self._entry(key))
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _install(self, staging: Path, folder: Path) -> Path:
        folder.parent.mkdir(parents=True, exist_ok=True)
        # A directory cannot be renamed over a non-empty one: move the old (stale or corrupt) entry aside first.
        # Writers hold the key's lock, so nobody else installs this key meanwhile.
        self._discard(folder)
        os.replace(staging, folder)
        self.stats.add(writes=1)
        return folder

    # ------------------------------------------------------------------ housekeeping

    def entries(self) -> list[EntryInfo]:
        """Every entry on disk, readable or not, in no particular order."""
        found = []
        for folder in self.root.glob("entries/*/*"):
            try:
                found.append(_entry_info(folder))
            except OSError:
                continue  # removed while we looked, or a stray file
        return found

    def info(self) -> CacheInfo:
        """Location, number of entries, total bytes, per-function totals and this process's hit/miss counts."""
        entries = self.entries()
        by_name: dict[str, dict[str, int]] = {}
        for entry in entries:
            totals = by_name.setdefault(entry.name or "?", {"entries": 0, "bytes": 0})
            totals["entries"] += 1
            totals["bytes"] += entry.bytes
        total = sum(e.bytes for e in entries)
        return CacheInfo(self.root, self.enabled, len(entries), total, self.max_bytes, by_name, self.stats.as_dict())

    def evict(self, *, max_bytes: int | None = None) -> int:
        """Remove least recently used entries until the store holds at most ``max_bytes``; returns how many."""
        bound = self.max_bytes if max_bytes is None else max_bytes
        entries = sorted(self.entries(), key=lambda e: e.last_access)
        total = sum(e.bytes for e in entries)
        removed = 0
        for entry in entries:
            if total <= bound:
                break
            if self._remove(entry.key):
                total -= entry.bytes
                removed += 1
        self.stats.add(evictions=removed)
        self._sweep_tmp(older_than=_STALE_TMP_SECONDS)
        return removed

    def clear(self) -> int:
        """Remove every entry (skipping any being written right now); returns how many were removed."""
        removed = sum(self._remove(entry.key) for entry in self.entries())
        self._sweep_tmp(older_than=_STALE_TMP_SECONDS)
        return removed

    def _remove(self, key: str) -> bool:
        try:
            # Never wait: an entry whose lock is held is being written and is the newest anyway.
            with self._lock(key, timeout=0):
                self._discard(self._entry(key))
        except Timeout:
            return False
        return True

    def _discard(self, folder: Path) -> None:
        # Rename first so readers see the entry vanish at once instead of losing files one by one.
        trash = self.root / "tmp" / f"trash-{uuid.uuid4().hex}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(folder, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _sweep_tmp(self, *, older_than: float) -> None:
        # Leftovers of writers that crashed: those of a process of this host that is gone, and any old enough
        # (a recent one of another host may belong to a write in progress).
        cutoff = time.time() - older_than
        for path in self.root.glob("tmp/*"):
            try:
                if _writer_gone(path.name) or path.stat().st_mtime < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:
                continue

    # ------------------------------------------------------------------ paths

    def _entry(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            msg = f"cache keys are 64 lowercase hex characters (from cache_key), got {key!r}"
            raise ValueError(msg)
        return self.root / "entries" / key[:2] / key

    def _lock(self, key: str, *, timeout: float = -1) -> FileLock:
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        return FileLock(locks / f"{key}.lock", timeout=timeout)

    @staticmethod
    def _touch(path: Path, when: float | None = None) -> None:
        # time.time() rather than the filesystem's coarse clock, so accesses in quick succession stay ordered.
        when = time.time() if when is None else when
        try:
            os.utime(path, (when, when))
        except OSError:
            log.debug("could not record access time of %s (read-only store?)", path)


def _writer_gone(name: str) -> bool:
    """Whether a staging folder ``<key>-<host>-<pid>-<random>`` was left by a process of this host that has ended."""
    parts = name.split("-")
    if len(parts) < 4 or parts[1] != _HOST or not parts[2].isdigit():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, under another user
        return False
    return False


def _entry_info(folder: Path) -> EntryInfo:
    size = sum(p.stat().st_size for p in folder.iterdir())
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        last_access = manifest_path.stat().st_mtime
    except (OSError, ValueError):
        # Unreadable entries sort first for eviction.
        return EntryInfo(folder.name, "", "", size, 0.0, 0.0)
    return EntryInfo(
        folder.name,
        manifest.get("name", ""),
        manifest.get("version", ""),
        size,
        manifest.get("created", 0.0),
        last_access,
    )


# --------------------------------------------------------------------------- defaults and the decorator
