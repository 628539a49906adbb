"""Perturbation discrimination score (PDS): can each predicted delta pick out its own real delta?

For perturbation ``p``, the distances from its predicted delta to every real delta are taken over all genes except
``p``'s target (the gene named like ``p``, if any); the true ``p`` has rank ``r`` among them (0 = closest) and
``PDS_p = 1 - r / N`` with ``N`` perturbations. Perfect = 1; a prediction carrying no information about which
perturbation it is scores ``(N + 1) / (2N)`` on average. Reference: cell-eval 0.8.2
``metrics/_anndata.py::discrimination_score`` (``discrimination_score_{l1,l2,cosine}``).

Every distance is computed at once. Where a GPU may be present: the full ``(N, N)`` matrix over all genes in torch
(``torch.cdist`` for L1, matrix products for L2 and cosine), then each column's target gene taken back out by
subtracting its contribution. On a CPU-only machine (:func:`vcc_core.device.gpu_possible`), without importing torch:
L1 by a compiled loop summing ``|r - q|`` gene by gene with the target skipped (scipy's ``cdist`` order), L2 and
cosine by numpy's float64 matrix products.
The rank is the number of real deltas strictly closer, as ``np.argsort`` gives when distances are distinct. On an
exact tie with the truth, cell-eval's position depends on ``np.argsort``'s unstable sort, so those (rare) columns
are ranked with that same call. To match cell-eval on float32 data, L2 and cosine distances are rounded to float32
as scikit-learn returns them there; L1 stays float64 (scipy's ``cdist`` upcasts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from vcc_core.compiled import parallel_kernel
from vcc_core.device import get_device, gpu_possible

if TYPE_CHECKING:
    import torch


def distance_matrix(real: np.ndarray, pred: np.ndarray, *, target_cols: np.ndarray, metric: str) -> np.ndarray:
    """``(N, N)``: ``D[i, p]`` = distance from ``pred[p]`` to ``real[i]`` over genes other than ``target_cols[p]``.

    ``metric`` is ``"l1"``, ``"l2"`` or ``"cosine"`` (``1 - cosine similarity``, a zero vector having similarity
    0, clipped to [0, 2]); ``target_cols[p] = -1`` keeps every gene.
    """
    if metric not in ("l1", "l2", "cosine"):
        msg = f"unknown distance {metric!r}; use 'l1', 'l2' or 'cosine'"
        raise ValueError(msg)
    if gpu_possible():
        out = _torch_distances(real, pred, target_cols, metric)
    else:
        out = _cpu_distances(np.asarray(real, np.float64), np.asarray(pred, np.float64), target_cols, metric)
    if metric != "l1" and np.result_type(real, pred) == np.float32:
        out = out.astype(np.float32)
    return np.sqrt(out) if metric == "l2" else out


def _torch_distances(real, pred, target_cols, metric: str) -> np.ndarray:
    """Squared distance for L2, the distance otherwise, float64, computed in torch on :func:`get_device`."""
    import torch

    r, q, t = _tensors(real, pred, target_cols)
    r_t, q_t = _target_values(r, q, t)
    if metric == "l1":
        dist = torch.cdist(r, q, p=1.0) - (r_t - q_t).abs()
    elif metric in ("l2", "cosine"):
        dot, r2, q2 = _products(r, q, r_t, q_t)
        if metric == "l2":
            dist = (r2 + q2 - 2 * dot).clamp(min=0)
        else:
            norm = (r2.clamp(min=0) * q2.clamp(min=0)).sqrt()
            dist = (1 - torch.where(norm > 0, dot / norm, 0.0)).clamp(0.0, 2.0)
    return dist.cpu().numpy()


def _cpu_distances(r: np.ndarray, q: np.ndarray, target_cols, metric: str) -> np.ndarray:
    """:func:`_torch_distances` on the CPU with numpy and a compiled loop, torch not imported."""
    t = np.asarray(target_cols, np.int64)
    if metric == "l1":
        return _l1_distances(r, q, t)
    has, col = t >= 0, np.clip(t, 0, None)
    r_t, q_t = r[:, col] * has, q[np.arange(q.shape[0]), col] * has
    dot = r @ q.T - r_t * q_t
    r2 = np.einsum("ij,ij->i", r, r)[:, None] - r_t * r_t
    q2 = np.einsum("ij,ij->i", q, q)[None, :] - q_t * q_t
    if metric == "l2":
        return np.clip(r2 + q2 - 2 * dot, 0, None)
    norm = np.sqrt(np.clip(r2, 0, None) * np.clip(q2, 0, None))
    similarity = np.divide(dot, norm, out=np.zeros_like(dot), where=norm > 0)
    return np.clip(1 - similarity, 0.0, 2.0)


@parallel_kernel
def _l1_distances(r, q, t):
    """``D[i, p] = sum over genes g != t[p] of |r[i, g] - q[p, g]|``, summed in gene order."""
    n_real, n_pred, n_genes = r.shape[0], q.shape[0], r.shape[1]
    out = np.empty((n_real, n_pred))
    for i in numba.prange(n_real):
        for p in range(n_pred):
            total = 0.0
            for g in range(n_genes):
                if g != t[p]:
                    total += abs(r[i, g] - q[p, g])
            out[i, p] = total
    return out


def scaled_distances(
    real: np.ndarray, pred: np.ndarray, *, target_cols: np.ndarray, scales: np.ndarray, metric: str, chunk: int
) -> np.ndarray:
    """``(S, N, N)``: ``D[k, i, p]`` = distance from ``scales[k] * pred[p]`` to ``real[i]``, float64, as
    :func:`distance_matrix` computes it (target gene of ``p`` left out), for ``metric`` ``"l1"`` or ``"l2"``.

    ``chunk`` bounds the ``(scales x perturbations x genes)`` entries of the L1 path held at once.
    """
    import torch

    r, q, t = _tensors(real, pred, target_cols)
    s = torch.as_tensor(np.asarray(scales, np.float64), device=r.device)[:, None, None]
    r_t, q_t = _target_values(r, q, t)
    if metric == "l1":
        step = max(1, chunk // q.numel())
        parts = []
        for i in range(0, s.shape[0], step):
            sq = s[i : i + step] * q[None]
            full = torch.cdist(r[None].expand(sq.shape[0], -1, -1), sq, p=1.0)
            parts.append(full - (r_t[None] - s[i : i + step] * q_t[None, None]).abs())
        return torch.cat(parts).cpu().numpy()
    if metric == "l2":
        dot, r2, q2 = _products(r, q, r_t, q_t)
        return (r2[None] + s * s * q2[None] - 2 * s * dot[None]).clamp(min=0).sqrt().cpu().numpy()
    msg = f"unknown scaled distance {metric!r}; use 'l1' or 'l2'"
    raise ValueError(msg)


def _tensors(real, pred, target_cols) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    import torch

    device = get_device()
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    q = torch.as_tensor(np.asarray(pred), dtype=torch.float64, device=device)
    return r, q, torch.as_tensor(np.asarray(target_cols), dtype=torch.int64, device=device)


def _target_values(r: torch.Tensor, q: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, N)`` real value at each column's target gene and ``(N,)`` predicted one, 0 where there is none."""
    import torch

    has, col = t >= 0, t.clamp(min=0)
    return r[:, col] * has, q[torch.arange(q.shape[0], device=q.device), col] * has


