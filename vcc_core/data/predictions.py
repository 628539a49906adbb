"""Prediction files a user brings, read and checked against a dataset: predicted cells (a VCC submission, read by
:func:`vcc_core.data.io.load_predictions`) or a pseudobulk table.

A pseudobulk table holds one row per perturbation and one column per gene of log1p means (cells normalised to a
total, then log1p, averaged), as ``.csv`` / ``.parquet`` (perturbation names in the first column or the index) or
``.h5ad`` (perturbations in ``obs_names``, or in ``obs[pert_col]``). A row named like the control holds the
predicted control mean; without it the real control mean stands in. Every check raises a ``ValueError`` naming the
problem and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.data.io import gene_differences, read_h5ad
from vcc_core.data.pseudobulk import Profiles
from vcc_core.keys import CONTROL, PERT_COL

Kind = Literal["cells", "table"]
TABLE_SUFFIXES = (".csv", ".parquet")
SUFFIXES = (".h5ad", *TABLE_SUFFIXES)
LOG1P_MAX = 25.0
"""Largest log1p mean a table may hold (``log1p`` of 7e10): larger values are counts, not log1p."""


def prediction_kind(path: str | Path, *, pert_col: str = PERT_COL) -> Kind:
    """``"table"`` for ``.csv`` / ``.parquet`` and for an ``.h5ad`` with one row per label (perturbations and an
    optional control row); ``"cells"`` for an ``.h5ad`` of predicted cells. Raises ``ValueError`` for other files."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix != ".h5ad":
        msg = f"{path.name}: a prediction is a .h5ad of predicted cells or a .csv / .parquet / .h5ad pseudobulk table"
        raise ValueError(msg)
    adata = read_h5ad(path, backed=True)
    try:
        if adata.n_obs == 0:
            return "cells"
        labels = adata.obs[pert_col].astype(str) if pert_col in adata.obs.columns else adata.obs_names.to_series()
        # Predicted cells hold at least two cells a group (a Wilcoxon test needs them); a table, one row each.
        return "cells" if labels.duplicated().any() else "table"
    finally:
        adata.file.close()


def read_table(path: str | Path, *, genes, pert_col: str = PERT_COL, control: str = CONTROL) -> tuple[Profiles, bool]:
    """A pseudobulk table as :class:`Profiles` over ``genes`` (reordered), and whether it holds a control row.

    Without a control row, ``control`` of the result is NaN: the caller puts the real control mean there.

    Raises
    ------
    ValueError
        Unreadable file, duplicated perturbations, genes other than ``genes``, NaN, negative values, or values too
        large to be log1p means.
    """
    frame = _frame(Path(path), pert_col=pert_col)
    name = Path(path).name
    labels = frame.index.astype(str)
    if labels.has_duplicates:
        dup = labels[labels.duplicated()].unique()
        msg = f"{name}: {dup.size} perturbation(s) have more than one row ({', '.join(dup[:10])}); keep one row each"
        raise ValueError(msg)
    frame.index = labels
    frame.columns = frame.columns.astype(str)
    frame = _aligned(frame, pd.Index(np.asarray(genes).astype(str)), name=name)
    values = frame.to_numpy(dtype=np.float64)
    _check_values(values, name=name)
    has_control = control in frame.index
    perts = frame.index[frame.index != control]
    control_row = frame.loc[control].to_numpy(np.float64) if has_control else np.full(frame.shape[1], np.nan)
    means = frame.loc[perts].to_numpy(np.float64)
    if means.shape[0] == 0:
        msg = f"{name}: the table has no perturbation rows (only the control {control!r}); add the predicted ones"
        raise ValueError(msg)
    profiles = Profiles(
        means, control_row, np.asarray(perts, dtype=object), frame.columns.to_numpy(object), np.zeros(len(perts), int)
    )
    return profiles, has_control


