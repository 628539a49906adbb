"""Per-perturbation mean profiles in the metric space, and their deltas from control.

A :class:`Profiles` record is what the metrics, models and plots pass around: ``means`` (P x G) in
normalised log1p space, the control mean (G), names and cell counts. It is built by streaming the
matrix in row chunks (group sums by a compiled loop over the stored values), so a backed h5ad is never loaded
whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.compiled import parallel_kernel, threads
from vcc_core.data.normalize import DEFAULT_CHUNK_ROWS, iter_row_chunks, median_target, normalize_block
from vcc_core.keys import CONTROL, PERT_COL

if TYPE_CHECKING:
    import anndata as ad


@dataclass(frozen=True)
class Profiles:
    """Pseudobulk profiles of one dataset (or one model's predictions).

    Attributes
    ----------
    means
        ``(P, G)`` mean log1p-normalised expression of each non-control perturbation.
    control
        ``(G,)`` mean of the control cells.
    perts, genes
        Row and column names.
    n_cells
        ``(P,)`` number of cells behind each row (0 for a model's pseudobulk prediction).
    """

    means: np.ndarray
    control: np.ndarray
    perts: np.ndarray
    genes: np.ndarray
    n_cells: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        """``(P, G)`` perturbation mean minus control mean."""
        return self.means - self.control[None, :]

    def index(self, pert: str) -> int:
        """Row of ``pert``; raises a ``KeyError`` naming it when absent."""
        hits = np.flatnonzero(self.perts == pert)
        if hits.size == 0:
            msg = f"perturbation {pert!r} is not in these profiles"
            raise KeyError(msg)
        return int(hits[0])

    def subset(self, perts) -> Profiles:
        """Rows for ``perts``, in that order."""
        rows = [self.index(p) for p in perts]
        return Profiles(self.means[rows], self.control, self.perts[rows], self.genes, self.n_cells[rows])

    def delta_frame(self) -> pd.DataFrame:
        """Deltas as a perturbations x genes DataFrame."""
        return pd.DataFrame(self.delta, index=self.perts, columns=self.genes)


def group_codes(labels, *, control: str = CONTROL) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per cell and the group names; control is code 0, perturbations 1.. in sorted order.

    Cells with a missing label get code -1 and are ignored.
    """
    labels = pd.Series(np.asarray(labels, dtype=object))
    names = np.array(sorted({str(v) for v in labels.dropna()} - {control}), dtype=object)
    groups = np.concatenate([[control], names]).astype(object)
    codes = pd.Categorical(labels.astype("string"), categories=groups).codes.astype(np.int64)
    return codes, groups


def group_sums(x, codes: np.ndarray, n_groups: int, *, transform=None, chunk_rows: int = DEFAULT_CHUNK_ROWS):
    """``(n_groups, G)`` float64 sums of the rows of ``x`` per code, streamed; ``transform`` maps each block."""
    sums = np.zeros((n_groups, x.shape[1]), dtype=np.float64)
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    for rows, block in iter_row_chunks(x, chunk_rows=chunk_rows):
        block = transform(block) if transform is not None else block
        c = codes[rows]
        if sparse.issparse(block):
            add_sparse_rows(block, c, sums)
            continue
        keep = np.flatnonzero(c >= 0)
        indicator = sparse.csr_matrix((np.ones(keep.size), (c[keep], keep)), shape=(n_groups, block.shape[0]))
        sums += indicator @ np.asarray(block, np.float64)
    return sums


def add_sparse_rows(
    block: sparse.csr_matrix,
    codes: np.ndarray,
    sums: np.ndarray,
    *,
    divisors: np.ndarray | None = None,
    genes: tuple[int, int] | None = None,
) -> None:
    """``sums[code] += row`` for every CSR row with a code >= 0, in row order, in place (float64 ``sums``);
    with ``divisors``, ``row / divisors[r]`` (float64 division); with ``genes = (g0, g1)``, only the entries of
    those genes, found by bisection (each row must list its genes in increasing order).

    Each element is one sequential sum in row order, so it does not depend on how the rows are chunked or split
    among threads: a group whose rows repeat another's in the same order gets exactly the same sums.

    The threads split the groups (consecutive codes holding about equal numbers of entries) when that shares the
    entries evenly, else the genes (each thread then reads every row: a chunk of rows sorted by group may hold
    only one or two groups).
    """
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    n_parts = threads()
    kept = codes >= 0
    weight = np.bincount(codes[kept], weights=np.diff(block.indptr)[kept], minlength=sums.shape[0])
    total = weight.sum()
    before = np.cumsum(weight) - weight  # entries of the codes below each one
    owner = np.minimum(before * n_parts // max(total, 1), n_parts - 1).astype(np.int64)
    load = np.bincount(owner, weights=weight, minlength=n_parts)
    by_group = n_parts > 1 and load.max() <= 1.25 * load.mean()
    scaled = divisors is not None
    divisors = np.ascontiguousarray(divisors if scaled else np.ones(1), dtype=np.float64)
    window = (genes is not None, *(genes or (0, sums.shape[1])))
    args = (block.indptr, block.indices, block.data, codes, sums, owner, n_parts, by_group, divisors, scaled)
    _add_sparse_rows(*args, *window)


@parallel_kernel
def _add_sparse_rows(indptr, indices, data, codes, sums, owner, n_parts, by_group, divisors, scaled, bisect, w0, w1):
    """``sums[code, gene] += value`` over CSR rows in order (a sequential float64 sum, however the rows are
    chunked), for the genes ``w0:w1`` (each row's found by bisection when ``bisect``). Thread ``part`` adds the rows
    of the groups with ``owner[code] == part`` (``by_group``), or every row's genes of its own part of the window:
    no two threads write to one element of ``sums``."""
    span = w1 - w0
    for part in numba.prange(n_parts):
        g0, g1 = (w0, w1) if by_group else (w0 + span * part // n_parts, w0 + span * (part + 1) // n_parts)
        for r in range(indptr.size - 1):
            code = codes[r]
            if code < 0 or (by_group and owner[code] != part):
                continue
            divisor = divisors[r] if scaled else 1.0
            lo, hi = indptr[r], indptr[r + 1]
            if bisect:
                lo, hi = lo + np.searchsorted(indices[lo:hi], g0), lo + np.searchsorted(indices[lo:hi], g1)
            for e in range(lo, hi):
                gene = indices[e]
                if g0 <= gene < g1:
                    sums[code, gene] += data[e] / divisor


def pseudobulk(
    adata: ad.AnnData,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    space: str = "log1p",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Profiles:
    """Mean log1p-normalised profile per perturbation, streaming ``adata.X`` in row chunks.

    Parameters
    ----------
    adata
        Cells x genes, in memory or backed (``anndata.read_h5ad(path, backed="r")``).
    pert_col, control
        Perturbation column of ``obs`` and the control label in it.
    space
        ``"counts"``: ``X`` holds counts and is normalised on the fly (target = the file's median total);
        ``"log1p"``: ``X`` is already normalised log1p.

    Raises
    ------
    ValueError
        If the control label has no cells.
    """
    codes, groups = group_codes(adata.obs[pert_col], control=control)
    n_cells = np.bincount(codes[codes >= 0], minlength=groups.size)
    if n_cells[0] == 0:
        msg = f"no control cells: label {control!r} not found in obs[{pert_col!r}]"
        raise ValueError(msg)
    transform = None
    if space == "counts":
        target = median_target(adata.X)
        transform = lambda b: normalize_block(b, target_sum=target)  # noqa: E731
    sums = group_sums(adata.X, codes, groups.size, transform=transform, chunk_rows=chunk_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n_cells[:, None]
    genes = np.asarray(adata.var_names, dtype=object)
    return Profiles(means[1:], means[0], groups[1:], genes, n_cells[1:])
