"""Content fingerprints of function arguments, and the cache keys built from them.

A key hashes the function's name, its code ``version`` and its arguments *by content*: arrays and tensors by bytes,
dtype and shape; DataFrames by values, dtypes and index; AnnData by ``X``, ``layers``, ``obs`` and ``var``; files
(passed as ``Path`` or :class:`FileRef`) by resolved path, size, mtime and a content hash; objects with a
``__cache_fingerprint__()`` method by the digest it returns (a loaded dataset, hashed once when opened); everything
else as canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Files up to this size are hashed whole; larger ones by ``SAMPLE_BLOCKS`` evenly spaced blocks (plus size and mtime).
FULL_HASH_BYTES = 64 * 1024**2
SAMPLE_BLOCKS = 16
SAMPLE_BLOCK_BYTES = 1024**2
#: Bumped when the key scheme or the on-disk layout changes, so old entries are never misread.
FORMAT = 1

_TAG = "__vcc__"


@dataclass(frozen=True)
class FileRef:
    """A file or directory argument hashed by its content rather than by its name.

    ``Path`` arguments are treated the same way; ``FileRef`` marks a path held as a string, or asks for a full
    content hash of a large file (``full_hash=True``) instead of sampled blocks. It is ``os.PathLike``, so the
    decorated function can open it directly.
    """

    path: Path
    full_hash: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def fingerprint(obj: Any) -> str:
    """Hex sha256 of ``obj``'s content, stable across processes and sessions.

    Raises ``TypeError`` naming the type for objects with no content hash (arbitrary classes, lambdas), and
    ``FileNotFoundError`` for a ``Path``/:class:`FileRef` that does not exist.
    """
    return _digest(describe(obj))


def cache_key(name: str, params: Mapping[str, Any], *, version: str) -> str:
    """Key of the result of function ``name`` at code ``version`` called with ``params`` (hashed by content)."""
    return key_and_description(name, params, version=version)[0]


def key_and_description(name: str, params: Mapping[str, Any], *, version: str) -> tuple[str, Any]:
    described = describe(dict(params))
    return _digest({"format": FORMAT, "name": name, "version": str(version), "params": described}), described


def _digest(tree: Any) -> str:
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def describe(obj: Any) -> Any:
    """A JSON tree that determines ``obj``: primitives as themselves, bulk data as a content digest."""
    if isinstance(obj, np.generic):
        # By value, so np.float64(0.5) and 0.5 give the same key (np.float32(0.1) keeps its float32 value).
        return describe(obj.item())
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, list | tuple):
        return [describe(item) for item in obj]
    if isinstance(obj, set | frozenset):
        return {_TAG: "set", "items": sorted((describe(item) for item in obj), key=_digest)}
    if isinstance(obj, Mapping):
        return _describe_mapping(obj)
    if isinstance(obj, FileRef | os.PathLike):
        return _describe_path(obj)
    if isinstance(obj, np.ndarray):
        return _describe_array(obj)
    if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
        return {_TAG: "dtype", "value": np.dtype(obj).str}
    if isinstance(obj, bytes):
        return {_TAG: "bytes", "sha256": hashlib.sha256(obj).hexdigest()}
    if callable(getattr(obj, "__cache_fingerprint__", None)) and not isinstance(obj, type):
        # Big objects that know their content's digest (computed once, e.g. when a dataset is opened).
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        return {_TAG: "fingerprinted", "type": kind, "sha256": str(obj.__cache_fingerprint__())}
    if is_dataclass(obj) and not isinstance(obj, type):
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        return {
            _TAG: "dataclass",
            "type": kind,
            "fields": {f.name: describe(getattr(obj, f.name)) for f in fields(obj)},
        }
    described = _describe_foreign(obj)
    if described is None:
        msg = (
            f"cannot fingerprint a {type(obj).__module__}.{type(obj).__qualname__}: pass arrays, tensors, DataFrames, "
            "AnnData, Path/FileRef or JSON-like values, or leave the argument out of the key with ignore=..."
        )
        raise TypeError(msg)
    return described


def _describe_mapping(obj: Mapping) -> Any:
    if all(isinstance(key, str) for key in obj):
        return {key: describe(value) for key, value in obj.items()}
    items = [[describe(key), describe(value)] for key, value in obj.items()]
    return {_TAG: "mapping", "items": sorted(items, key=_digest)}


def _describe_array(array: np.ndarray) -> dict:
    array = np.asarray(array)
    digest = hashlib.sha256()
    if array.dtype == object:
        for item in string_items(array, what="array"):
            encoded = item.encode()
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
    else:
        # Flatten then view as bytes: works for every fixed-size dtype without going through tobytes() copies.
        digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return {_TAG: "ndarray", "dtype": array.dtype.str, "shape": list(array.shape), "sha256": digest.hexdigest()}


def string_items(array: np.ndarray, *, what: str) -> list[str]:
    items = array.ravel().tolist()
    bad = sorted({type(item).__name__ for item in items if not isinstance(item, str)})
    if bad:
        msg = f"{what} of dtype object holds {', '.join(bad)} values; only strings are supported in object arrays"
        raise TypeError(msg)
    return items


def _describe_path(ref: FileRef | os.PathLike) -> dict:
    full = isinstance(ref, FileRef) and ref.full_hash
    path = Path(ref).resolve(strict=True)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        stamps = [[str(p.relative_to(path)), *_file_stamp(p, full=full)] for p in files]
        return {_TAG: "directory", "path": str(path), "files": stamps}
    return {_TAG: "file", "path": str(path), "stamp": _file_stamp(path, full=full)}


def _file_stamp(path: Path, *, full: bool) -> list:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, file_digest(path, stat.st_size, full=full)]


def file_digest(path: Path, size: int, *, full: bool = False) -> str:
    with path.open("rb") as handle:
        if full or size <= FULL_HASH_BYTES:
            return hashlib.file_digest(handle, "sha256").hexdigest()
        # Large inputs (multi-GB h5ad) would take seconds to hash whole on every call; size + mtime + spread-out
        # samples catch replaced or rewritten files.
        digest = hashlib.sha256()
        for offset in np.linspace(0, size - SAMPLE_BLOCK_BYTES, SAMPLE_BLOCKS, dtype=np.int64):
            handle.seek(int(offset))
            digest.update(handle.read(SAMPLE_BLOCK_BYTES))
        return digest.hexdigest()


def _describe_pandas(obj: Any) -> dict | None:
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        columns = [_describe_series(obj.iloc[:, i], name=name) for i, name in enumerate(obj.columns)]
        return {_TAG: "DataFrame", "columns": columns, "index": _describe_index(obj.index)}
    if isinstance(obj, pd.Series):
        return {**_describe_series(obj, name=obj.name), "index": _describe_index(obj.index)}
    if isinstance(obj, pd.Index):
        return _describe_index(obj)
    return None


def _describe_series(series: Any, *, name: Any) -> dict:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        values = _describe_array(series.to_numpy())["sha256"]
    else:
        values = _describe_array(pd.util.hash_pandas_object(series, index=False).to_numpy())["sha256"]
    return {_TAG: "Series", "name": describe(name), "dtype": _describe_dtype(dtype), "values": values}


def _describe_index(index: Any) -> dict:
    import pandas as pd

    hashed = pd.util.hash_pandas_object(index).to_numpy()
    return {
        _TAG: "Index",
        "names": describe(list(index.names)),
        "dtype": _describe_dtype(index.dtype),
        "values": _describe_array(hashed)["sha256"],
    }


def _describe_dtype(dtype: Any) -> Any:
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        # The category order changes codes and plots, so it is part of the content.
        return {"category": _describe_index(dtype.categories), "ordered": bool(dtype.ordered)}
    return str(dtype)


def _describe_anndata(adata: Any) -> dict | None:
    import anndata

    if not isinstance(adata, anndata.AnnData):
        return None
    if adata.isbacked:
        # Reading a backed matrix whole just to hash it would defeat backing; the file fingerprint stands for it.
        matrix, layers = _describe_path(Path(adata.filename)), {}
    else:
        matrix, layers = describe(adata.X), {k: describe(adata.layers[k]) for k in sorted(adata.layers.keys())}
    return {_TAG: "AnnData", "X": matrix, "layers": layers, "obs": describe(adata.obs), "var": describe(adata.var)}


def _describe_scipy(matrix: Any) -> dict | None:
    from scipy import sparse

    if not sparse.issparse(matrix):
        return None
    fmt = matrix.format if matrix.format in {"csr", "csc", "coo"} else "csr"
    matrix = matrix.asformat(fmt)
    parts = ("row", "col", "data") if fmt == "coo" else ("data", "indices", "indptr")
    described = {name: _describe_array(np.asarray(getattr(matrix, name)))["sha256"] for name in parts}
    return {_TAG: "sparse", "format": fmt, "shape": list(matrix.shape), "dtype": matrix.dtype.str, **described}


def _describe_torch(obj: Any) -> dict | None:
    import torch

    if isinstance(obj, torch.dtype | torch.device):
        return {_TAG: type(obj).__name__, "value": str(obj)}
    if not isinstance(obj, torch.Tensor):
        return None
    raw = obj.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy()
    return {_TAG: "Tensor", "dtype": str(obj.dtype), "shape": list(obj.shape), "sha256": _describe_array(raw)["sha256"]}


# Optional libraries are never imported here: an object can only be theirs if they are loaded already. Matching
# by isinstance (not by the type's module) also covers subclasses defined elsewhere, such as AnnData's views.
_FOREIGN: dict[str, Callable[[Any], dict | None]] = {
    "anndata": _describe_anndata,
    "pandas": _describe_pandas,
    "scipy.sparse": _describe_scipy,
    "torch": _describe_torch,
}


def _describe_foreign(obj: Any) -> dict | None:
    for module, handler in _FOREIGN.items():
        if module in sys.modules and (described := handler(obj)) is not None:
            return described
    return None
