"""Read and validate Perturb-seq data and predictions in the VCC layout.

Real data: cells x genes AnnData with counts (or log1p values) in ``X``, perturbation labels in
``obs[pert_col]`` and control cells labelled ``control``. Predictions: the same layout, the same
genes, control cells included. Every check raises a ``ValueError`` whose message names the column,
label or values at fault and says how to fix it. What a web page
accepts (size, paths) is checked by :mod:`vcc_core.data.uploads`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.data.normalize import Space, iter_row_chunks, median_target
from vcc_core.data.row_reader import RowReader, read_rows
from vcc_core.data.space import SAMPLE_ROWS, checked_space, detect_space
from vcc_core.keys import CONTROL, PERT_COL, UNS_SPACE

if TYPE_CHECKING:
    import anndata as ad

MIN_CELLS = 2
"""Fewest cells a perturbation (or the control) may have: a Wilcoxon test needs two cells a side."""


def read_h5ad(path: str | Path, *, backed: bool = False) -> ad.AnnData:
    """Open an ``.h5ad`` file, turning the errors of a missing, empty or broken file into clear ones.

    anndata's own read warnings (non-unique names, old formats) are silenced: :func:`validate_dataset`
    reports what matters, with a fix. Repeated cell names (common after concatenating files) are made unique.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"file not found: {path}"
        raise FileNotFoundError(msg)
    try:
        size, is_hdf5 = path.stat().st_size, h5py.is_hdf5(path)
    except OSError as err:
        msg = f"{path.name} cannot be opened ({err.strerror or err}); check the file's permissions"
        raise ValueError(msg) from err
    if size == 0:
        msg = f"{path.name} is empty (0 bytes); expected an .h5ad file"
        raise ValueError(msg)
    if not is_hdf5:
        msg = f"{path.name} is not an .h5ad (HDF5) file; save it with AnnData.write_h5ad"
        raise ValueError(msg)
    import anndata as ad  # imported here: an evaluation of plain files reads them without it (vcc_core.data.cells)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adata = (None if backed else _read_plain(path)) or ad.read_h5ad(path, backed="r" if backed else None)
    except Exception as err:  # h5py/anndata raise many types for a truncated or corrupt file
        raise ValueError(_unreadable(path, err)) from err
    if not backed and not adata.obs_names.is_unique:
        adata.obs_names_make_unique()  # cell names play no part, but anndata warns on every copy while they repeat
    return adata


PLAIN_ELEMENTS = {"X", "obs", "var", "uns", "obsm", "varm", "obsp", "varp", "layers"}


def _read_plain(path: Path) -> ad.AnnData | None:
    """The file in memory with its CSR ``X`` read by :class:`RowReader` (its arrays straight from their place in the
    file, about twice as fast as anndata's reader), every other element by anndata's ``read_elem``; None, for
    anndata's own reader, when the file is anything else (another ``X``, a ``raw``, an old encoding)."""
    with h5py.File(path, "r") as f:
        x = f.get("X")
        plain = (
            set(f) <= PLAIN_ELEMENTS
            and isinstance(x, h5py.Group)
            and x.attrs.get("encoding-type") == "csr_matrix"
            and all(f[name].attrs.get("encoding-type") == "dataframe" for name in ("obs", "var") if name in f)
        )
        if not plain:
            return None
        import anndata as ad

        parts = {name: ad.io.read_elem(f[name]) for name in set(f) - {"X"}}
    return ad.AnnData(X=read_rows(str(path), slice(None), None), **parts)


def _unreadable(path: Path, err: Exception) -> str:
    """Why an HDF5 file did not read as AnnData, as one line."""
    try:
        with h5py.File(path, "r") as f:
            if not {"obs", "var"} <= set(f.keys()):
                return f"{path.name} is HDF5 but not AnnData (no obs/var groups); convert it and save with write_h5ad"
            x = f.get("X")
            data = x.get("data") if isinstance(x, h5py.Group) else None
            if isinstance(data, h5py.Dataset) and data.dtype == np.float16:
                return f"{path.name} stores a sparse float16 X, which scipy cannot hold; save X as float32"
    except Exception:
        pass
    detail = " ".join(str(err).split())[:200]
    return f"{path.name} could not be read as AnnData (truncated or corrupt?): {detail}; re-export or re-download it"


