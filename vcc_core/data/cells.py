"""A plain ``.h5ad`` file's cells read without anndata, for the evaluation of files.

Importing anndata costs about 0.35 s (it imports zarr), a tenth of a whole ``evaluate`` command on the preset, and an
evaluation of two files needs little of it. A *plain* file, as anndata writes one from a CSR matrix (``X`` a
``csr_matrix`` group of float32, float64 or integer values; the perturbation column of ``obs`` categorical or an array
of strings; ``var`` indexed by strings; ``uns[vcc_space]``, if any, a string), is read here with h5py alone
into :class:`Cells`: ``X`` (:func:`vcc_core.data.row_reader.read_rows`), that one column of ``obs``, the gene names and
the declared space. Everything else in the file is left unread. Any other file is read by anndata
(:func:`vcc_core.data.io.read_h5ad`).

:class:`Cells` answers the part of the AnnData interface the evaluation's loader and sides use: ``X``, ``obs``,
``var``, ``uns``, ``obsm``, ``n_obs``, ``n_vars``, ``var_names``, ``copy()`` and selection of rows and genes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from vcc_core.data.row_reader import read_rows
from vcc_core.keys import PERT_COL, UNS_SPACE


@dataclass
class Cells:
    """Cells x genes values with the columns of ``obs`` and the genes of ``var`` they were read with.

    Built as an AnnData is (``Cells(X=..., obs=..., var=...)``); a selection ``cells[rows]`` or ``cells[rows,
    genes]`` (genes by position or name) holds its own values.
    """

    X: object
    obs: pd.DataFrame
    var: pd.DataFrame
    uns: dict = field(default_factory=dict)
    obsm: dict = field(default_factory=dict)
    isbacked = False

    @property
    def n_obs(self) -> int:
        return self.X.shape[0]

    @property
    def n_vars(self) -> int:
        return self.X.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_obs, self.n_vars

    @property
    def var_names(self) -> pd.Index:
        return self.var.index

    def copy(self) -> Cells:
        obsm = {key: value.copy() for key, value in self.obsm.items()}
        return Cells(self.X.copy(), self.obs.copy(), self.var.copy(), dict(self.uns), obsm)

    def __getitem__(self, index) -> Cells:
        rows, genes = index if isinstance(index, tuple) else (index, slice(None))
        rows = _positions(rows, self.obs.index)
        genes = _positions(genes, self.var.index)
        obsm = {key: value[rows] for key, value in self.obsm.items()}
        return Cells(self.X[rows][:, genes], self.obs.iloc[rows], self.var.iloc[genes], dict(self.uns), obsm)


def _positions(selection, names: pd.Index):
    """A selection of rows or genes as numpy indexes them: a slice, a boolean mask or positions (names looked up)."""
    if isinstance(selection, slice):
        return selection
    selection = np.asarray(selection)
    if selection.dtype.kind in "biu":
        return selection
    positions = names.get_indexer(selection)
    if (positions < 0).any():
        missing = ", ".join(map(str, selection[positions < 0][:5]))
        msg = f"names not found: {missing}"
        raise KeyError(msg)
    return positions


def read_cells(path: str | Path, *, pert_col: str = PERT_COL) -> Cells | None:
    """The file's cells (``obs`` holding ``pert_col`` alone, ``var`` the gene names), or None when the file is not
    plain (see the module docstring) or cannot be read so: :func:`vcc_core.data.io.read_h5ad` then reads it, or says
    what is wrong with it."""
    try:
        with h5py.File(path, "r") as f:
            if not is_plain(f, pert_col=pert_col):
                return None
            labels = _column(f["obs"][pert_col])
            genes = pd.Index(f["var"][f["var"].attrs["_index"]].asstr()[:], dtype=object)
            space = f["uns"][UNS_SPACE].asstr()[()] if UNS_SPACE in f.get("uns", {}) else None
        x = read_rows(str(path), slice(None), None)
    except (OSError, KeyError, ValueError, TypeError):
        return None
    obs = pd.DataFrame({pert_col: labels}, index=pd.RangeIndex(x.shape[0]).astype(str))
    return Cells(x, obs, pd.DataFrame(index=genes), {} if space is None else {UNS_SPACE: space})


def plain_file(path: str | Path, *, pert_col: str = PERT_COL) -> bool:
    """Whether :func:`read_cells` reads the file at ``path`` (its column ``pert_col``) without anndata."""
    try:
        with h5py.File(path, "r") as f:
            return is_plain(f, pert_col=pert_col)
    except OSError:
        return False


def is_plain(f: h5py.File, *, pert_col: str = PERT_COL) -> bool:
    """Whether :func:`read_cells` reads the open file ``f`` (its column ``pert_col``) without anndata."""
    x, obs, var = f.get("X"), f.get("obs"), f.get("var")
    if not (isinstance(x, h5py.Group) and isinstance(obs, h5py.Group) and isinstance(var, h5py.Group)):
        return False
    data = x.get("data")
    column = obs.get(pert_col)
    space = f["uns"].get(UNS_SPACE) if isinstance(f.get("uns"), h5py.Group) else None
    return (
        x.attrs.get("encoding-type") == "csr_matrix"
        and isinstance(data, h5py.Dataset)
        and data.dtype.kind in "fiu"
        and data.dtype != np.float16
        and _string_array(var.get(var.attrs.get("_index", "")))
        and column is not None
        and (_string_array(column) or _categorical(column))
        and (space is None or (isinstance(space, h5py.Dataset) and space.attrs.get("encoding-type") == "string"))
    )


def _string_array(node) -> bool:
    return isinstance(node, h5py.Dataset) and node.attrs.get("encoding-type") == "string-array"


def _categorical(node) -> bool:
    if not (isinstance(node, h5py.Group) and node.attrs.get("encoding-type") == "categorical"):
        return False
    categories = node.get("categories")
    return isinstance(node.get("codes"), h5py.Dataset) and (
        _string_array(categories)
        or (isinstance(categories, h5py.Dataset) and categories.attrs.get("encoding-type") == "array")
    )


def _column(node) -> pd.Categorical | np.ndarray:
    """A column of ``obs`` as anndata reads it: a categorical from its codes and categories, or strings."""
    if _string_array(node):
        return node.asstr()[:]
    categories = node["categories"]
    categories = categories.asstr()[:] if _string_array(categories) else categories[:]
    ordered = bool(node.attrs.get("ordered", False))
    return pd.Categorical.from_codes(node["codes"][:], categories=pd.Index(categories), ordered=ordered)
