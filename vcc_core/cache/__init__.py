"""Content-addressed on-disk store shared by every session and restart.

:mod:`~vcc_core.cache.digest` keys values by content, :mod:`~vcc_core.cache.codec` writes them in safe formats,
:mod:`~vcc_core.cache.store` keeps them on disk and :mod:`~vcc_core.cache.decorator` is the decorator a computation
wears. The names below are the package's public API.
"""

from vcc_core.cache.decorator import cached, default_cache
from vcc_core.cache.digest import FileRef, cache_key, fingerprint
from vcc_core.cache.records import CacheInfo, CacheStats, EntryInfo
from vcc_core.cache.store import DEFAULT_MAX_BYTES, Cache

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Cache",
    "CacheInfo",
    "CacheStats",
    "EntryInfo",
    "FileRef",
    "cache_key",
    "cached",
    "default_cache",
    "fingerprint",
]
