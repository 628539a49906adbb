"""Metrics that look past the pseudobulk: cell-eval 0.8.2's ``pearson_edistance`` and ``clustering_agreement``.

- ``pearson_edistance``: each perturbation's energy distance from its side's control cells,
  ``E = 2 mean|x - y| - mean|x - x'| - mean|y - y'|`` (Euclidean distances between the cells' log1p profiles, each
  mean over every ordered pair, a cell's zero distance to itself included), on the real and on the predicted side;
  the metric is the Pearson correlation of the two over perturbations, one value for the run
  (``metrics/_anndata.py::edistance``). The distances come from ``|x|^2 + |y|^2 - 2 x.y`` in float64, floored at 0
  (what scikit-learn computes for ``pairwise_distances``), in blocks of cells: :func:`energy_distances`.
- ``clustering_agreement``: the perturbations' real centroids (pseudobulk means, float64) are clustered by Leiden
  (scanpy's neighbour graph on the centroids, ``min(15, P - 1)`` neighbours; ``flavor="igraph"``, 2 iterations,
  resolution 1); the predicted centroids at resolutions 0.2-2.0; the metric is the best adjusted mutual information
  between the real clusters and a predicted clustering, at least 0 (``ClusteringAgreement``). It needs scanpy, umap
  and igraph (a few seconds to import), so the dashboard's tables leave it out.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import sparse

BLOCK_CELLS = 2048
FULL_MATRIX = 1 << 27  # 512 MiB of float32 distances
PRED_RESOLUTIONS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0)


def energy_distances(x, codes: np.ndarray, n_groups: int, control: int = 0) -> np.ndarray:
    """``(n_groups,)`` energy distance of each group's cells (rows of ``x`` whose ``codes`` is the group) from the
    cells of group ``control`` (NaN for the control itself and for a group without cells).

    ``x``: cells x features, dense or sparse, any float type (computed in float64).
    """
    codes = np.asarray(codes)
    rows = [np.flatnonzero(codes == g) for g in range(n_groups)]
    rounded = np.float32 if x.dtype == np.float32 else np.float64
    reference = _dense(x, rows[control])
    spread = _mean_distance(reference, reference, same=True, rounded=rounded)
    out = np.full(n_groups, np.nan)
    for g, members in enumerate(rows):
        if g == control or members.size == 0:
            continue
        cells = _dense(x, members)
        between = _mean_distance(cells, reference, same=False, rounded=rounded)
        out[g] = 2 * between - _mean_distance(cells, cells, same=True, rounded=rounded) - spread  # in ``rounded``
    return out


def pearson_edistance(real_edistance: np.ndarray, pred_edistance: np.ndarray) -> float:
    """Pearson correlation over perturbations of the real and predicted energy distances (NaN if either is
    constant)."""
    from scipy.stats import pearsonr  # scipy.stats takes half a second to import: only when this metric is asked for

    if np.ptp(real_edistance) == 0 or np.ptp(pred_edistance) == 0:
        return float("nan")
    return float(pearsonr(real_edistance, pred_edistance).statistic)


def clustering_agreement(
    perts: np.ndarray,
    real_means: np.ndarray,
    pred_means: np.ndarray,
    *,
    real_resolution: float = 1.0,
    pred_resolutions: tuple[float, ...] = PRED_RESOLUTIONS,
    n_neighbors: int = 15,
) -> float:
    """Best adjusted mutual information between the Leiden clusters of the real centroids and those of the
    predicted centroids over ``pred_resolutions`` (module docstring); rows are taken in sorted perturbation order.
    NaN for fewer than 3 perturbations: scanpy builds no neighbour graph of fewer than 2 neighbours (cell-eval
    then logs the error and writes no value)."""
    from sklearn.metrics import adjusted_mutual_info_score

    if len(perts) < 3:
        return float("nan")
    order = np.argsort(np.asarray(perts).astype(str), kind="stable")
    real_labels = _leiden(real_means[order], (real_resolution,), n_neighbors)[0]
    best = 0.0
    for labels in _leiden(pred_means[order], pred_resolutions, n_neighbors):
        best = max(best, float(adjusted_mutual_info_score(real_labels, labels)))
    return best


def _leiden(centroids: np.ndarray, resolutions, n_neighbors: int) -> list[np.ndarray]:
    """Leiden cluster labels of the rows of ``centroids`` at each resolution, on one neighbour graph."""
    import anndata as ad
    import scanpy as sc

    adata = ad.AnnData(X=np.asarray(centroids, dtype=np.float64))
    with warnings.catch_warnings():  # identical centroids (a mean baseline): scanpy edits its graph's sparsity
        warnings.simplefilter("ignore", sparse.SparseEfficiencyWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # and divides by zero distances
        sc.pp.neighbors(adata, n_neighbors=min(n_neighbors, adata.n_obs - 1), use_rep="X")
    labels = []
    for k, resolution in enumerate(resolutions):
        key = f"leiden_{k}"
        sc.tl.leiden(adata, resolution=resolution, key_added=key, flavor="igraph", n_iterations=2)
        labels.append(adata.obs[key].to_numpy())
    return labels


def _dense(x, rows: np.ndarray) -> np.ndarray:
    block = x[rows]
    block = block.toarray() if sparse.issparse(block) else np.asarray(block)
    return block.astype(np.float64, copy=False)


def _mean_distance(a: np.ndarray, b: np.ndarray, *, same: bool, rounded=np.float64):
    """Mean Euclidean distance over all pairs of rows of ``a`` and ``b`` (``same``: ``b`` is ``a``, whose diagonal
    is exactly 0), as a scalar of type ``rounded``.

    As scikit-learn computes it: each squared distance in float64, rounded to ``rounded`` (float32 for float32
    data), floored at 0, its square root taken in that type; the matrix's numpy mean (in that type) when it holds
    at most :data:`FULL_MATRIX` values, else a float64 sum of blocks of :data:`BLOCK_CELLS` rows of ``a`` (more
    exact than the reference's float32 mean, from which it then differs by about 1e-7 relative).
    """
    if a.shape[0] == 0 or b.shape[0] == 0:
        return rounded(np.nan)
    a_sq = np.einsum("ij,ij->i", a, a)
    b_sq = a_sq if same else np.einsum("ij,ij->i", b, b)
    full = np.empty((a.shape[0], b.shape[0]), dtype=rounded) if a.shape[0] * b.shape[0] <= FULL_MATRIX else None
    total = 0.0
    for start in range(0, a.shape[0], BLOCK_CELLS):
        stop = min(start + BLOCK_CELLS, a.shape[0])
        squared = a[start:stop] @ b.T
        squared *= -2.0
        squared += a_sq[start:stop, None]
        squared += b_sq[None, :]
        squared = squared.astype(rounded, copy=False)
        np.maximum(squared, 0.0, out=squared)
        if same:
            squared[np.arange(stop - start), np.arange(start, stop)] = 0.0
        np.sqrt(squared, out=squared)
        if full is not None:
            full[start:stop] = squared
        else:
            total += float(squared.sum(dtype=np.float64))
    return full.mean() if full is not None else rounded(total / (a.shape[0] * b.shape[0]))
