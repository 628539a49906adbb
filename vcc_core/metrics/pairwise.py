"""Errors and correlation between each perturbation's predicted and real profile, gene by gene.

All functions take ``(P, G)`` arrays (row ``p`` of ``pred`` is compared with row ``p`` of ``real``) and return
``(P,)`` float64. cell-eval 0.8.2 (``metrics/_anndata.py``: ``mae``, ``mse``, ``mae_delta``, ``mse_delta``,
``pearson_delta``) computes the same per perturbation with scikit-learn and scipy on its float32 pseudobulks; here
the arithmetic is float64 on the same values, so the two agree to float32 rounding (about 1e-7 relative).
"""

from __future__ import annotations

import numpy as np


def _pair(pred: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, real = np.asarray(pred, dtype=np.float64), np.asarray(real, dtype=np.float64)
    if pred.shape != real.shape or pred.ndim != 2:
        msg = f"pred and real must be (P, G) arrays of one shape; got {pred.shape} and {real.shape}"
        raise ValueError(msg)
    return pred, real


def mean_absolute_error(pred: np.ndarray, real: np.ndarray) -> np.ndarray:
    """``mean_g |pred[p, g] - real[p, g]|`` for every row ``p``.

    Registered as ``mae`` on pseudobulk means and ``mae_delta`` on deltas from control (each side's own control).
    """
    pred, real = _pair(pred, real)
    return np.abs(pred - real).mean(axis=1)


def mean_squared_error(pred: np.ndarray, real: np.ndarray) -> np.ndarray:
    """``mean_g (pred[p, g] - real[p, g])^2`` for every row ``p`` (``mse``, ``mse_delta``)."""
    pred, real = _pair(pred, real)
    return np.square(pred - real).mean(axis=1)


def pearson(pred: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair over genes, as ``scipy.stats.pearsonr`` (``pearson_delta`` on deltas).

    ``r = sum (x - x̄)(y - ȳ) / (||x - x̄|| ||y - ȳ||)``, clipped to [-1, 1]; NaN when either row is constant.
    """
    pred, real = _pair(pred, real)
    x = pred - pred.mean(axis=1, keepdims=True)
    y = real - real.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.einsum("pg,pg->p", x, y) / norm
    return np.where(norm > 0, np.clip(r, -1.0, 1.0), np.nan)