def _frame(path: Path, *, pert_col: str) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, index_col=0, float_precision="round_trip")
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
            first = frame.columns[0] if len(frame.columns) else None
            if first is not None and not pd.api.types.is_numeric_dtype(frame[first]):
                frame = frame.set_index(first)
        elif suffix == ".h5ad":
            adata = read_h5ad(path)
            x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
            index = adata.obs[pert_col].astype(str) if pert_col in adata.obs.columns else adata.obs_names
            frame = pd.DataFrame(x, index=pd.Index(index), columns=adata.var_names)
        else:
            msg = f"{path.name}: a pseudobulk table is a .csv, .parquet or .h5ad file"
            raise ValueError(msg)
    except (OSError, ValueError, ImportError) as err:
        if isinstance(err, ValueError) and str(err).startswith(path.name):
            raise
        msg = f"{path.name} could not be read as a pseudobulk table: {' '.join(str(err).split())[:200]}"
        raise ValueError(msg) from err
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        msg = (
            f"{path.name}: columns {', '.join(map(str, bad[:5]))} are not numbers; a table holds perturbation names "
            "in its first column and one column of log1p means per gene"
        )
        raise ValueError(msg)
    return frame


def _aligned(frame: pd.DataFrame, genes: pd.Index, *, name: str) -> pd.DataFrame:
    have = frame.columns
    if have.has_duplicates:
        dup = have[have.duplicated()].unique()
        msg = f"{name}: gene columns repeat ({', '.join(dup[:10])}); keep one column per gene"
        raise ValueError(msg)
    if differences := gene_differences(have, genes, missing_from="the table"):
        msg = f"{name}: the table and the data have different genes: {differences}; give one column per gene"
        raise ValueError(msg)
    return frame if have.equals(genes) else frame[genes]


def _check_values(values: np.ndarray, *, name: str) -> None:
    if not np.isfinite(values).all():
        msg = f"{name}: the table contains NaN or infinite values; predict a finite log1p mean for every gene"
        raise ValueError(msg)
    if (values < 0).any():
        msg = f"{name}: the table contains negative values (min {values.min():.3g}); log1p means are >= 0"
        raise ValueError(msg)
    if values.size and values.max() > LOG1P_MAX:
        msg = (
            f"{name}: the table holds values up to {values.max():.3g}, counts rather than log1p means; give "
            "log1p(normalised expression) averaged over the cells"
        )
        raise ValueError(msg)


def table_from_profiles(profiles: Profiles, path: str | Path, *, control: str = CONTROL) -> Path:
    """Write ``profiles`` as a pseudobulk ``.csv`` / ``.parquet`` table (control row first), as :func:`read_table`
    reads it back."""
    path = Path(path)
    rows = np.vstack([profiles.control[None, :], profiles.means])
    index = pd.Index([control, *map(str, profiles.perts)], name="perturbation")
    frame = pd.DataFrame(rows, index=index, columns=pd.Index(profiles.genes.astype(str)))
    if path.suffix.lower() == ".parquet":
        frame.reset_index().to_parquet(path)
    else:
        frame.to_csv(path, float_format="%.17g")  # round-trips every float64
    return path


def as_anndata_table(profiles: Profiles, *, control: str = CONTROL) -> ad.AnnData:
    """``profiles`` as an ``.h5ad`` pseudobulk table: one row per perturbation (control row first)."""
    rows = np.vstack([profiles.control[None, :], profiles.means]).astype(np.float32)
    obs = pd.DataFrame(index=pd.Index([control, *map(str, profiles.perts)]))
    return ad.AnnData(X=rows, obs=obs, var=pd.DataFrame(index=pd.Index(profiles.genes.astype(str))))


def file_genes(path: str | Path) -> pd.Index:
    """The genes of a prediction file, read from its header (an ``.h5ad``'s ``var`` index, a table's columns)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, index_col=0, nrows=0).columns.astype(str)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        return pd.Index([n for n in names[1:] if not n.startswith("__index_level_")]).astype(str)
    adata = read_h5ad(path, backed=True)
    try:
        return pd.Index(adata.var_names).astype(str)
    finally:
        adata.file.close()
