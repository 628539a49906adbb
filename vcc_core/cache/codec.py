"""On-disk encoding of cached values, in safe formats only, never pickle.

A value (an array, DataFrame, Series, tensor, sparse matrix, JSON-like value, or a dict or dataclass of those) is
written as ``.npz`` (loaded back with ``allow_pickle=False``), ``.parquet``, ``.json`` and ``.safetensors`` files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vcc_core.cache.digest import string_items


class _Writer:
    """Writes the parts of one value into an entry folder: arrays into one ``.npz``, tensors into one
    ``.safetensors``, JSON-like values into one ``.json`` and each DataFrame/Series into its own ``.parquet``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.arrays: dict[str, np.ndarray] = {}
        self.tensors: dict[str, Any] = {}
        self.values: dict[str, Any] = {}
        self.n_frames = 0

    def add(self, name: str, part: Any) -> dict:
        if isinstance(part, np.ndarray | np.generic):
            return self._array(name, part)
        if _is_instance(part, "pandas", "DataFrame", "Series"):
            return self._frame(name, part)
        if _is_instance(part, "torch", "Tensor"):
            return self._tensor(part)
        if _is_instance(part, "scipy.sparse", "spmatrix", "sparray"):
            return self._sparse(name, part)
        if not _is_json(part):
            msg = (
                f"cannot store part {name!r} of type {type(part).__qualname__}: use arrays, DataFrames, tensors or JSON"
            )
            raise TypeError(msg)
        self.values[name] = part
        return {"type": "json"}

    def _array(self, name: str, part: np.ndarray | np.generic) -> dict:
        array = np.asarray(part)
        spec = {"type": "ndarray", "key": f"a{len(self.arrays)}", "scalar": isinstance(part, np.generic)}
        if array.dtype == object:
            # Object arrays would be pickled by numpy; strings are stored as fixed-width unicode and restored.
            array, spec["object"] = (
                np.array(string_items(array, what=f"part {name!r}"), dtype=str).reshape(array.shape),
                True,
            )
        self.arrays[spec["key"]] = array
        return spec

    def _frame(self, name: str, part: Any) -> dict:
        import pandas as pd

        spec: dict[str, Any] = {"type": "dataframe", "file": f"frame{self.n_frames}.parquet"}
        if isinstance(part, pd.Series):
            spec.update(type="series", name=part.name if _is_json(part.name) else None)
            part = part.to_frame(name="value")
        try:
            part.to_parquet(self.folder / spec["file"])
        except (TypeError, ValueError) as err:
            msg = f"cannot store part {name!r} as parquet: {err}"
            raise TypeError(msg) from err
        self.n_frames += 1
        return spec

    def _tensor(self, part: Any) -> dict:
        key = f"t{len(self.tensors)}"
        # safetensors refuses tensors sharing storage (tied weights, views); a private copy of each avoids that.
        self.tensors[key] = part.detach().to("cpu").clone().contiguous()
        return {"type": "tensor", "key": key}

    def _sparse(self, name: str, part: Any) -> dict:
        from scipy import sparse

        if part.format not in {"csr", "csc"}:
            msg = f"cannot store part {name!r}, a {part.format.upper()} matrix: convert it to CSR or CSC"
            raise TypeError(msg)
        keys = {}
        for piece in ("data", "indices", "indptr"):
            keys[piece] = f"a{len(self.arrays)}"
            self.arrays[keys[piece]] = np.asarray(getattr(part, piece))
        is_array = isinstance(part, sparse.sparray)
        return {"type": "sparse", "format": part.format, "shape": list(part.shape), "array": is_array, **keys}

    def flush(self) -> None:
        if self.arrays:
            np.savez(self.folder / "arrays.npz", allow_pickle=False, **self.arrays)
        if self.tensors:
            from safetensors.torch import save_file

            save_file(self.tensors, self.folder / "tensors.safetensors")
        if self.values:
            (self.folder / "values.json").write_text(json.dumps(self.values, allow_nan=True))


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def encode(value: Any, folder: Path) -> dict:
    if is_dataclass(value) and not isinstance(value, type):
        kind, parts = "dataclass", {f.name: getattr(value, f.name) for f in fields(value)}
    elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
        kind, parts = "dict", value
    else:
        kind, parts = "single", {"value": value}
    writer = _Writer(folder)
    layout = {name: writer.add(name, part) for name, part in parts.items()}
    writer.flush()
    return {"kind": kind, "parts": layout}


def decode(folder: Path, layout: dict) -> Any:
    specs = layout["parts"]
    types = {spec["type"] for spec in specs.values()}
    arrays = tensors = values = {}
    if types & {"ndarray", "sparse"}:
        with np.load(folder / "arrays.npz", allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    if "tensor" in types:
        from safetensors.torch import load_file

        tensors = load_file(folder / "tensors.safetensors")
    if "json" in types:
        values = json.loads((folder / "values.json").read_text())
    parts = {name: _decode_part(folder, spec, arrays, tensors, values.get(name)) for name, spec in specs.items()}
    return parts["value"] if layout["kind"] == "single" else parts


def _decode_part(folder: Path, spec: dict, arrays: dict, tensors: dict, value: Any) -> Any:
    kind = spec["type"]
    if kind == "ndarray":
        array = arrays[spec["key"]]
        array = array.astype(object) if spec.get("object") else array
        return array[()] if spec.get("scalar") else array
    if kind in {"dataframe", "series"}:
        import pandas as pd

        frame = pd.read_parquet(folder / spec["file"])
        return frame if kind == "dataframe" else frame["value"].rename(spec["name"])
    if kind == "tensor":
        return tensors[spec["key"]]
    if kind == "sparse":
        from scipy import sparse

        build = getattr(sparse, f"{spec['format']}_{'array' if spec['array'] else 'matrix'}")
        pieces = (arrays[spec["data"]], arrays[spec["indices"]], arrays[spec["indptr"]])
        return build(pieces, shape=tuple(spec["shape"]))
    return value


def _is_instance(obj: Any, module: str, *names: str) -> bool:
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, tuple(getattr(loaded, name) for name in names))
