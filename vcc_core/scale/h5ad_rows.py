"""``.h5ad`` files read by ranges of rows: what a client knows of a file, and what each task reads.

The client opens a file backed, checks it with the loader's own functions (:mod:`vcc_core.data.io`, so the messages
are the same as in memory) and keeps only labels, genes and the value space (:class:`Source`); a task opens the
file itself and reads one range of rows of ``X`` (:func:`vcc_core.data.row_reader.read_rows`), so the matrix never
passes through the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd

from vcc_core.data.io import align_genes, load_dataset, load_predictions, read_h5ad, validate_dataset
from vcc_core.data.normalize import Space
from vcc_core.data.pseudobulk import Profiles, group_codes
from vcc_core.de.wilcoxon import DEResult, benjamini_hochberg, fold_changes, mwu_pvalues
from vcc_core.evaluation.evaluate import check_same_perturbations
from vcc_core.keys import CONTROL, PERT_COL


@dataclass(frozen=True)
class Source:
    """What the client knows of one file; the matrix stays on disk.

    ``columns`` maps output genes to file columns (None: same order); ``codes``/``groups`` are the pseudobulk
    groups (control first, -1: cell left out), ``de_codes``/``de_perts`` those of the DE (empty labels left out).
    """

    path: str
    genes: np.ndarray
    columns: np.ndarray | None
    codes: np.ndarray
    groups: np.ndarray
    de_codes: np.ndarray
    de_perts: np.ndarray
    space: Space
    is_sparse: bool
    dtype: np.dtype


def open_source(
    path: str | Path, *, pert_col: str = PERT_COL, control: str = CONTROL, space: Space | None = None
) -> Source:
    """A data file checked as :func:`vcc_core.data.io.load_dataset` checks it (``obs``, ``var``, a sample of ``X``).

    ``space`` None takes the detected one. Cells without a label are left out, as ``evaluate`` does.

    Raises
    ------
    ValueError
        With the messages of :func:`vcc_core.data.io.load_dataset`.
    """
    adata, detected = load_dataset(path, pert_col=pert_col, control=control, drop_labels=(), backed=True)
    try:
        return _source(adata, pert_col=pert_col, control=control, space=space or detected)
    finally:
        adata.file.close()


def open_predictions(path: str | Path, *, real: Source, pert_col: str = PERT_COL, control: str = CONTROL) -> Source:
    """A prediction file checked against ``real`` as :func:`vcc_core.data.io.load_predictions` checks it.

    Its genes are taken in the order of ``real`` (the tasks reorder the columns they read).

    Raises
    ------
    ValueError
        With the messages of :func:`vcc_core.data.io.load_predictions` (all starting with ``predictions``).
    """
    adata = read_h5ad(path, backed=True)
    try:
        try:
            validate_dataset(adata, pert_col=pert_col, control=control)
            aligned = align_genes(adata[:0].to_memory(), real.genes).var_names
        except ValueError as err:
            text = str(err)
            raise ValueError(text if text.startswith("predictions") else f"predictions: {text}") from err
        # A backed file cannot be reordered in place, so its other checks run against the real labels with the
        # prediction's own gene order; the genes were compared just above.
        stand_in = labels_only(real.groups, pert_col=pert_col, genes=adata.var_names)
        adata, space = load_predictions(adata, real=stand_in, pert_col=pert_col, control=control)
        return _source(adata, pert_col=pert_col, control=control, space=space, genes=aligned)
    finally:
        adata.file.close()


def open_pair(real, pred, *, pert_col: str = PERT_COL, control: str = CONTROL) -> tuple[Source, Source]:
    """The real file and the prediction checked as :func:`~vcc_core.evaluation.evaluate.evaluate` checks them.

    Raises
    ------
    ValueError
        Messages starting with ``real data:`` or ``predictions``, or naming perturbations missing from the prediction.
    """
    try:
        real_src = open_source(real, pert_col=pert_col, control=control)
    except ValueError as err:
        raise ValueError(f"real data: {err}") from err
    pred_src = open_predictions(pred, real=real_src, pert_col=pert_col, control=control)
    real_labels, pred_labels = (labels_only(s.groups, pert_col=pert_col) for s in (real_src, pred_src))
    check_same_perturbations(real_labels, pred_labels, pert_col=pert_col)
    return real_src, pred_src


def value_dtype(source: Source) -> np.dtype:
    """The float type the in-memory path keeps a side's means in (``evaluate.value_dtype`` of the normalised data)."""
    return source.dtype if source.dtype.kind == "f" and source.dtype.itemsize >= 4 else np.dtype(np.float32)


