"""What the store reports: this process's counters, one entry, and the whole store."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class CacheStats:
    """Counters for one :class:`Cache` in this process (the UI shows them).

    ``seconds_saved`` adds up the recorded compute time of every hit.
    """

    hits: int = 0
    misses: int = 0
    writes: int = 0
    corrupt: int = 0
    evictions: int = 0
    bypassed: int = 0
    seconds_saved: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)

    @property
    def hit_rate(self) -> float:
        """Hits over lookups, ``nan`` before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else float("nan")

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


@dataclass(frozen=True)
class EntryInfo:
    """One stored entry: ``last_access`` is a POSIX time, ``name``/``version`` are empty for unreadable entries."""

    key: str
    name: str
    version: str
    bytes: int
    created: float
    last_access: float


@dataclass(frozen=True)
class CacheInfo:
    """What :meth:`Cache.info` reports: location, size, bound, per-function totals and this process's stats."""

    location: Path
    enabled: bool
    entries: int
    total_bytes: int
    max_bytes: int
    by_name: dict[str, dict[str, int]]
    stats: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "location": str(self.location)}
