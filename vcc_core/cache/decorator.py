"""The :func:`cached` decorator and the process's default store, configured from the environment.

Declare caching once per function::

    @cached("pseudobulk", version="1", decode=lambda parts: Profiles(**parts))
    def pseudobulk(adata, *, pert_col=PERT_COL): ...

Settings are read from the environment at call time: ``VCC_CACHE_DIR`` (default ``~/.cache/vcc-explorer``),
``VCC_CACHE_MAX_BYTES`` (default 5 GiB; ``500M``, ``2G`` accepted; least recently used entries are evicted first)
and ``VCC_CACHE=off`` to compute everything afresh.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import threading
from collections.abc import Callable
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

from vcc_core.cache.digest import key_and_description
from vcc_core.cache.store import DEFAULT_MAX_BYTES, Cache

ENV_DIR = "VCC_CACHE_DIR"
ENV_MAX_BYTES = "VCC_CACHE_MAX_BYTES"
ENV_SWITCH = "VCC_CACHE"
DEFAULT_DIR = Path("~/.cache/vcc-explorer")

_DEFAULTS: dict[tuple, Cache] = {}
_DEFAULTS_LOCK = threading.Lock()
_SWITCH = {"on": True, "1": True, "true": True, "yes": True, "off": False, "0": False, "false": False, "no": False}
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def default_cache() -> Cache:
    """The store configured by ``VCC_CACHE_DIR``, ``VCC_CACHE_MAX_BYTES`` and ``VCC_CACHE``, read now.

    The same settings return the same :class:`Cache` object, so its statistics accumulate over the process.
    Raises ``ValueError`` naming the variable when one is malformed.
    """
    root = Path(os.environ.get(ENV_DIR) or DEFAULT_DIR).expanduser().absolute()
    switch = os.environ.get(ENV_SWITCH, "on").strip().lower()
    if switch not in _SWITCH:
        msg = f"{ENV_SWITCH}={switch!r}: use 'on' or 'off'"
        raise ValueError(msg)
    settings = (root, _max_bytes_from_env(), _SWITCH[switch])
    with _DEFAULTS_LOCK:
        if settings not in _DEFAULTS:
            _DEFAULTS[settings] = Cache(root, max_bytes=settings[1], enabled=settings[2])
        return _DEFAULTS[settings]


def _max_bytes_from_env() -> int:
    text = os.environ.get(ENV_MAX_BYTES, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?", text, flags=re.IGNORECASE)
    if match is None or float(match[1]) <= 0:
        msg = f"{ENV_MAX_BYTES}={text!r}: use a positive number of bytes, optionally with K, M, G or T (e.g. 5G)"
        raise ValueError(msg)
    return int(float(match[1]) * _UNITS[match[2].upper()])


def cached(
    name: str,
    *,
    version: str,
    ignore: tuple[str, ...] = (),
    cache: Cache | None = None,
    decode: Callable[[Any], Any] | None = None,
) -> Callable:
    """Decorator: cache a function's results on disk, keyed by its arguments' content.

    Parameters
    ----------
    name
        Stable name of the computation (part of the key, shown by ``python -m vcc_core cache info``).
    version
        Code version: bump it whenever the function's output for the same inputs changes.
    ignore
        Arguments left out of the key (a ``device``, a progress callback); unknown names raise ``ValueError``.
    cache
        Store to use; by default :func:`default_cache` at each call, so environment changes apply at once.
    decode
        Rebuilds the return type from what the store gives back (a dict of parts for dict or dataclass results),
        e.g. ``decode=lambda parts: Profiles(**parts)``. Required when the function returns a dataclass.

    The wrapper keeps the function as ``.uncached`` and computes a call's key with ``.key(*args, **kwargs)``.
    """

    def decorate(func: Callable) -> Callable:
        signature = inspect.signature(func)
        unknown = sorted(set(ignore) - set(signature.parameters))
        if unknown:
            msg = f"ignore names {unknown}, which are not parameters of {func.__qualname__}"
            raise ValueError(msg)

        def key_and_params(args: tuple, kwargs: dict) -> tuple[str, Any]:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            params = {k: v for k, v in bound.arguments.items() if k not in ignore}
            return key_and_description(name, params, version=version)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            store = default_cache() if cache is None else cache
            if not store.enabled:
                store.stats.add(bypassed=1)
                return func(*args, **kwargs)
            key, params = key_and_params(args, kwargs)
            compute = functools.partial(_checked_call, func, args, kwargs, name=name, decode=decode)
            return store.get_or_compute(key, compute, name=name, version=version, params=params, decode=decode)

        wrapper.uncached = func
        wrapper.key = lambda *args, **kwargs: key_and_params(args, kwargs)[0]
        return wrapper

    return decorate


def _checked_call(func: Callable, args: tuple, kwargs: dict, *, name: str, decode: Callable | None) -> Any:
    value = func(*args, **kwargs)
    if decode is None and is_dataclass(value) and not isinstance(value, type):
        # Without decode a hit would return a dict where a miss returned the dataclass.
        cls = type(value).__qualname__
        msg = f"cached({name!r}) returns a {cls}; pass decode=lambda parts: {cls}(**parts) to rebuild it from disk"
        raise TypeError(msg)
    return value