def validate_dataset(adata: ad.AnnData, *, pert_col: str = PERT_COL, control: str = CONTROL) -> None:
    """Check the VCC layout: cells and genes, a perturbation column, control cells, unique genes.

    Raises
    ------
    ValueError
        Naming the missing column (and the columns found), the missing control label (and the most
        frequent labels found), or the duplicated gene names.
    """
    if adata.n_obs == 0:
        msg = "X has 0 cells (rows); load a file with cells"
        raise ValueError(msg)
    if adata.n_vars == 0:
        msg = "the dataset has 0 genes (columns of X); load a file with genes"
        raise ValueError(msg)
    if pert_col not in adata.obs.columns:
        found = ", ".join(map(str, adata.obs.columns)) or "none"
        msg = f"obs has no perturbation column {pert_col!r} (columns found: {found}); set pert_col (--pert-col)"
        raise ValueError(msg)
    labels = adata.obs[pert_col].astype("string")
    if not (labels == control).any():
        top = ", ".join(labels.value_counts().index[:8].astype(str)) or "no labels"
        msg = (
            f"no control cells: label {control!r} not found in obs[{pert_col!r}] (most frequent: {top}); "
            "set control (--control)"
        )
        raise ValueError(msg)
    dup = pd.Index(adata.var_names)[pd.Index(adata.var_names).duplicated()].unique()
    if len(dup):
        msg = f"gene names must be unique; duplicated: {', '.join(map(str, dup[:10]))}; rename or drop the repeats"
        raise ValueError(msg)


def check_groups(labels: pd.Series, *, pert_col: str = PERT_COL, control: str = CONTROL) -> None:
    """At least one perturbation besides control, and :data:`MIN_CELLS` cells in every group, control included.

    Labels are the cleaned ones (missing and dropped labels already gone); categories without cells are ignored.
    A perturbation with a single cell is an error, not dropped: it would change which perturbations are scored.
    """
    counts = pd.Series(labels).astype(str).value_counts()
    if counts.drop(control, errors="ignore").empty:
        msg = f"no perturbations: every cell of obs[{pert_col!r}] is control {control!r}; load perturbed cells too"
        raise ValueError(msg)
    few = counts[counts < MIN_CELLS]
    if len(few):
        names = ", ".join(map(repr, sorted(few.index)[:10]))
        msg = (
            f"{len(few)} perturbation(s) of obs[{pert_col!r}] have only 1 cell: {names}; DE needs at least "
            f"{MIN_CELLS} cells per perturbation; remove them (they are not dropped automatically)"
        )
        raise ValueError(msg)


def load_dataset(
    path: str | Path | ad.AnnData,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    drop_labels: tuple[str, ...] = ("unassigned",),
    backed: bool = False,
) -> tuple[ad.AnnData, Space]:
    """Read, validate and report the value space of a real dataset.

    Cells whose label is missing or in ``drop_labels`` are dropped (in memory only); a float16 ``X`` is
    converted to float32. Returns the AnnData and ``"counts"`` or ``"log1p"``.

    Raises
    ------
    ValueError
        From :func:`read_h5ad`, :func:`validate_dataset`, :func:`check_groups`, :func:`check_values` or
        :func:`detect_space`: the message names the problem and the fix.
    """
    adata = read_h5ad(path, backed=backed) if is_path(path) else path
    validate_dataset(adata, pert_col=pert_col, control=control)
    if not adata.isbacked:
        labels = adata.obs[pert_col].astype("string")
        keep = labels.notna() & ~labels.isin(list(drop_labels))
        if not keep.all():
            adata = adata[keep.to_numpy()].copy()
        adata.obs[pert_col] = adata.obs[pert_col].astype(str)
    check_groups(adata.obs[pert_col].dropna(), pert_col=pert_col, control=control)
    return _checked(adata)


