"""Relatedness transfer: kernel ridge over perturbations, with the kernel taken from an external screen."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, KFold

from vcc_core.data.pseudobulk import Profiles
from vcc_core.models.base import TrainingData, as_profiles, training_deltas


def relatedness_kernel(a: pd.DataFrame, b: pd.DataFrame, *, power: float = 1.0) -> np.ndarray:
    """``K[i, j] = max(corr(a_i, b_j), 0) ** power``: how alike two perturbations were in the other screen."""
    za = _standardise(a.to_numpy())
    zb = _standardise(b.to_numpy())
    return np.clip(za @ zb.T / za.shape[1], 0.0, None) ** power


def _standardise(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)


class KernelRidgeModel:
    """delta(p) = mean training delta + sum_i a_i K(p, train_i); K from correlations in an external screen.

    Perturbations missing from the external screen get a zero kernel row, i.e. the mean baseline. The
    penalty is chosen by 5-fold cross-validation over the training perturbations.
    """

    def __init__(self, alphas=(0.01, 0.1, 1.0, 10.0), power: float = 2.0):
        self.alphas = alphas
        self.power = power

    def fit(self, data: TrainingData, train, val=None) -> KernelRidgeModel:
        self.base_ = data.profiles
        self.external_ = data.external_screen().reindex(data.profiles.genes, axis=1).fillna(0.0)
        self.train_ = np.asarray(train, dtype=object)
        y = training_deltas(data, train)
        self.mean_delta_ = y.mean(axis=0)
        k = self._kernel(self.train_)
        folds = KFold(n_splits=min(5, len(train)), shuffle=True, random_state=0)
        search = GridSearchCV(
            KernelRidge(kernel="precomputed"), {"alpha": list(self.alphas)}, cv=folds, scoring="neg_mean_squared_error"
        )
        self.model_ = search.fit(k, y - self.mean_delta_).best_estimator_
        self.alpha_ = float(self.model_.alpha)
        return self

    def _kernel(self, perts) -> np.ndarray:
        rows = self.external_.reindex(pd.Index(np.asarray(perts).astype(str))).fillna(0.0)
        cols = self.external_.reindex(pd.Index(self.train_.astype(str))).fillna(0.0)
        return relatedness_kernel(rows, cols, power=self.power)

    def predict(self, perts) -> Profiles:
        delta = self.mean_delta_ + self.model_.predict(self._kernel(perts))
        return as_profiles(np.atleast_2d(delta), perts, self.base_)
