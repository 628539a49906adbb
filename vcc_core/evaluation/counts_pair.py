"""The input contract of the VCC 2026 evaluation (cell-eval2 0.20.0 ``io.py::validate_pair``, ``norm.py``).

Both files hold raw integer counts, at most 1e6 per cell, with the same genes in the same order and the same set
of perturbation labels, control included (a prediction carries control cells, even though only the real ones are
used). At least one perturbation must name a measured gene (its target), so that the own-gene exclusions apply.
Every failure is a ``ValueError`` with one line naming the side, the rule and the first offenders.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numba
import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.compiled import parallel_kernel
from vcc_core.data.io import read_h5ad
from vcc_core.data.normalize import as_csr, iter_row_chunks
from vcc_core.data.row_reader import read_rows
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.metrics.registry import target_columns

MAX_CELL_TOTAL = 1e6
INTEGER_TOLERANCE = 1e-6


def read_counts_pair(
    real: ad.AnnData | str | Path,
    pred: ad.AnnData | str | Path,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    fractional_pred: bool = False,
) -> tuple[ad.AnnData, ad.AnnData]:
    """Open (paths: :func:`read_counts_file`) and check both sides; returns them unchanged."""
    real = read_counts_file(real) if not isinstance(real, ad.AnnData) else real
    pred = read_counts_file(pred) if not isinstance(pred, ad.AnnData) else pred
    check_counts_pair(real, pred, pert_col=pert_col, control=control, fractional_pred=fractional_pred)
    return real, pred


def read_counts_file(path: str | Path) -> ad.AnnData:
    """``X``, ``obs`` and ``var`` of an ``.h5ad`` file: its labels and genes through anndata (with
    :func:`~vcc_core.data.io.read_h5ad`'s messages for a missing or broken file), its matrix straight from its place
    in the file (:func:`~vcc_core.data.row_reader.read_rows`: over twice as fast as anndata's reader)."""
    layout = read_layout(path)
    layout.X = read_rows(str(path), slice(0, layout.n_obs), None)
    return layout


def read_layout(path: str | Path) -> ad.AnnData:
    """``obs`` and ``var`` of an ``.h5ad`` file, without ``X`` (messages of :func:`~vcc_core.data.io.read_h5ad`)."""
    backed = read_h5ad(path, backed=True)
    try:
        obs, var = backed.obs.copy(), backed.var.copy()
    finally:
        backed.file.close()
    if not obs.index.is_unique:
        obs.index = pd.RangeIndex(len(obs)).astype(str)  # cell names play no part
    return ad.AnnData(obs=obs, var=var)


def check_counts_pair(
    real: ad.AnnData,
    pred: ad.AnnData,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    fractional_pred: bool = False,
) -> None:
    """Raise ``ValueError`` unless ``real`` and ``pred`` meet the contract of the module docstring.

    ``fractional_pred``: the prediction may hold fractional counts (the generic baseline's scaled cells).
    """
    check_pair_layout(real, pred, pert_col=pert_col, control=control)
    for side, adata in (("real data", real), ("predictions", pred)):
        check_counts(adata.X, side=side, fractional=fractional_pred and side == "predictions")


def check_pair_layout(real: ad.AnnData, pred: ad.AnnData, *, pert_col: str = PERT_COL, control: str = CONTROL) -> None:
    """The contract's rules on labels and genes (``X`` is not read): raise ``ValueError`` on the first broken."""
    for side, adata in (("real data", real), ("predictions", pred)):
        if pert_col not in adata.obs.columns:
            msg = f"{side}: obs has no column {pert_col!r}; columns: {', '.join(map(str, adata.obs.columns))}"
            raise ValueError(msg)
    _check_genes(real, pred)
    real_labels = set(real.obs[pert_col].astype(str))
    pred_labels = set(pred.obs[pert_col].astype(str))
    for side, labels in (("real data", real_labels), ("predictions", pred_labels)):
        if control not in labels:
            msg = f"{side}: no cell is labelled {control!r} (the control); the VCC 2026 metrics need control cells"
            raise ValueError(msg)
    for side, extra in (("real data", real_labels - pred_labels), ("predictions", pred_labels - real_labels)):
        if extra:
            names = ", ".join(sorted(extra)[:10])
            msg = f"{side}: {len(extra)} label(s) found only on this side: {names}; both sides need the same labels"
            raise ValueError(msg)
    perts = sorted(real_labels - {control})
    if not perts or (target_columns(perts, real.var_names) < 0).all():
        msg = (
            f"no perturbation label names a gene of the panel (labels: {', '.join(perts[:5])}); the VCC 2026 "
            "metrics leave each perturbation's target gene out, so labels must be gene names"
        )
        raise ValueError(msg)


def check_counts(x, *, side: str, fractional: bool = False) -> None:
    """Raw counts: finite, >= 0, integers (within 1e-6) unless ``fractional``, at most 1e6 per cell."""
    whole = sparse.issparse(x) and x.format == "csr"  # in memory: one pass (chunks of it would be copied)
    for rows, block in [(slice(0, x.shape[0]), x)] if whole else iter_row_chunks(x, chunk_rows=50_000):
        check_count_block(as_csr(block), side=side, fractional=fractional, first_row=rows.start)


def check_count_block(csr: sparse.csr_matrix, *, side: str, fractional: bool = False, first_row: int = 0) -> None:
    """:func:`check_counts` of one block of rows, the first being cell ``first_row`` of its side."""
    bad, fraction, lowest, cell, total = _scan(csr.indptr, csr.data)
    if bad:
        msg = f"{side}: X holds NaN or infinite values; expected raw counts"
        raise ValueError(msg)
    if fraction > INTEGER_TOLERANCE and not fractional:
        value = csr.data[np.abs(csr.data - np.round(csr.data)) > INTEGER_TOLERANCE][0]
        msg = (
            f"{side}: X holds fractional values (e.g. {value:.6g}); the VCC 2026 metrics take raw "
            "integer counts, not normalised or log1p values"
        )
        raise ValueError(msg)
    if lowest < 0:
        msg = f"{side}: X holds negative values (min {lowest:.6g}); expected raw counts"
        raise ValueError(msg)
    if total > MAX_CELL_TOTAL:
        msg = f"{side}: cell {first_row + cell} holds {total:,.0f} counts, above the limit of 1,000,000 per cell"
        raise ValueError(msg)


@parallel_kernel
def _scan(indptr, data):
    """One pass over the cells (on every core): any non-finite value, the largest distance to an integer, the
    smallest value, and the cell with the largest total (its index and total)."""
    n = indptr.size - 1
    bad = np.zeros(n, dtype=np.bool_)
    fraction, lowest, totals = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in numba.prange(n):
        for e in range(indptr[i], indptr[i + 1]):
            v = float(data[e])
            if not np.isfinite(v):
                bad[i] = True
                continue
            fraction[i] = max(fraction[i], abs(v - np.round(v)))
            lowest[i] = min(lowest[i], v)
            totals[i] += v
    cell = int(np.argmax(totals)) if n else 0
    return bad.any(), fraction.max() if n else 0.0, lowest.min() if n else 0.0, cell, totals[cell] if n else 0.0


def _check_genes(real: ad.AnnData, pred: ad.AnnData) -> None:
    if not real.var_names.is_unique:
        dup = real.var_names[real.var_names.duplicated()].unique()
        msg = f"real data: {len(dup)} gene name(s) repeated: {', '.join(map(str, dup[:5]))}; gene names must be unique"
        raise ValueError(msg)
    if real.n_vars != pred.n_vars or not (real.var_names == pred.var_names).all():
        msg = (
            f"the predictions' genes ({pred.n_vars:,}) are not the real data's ({real.n_vars:,}) in the same "
            "order; write the predicted cells over the real data's var_names"
        )
        raise ValueError(msg)