def _checked(adata: ad.AnnData) -> tuple[ad.AnnData, Space]:
    """float16 X made float32 (scipy and torch need it), values checked, space detected, counts normalisable."""
    if not adata.isbacked and np.dtype(adata.X.dtype) == np.float16:
        adata = adata.copy()
        adata.X = adata.X.astype(np.float32)
    if adata.isbacked:
        # Buffers sized once for the sample's ranges of rows and reused for each (fresh memory is slow to touch).
        with RowReader(str(adata.filename), None, chunk_rows=SAMPLE_ROWS // 3) as reader:
            space = detect_space(_BackedRows(adata.X, reader), declared=adata.uns.get(UNS_SPACE))
    else:
        space = checked_space(adata.X, declared=adata.uns.get(UNS_SPACE))
    if space == "counts" and not adata.isbacked:
        median_target(adata.X)  # refuses empty cells here, where the side is known, not later when normalising
    return adata, space


class _BackedRows:
    """A backed ``X`` as :func:`detect_space` samples it: ranges of rows through ``reader`` (a CSR file's arrays read
    by offset: about 3x faster than anndata's backed reader), other selections through anndata.

    A range of rows is read into the reader's reused buffers (fresh memory is slow to touch): it is valid until
    the next read, and :func:`detect_space` is done with each range before it reads the next.
    """

    def __init__(self, x, reader: RowReader):
        self.shape, self._x, self._reader = x.shape, x, reader

    def __getitem__(self, rows):
        return self._reader.read(rows) if isinstance(rows, slice) else self._x[rows]


def align_genes(pred: ad.AnnData, genes) -> ad.AnnData:
    """Reorder the columns of ``pred`` to ``genes``.

    Raises
    ------
    ValueError
        Listing genes missing from the predictions, extra genes, or duplicated ones.
    """
    have = pd.Index(pred.var_names)
    want = pd.Index(genes)
    if have.has_duplicates:
        dup = have[have.duplicated()].unique()
        msg = f"predictions repeat gene names: {', '.join(map(str, dup[:10]))}; rename or drop the repeats"
        raise ValueError(msg)
    if differences := gene_differences(have, want, missing_from="predictions"):
        msg = f"predictions and data have different genes: {differences}; predict exactly the genes of the data"
        raise ValueError(msg)
    return pred if have.equals(want) else pred[:, want].copy()


def gene_differences(have: pd.Index, want: pd.Index, *, missing_from: str) -> str:
    """``"2 missing from <missing_from> (A, B), 1 extra (C)"``: how ``have`` differs from ``want`` ("" if not)."""
    missing, extra = want.difference(have), have.difference(want)
    return ", ".join(
        f"{len(names)} {what} ({', '.join(map(str, names[:5]))})"
        for names, what in ((missing, f"missing from {missing_from}"), (extra, "extra"))
        if len(names)
    )


def load_predictions(
    path: str | Path | ad.AnnData,
    *,
    real: ad.AnnData,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
) -> tuple[ad.AnnData, Space]:
    """Read and validate predictions against ``real``: same genes (reordered if needed), control cells,
    a label on every cell and only perturbations present in the real data.

    Raises
    ------
    ValueError
        As :func:`load_dataset`, the message starting with ``predictions``.
    """
    try:
        return _load_predictions(path, real=real, pert_col=pert_col, control=control)
    except ValueError as err:
        text = str(err)
        if text.startswith("predictions"):
            raise
        raise ValueError(f"predictions: {text}") from err


def _load_predictions(path, *, real: ad.AnnData, pert_col: str, control: str) -> tuple[ad.AnnData, Space]:
    pred = read_h5ad(path) if is_path(path) else path
    validate_dataset(pred, pert_col=pert_col, control=control)
    pred = align_genes(pred, real.var_names)
    unlabelled = int(pred.obs[pert_col].isna().sum())
    if unlabelled:
        msg = f"predictions have {unlabelled} cell(s) without a label in obs[{pert_col!r}]; label every cell"
        raise ValueError(msg)
    unknown = set(pred.obs[pert_col].astype(str)) - set(real.obs[pert_col].astype(str))
    if unknown:
        msg = (
            f"predictions contain perturbations absent from the data: {', '.join(sorted(unknown)[:10])}; "
            "predict only perturbations of the data"
        )
        raise ValueError(msg)
    pred.obs[pert_col] = pred.obs[pert_col].astype(str)
    check_groups(pred.obs[pert_col], pert_col=pert_col, control=control)
    return _checked(pred)


def is_path(source) -> bool:
    """Whether ``source`` names a file (a ``str`` or path) rather than holding cells (an AnnData or
    :class:`~vcc_core.data.cells.Cells`)."""
    return isinstance(source, str | os.PathLike)


def has_nonfinite(x) -> bool:
    """True when any value of ``x`` (streamed) is NaN or infinite."""
    for _, block in iter_row_chunks(x):
        values = block.data if sparse.issparse(block) else block
        if not np.all(np.isfinite(values)):
            return True
    return False