def _products(r, q, r_t, q_t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dot products and squared norms over the genes other than each column's target."""
    dot = r @ q.T - r_t * q_t
    r2 = (r * r).sum(1)[:, None] - r_t * r_t
    q2 = (q * q).sum(1)[None, :] - q_t * q_t
    return dot, r2, q2


def truth_ranks(dist: np.ndarray) -> np.ndarray:
    """``(N,)`` 0-based rank of ``dist[p, p]`` within column ``p``, ties placed by ``np.argsort`` as cell-eval does."""
    truth = np.diagonal(dist)[None, :]
    ranks = (dist < truth).sum(axis=0)
    tied = np.flatnonzero((dist == truth).sum(axis=0) > 1)
    for p in tied:  # rare: only columns where another real delta is exactly as close as the truth
        ranks[p] = np.flatnonzero(np.argsort(dist[:, p]) == p)[0]
    return ranks


def discrimination_score(
    real_delta: np.ndarray, pred_delta: np.ndarray, *, target_cols: np.ndarray, metric: str = "l1"
) -> np.ndarray:
    """``(N,)`` PDS ``1 - rank_p / N`` with ``metric`` distances, each perturbation's target gene left out."""
    if real_delta.shape != pred_delta.shape or real_delta.shape[0] != len(target_cols):
        msg = f"real {real_delta.shape} and pred {pred_delta.shape} deltas must match, one target per row"
        raise ValueError(msg)
    dist = distance_matrix(real_delta, pred_delta, target_cols=target_cols, metric=metric)
    return 1.0 - truth_ranks(dist) / real_delta.shape[0]


def sign_cosine_score(real_delta: np.ndarray, pred_delta: np.ndarray, *, target_cols: np.ndarray) -> np.ndarray:
    """PDS with the cosine between sign vectors: only the direction of each gene's change counts (ours)."""
    return discrimination_score(np.sign(real_delta), np.sign(pred_delta), target_cols=target_cols, metric="cosine")


def norm_matched_score(
    real_delta: np.ndarray, pred_delta: np.ndarray, *, target_cols: np.ndarray, metric: str = "l1"
) -> np.ndarray:
    """PDS after rescaling each predicted delta to the L1 norm of its own real delta (target gene excluded) (ours).

    Removes the advantage L1/L2 PDS gives to inflated (or shrunken) predictions; a zero prediction stays zero.
    """
    keep = np.ones(real_delta.shape, dtype=bool)
    rows = np.flatnonzero(target_cols >= 0)
    keep[rows, target_cols[rows]] = False
    real_norm = np.abs(real_delta * keep).sum(axis=1)
    pred_norm = np.abs(pred_delta * keep).sum(axis=1)
    scale = np.divide(real_norm, pred_norm, out=np.zeros_like(real_norm, dtype=np.float64), where=pred_norm > 0)
    return discrimination_score(real_delta, pred_delta * scale[:, None], target_cols=target_cols, metric=metric)


def expressed_score(
    real_delta: np.ndarray,
    pred_delta: np.ndarray,
    real_control: np.ndarray,
    *,
    target_cols: np.ndarray,
    metric: str = "l1",
    min_control_mean: float = 0.1,
) -> np.ndarray:
    """PDS over genes whose real control mean (log1p) exceeds ``min_control_mean`` (ours).

    Lowly expressed genes carry mostly sampling noise; dropping them shows how much of the score they made.
    """
    keep = np.asarray(real_control) > min_control_mean
    new_col = np.cumsum(keep) - 1
    t = np.asarray(target_cols)
    kept_target = (t >= 0) & keep[np.clip(t, 0, None)]
    targets = np.where(kept_target, new_col[np.clip(t, 0, None)], -1)
    return discrimination_score(real_delta[:, keep], pred_delta[:, keep], target_cols=targets, metric=metric)