def labels_only(labels, *, pert_col: str, genes=()) -> ad.AnnData:
    """An AnnData without values: one cell per label, and ``genes``."""
    obs = pd.DataFrame({pert_col: np.asarray(labels, dtype=object)}, index=[str(i) for i in range(len(labels))])
    return ad.AnnData(obs=obs, var=pd.DataFrame(index=pd.Index(genes, dtype=object)))


def _source(adata: ad.AnnData, *, pert_col: str, control: str, space: Space, genes=None) -> Source:
    """The :class:`Source` of a checked, backed AnnData; ``genes``: output order (default: the file's)."""
    columns, names = None, np.asarray(adata.var_names, dtype=object)
    if genes is not None:
        columns, names = adata.var_names.get_indexer(genes), np.asarray(genes, dtype=object)
        columns = None if np.array_equal(columns, np.arange(adata.n_vars)) else columns
    labels = adata.obs[pert_col]
    codes, groups = group_codes(labels.astype(str).where(labels.notna()), control=control)
    de_groups = np.flatnonzero(groups != "")
    remap = np.full(groups.size + 1, -1, dtype=np.int64)  # last slot: code -1 stays -1
    remap[de_groups] = np.arange(de_groups.size)
    stored = np.dtype(adata.X.dtype)
    stored = np.dtype(np.float32) if stored == np.float16 else stored  # as the loader converts it
    dtype = np.dtype(np.float32) if space == "counts" and stored.kind in "iub" else stored
    is_sparse = not isinstance(adata.X, h5py.Dataset)
    fields = (names, columns, codes, groups, remap[codes], groups[de_groups][1:], space, is_sparse, dtype)
    return Source(str(Path(adata.filename).resolve()), *fields)


def assemble(source: Source, sums: np.ndarray, stat=None, tie=None):
    """Profiles, and the DE when ``stat``/``tie`` are given, of a source from its float64 group sums.

    DE means are the float64 means rounded to the data's float type (the in-memory path accumulates them in
    that type, so ``target_mean``, ``ref_mean`` and ``log2_fold_change`` may differ in the last bits).
    """
    n_cells = np.bincount(source.codes[source.codes >= 0], minlength=source.groups.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n_cells[:, None]
    profiles = Profiles(means[1:], means[0], source.groups[1:], source.genes, n_cells[1:])
    if stat is None:
        return profiles, None
    sizes = np.bincount(source.de_codes[source.de_codes >= 0], minlength=source.de_perts.size + 1)
    rows = np.r_[0, 1 + np.flatnonzero(source.groups[1:] != "")]
    dtype = source.dtype if source.dtype.kind == "f" else np.dtype(np.float64)
    with np.errstate(over="ignore"):  # means past the float type's range become inf, as in vcc_core.de.wilcoxon
        expm1 = np.expm1(means[rows].astype(dtype).astype(np.float64)).astype(dtype)
    pvalue = mwu_pvalues(stat, tie, n1=sizes[1:], n2=int(sizes[0]))
    log2fc, change = fold_changes(expm1[1:], expm1[0])
    fields = (stat, pvalue, benjamini_hochberg(pvalue), log2fc, change, expm1[1:], expm1[0], sizes[1:], int(sizes[0]))
    return profiles, DEResult(source.de_perts, source.genes, *fields)
