"""Pseudobulk ridge regression from the target gene's control co-expression features to the delta."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

from vcc_core.data.pseudobulk import Profiles
from vcc_core.models.base import TrainingData, as_profiles, target_features, training_deltas


class RidgeModel:
    """delta(p) = mean training delta + W x(p), x(p) = target gene's loadings in a PCA of control cells.

    The ridge penalty is chosen by efficient leave-one-out cross-validation over ``alphas``
    (scikit-learn ``RidgeCV``). Targets absent from the measured genes get x = 0, i.e. the mean baseline.
    """

    def __init__(self, alphas=(0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)):
        self.alphas = alphas

    def fit(self, data: TrainingData, train, val=None) -> RidgeModel:
        self.base_ = data.profiles
        self.features_ = data.gene_features()
        y = training_deltas(data, train)
        self.mean_delta_ = y.mean(axis=0)
        self.ridge_ = RidgeCV(alphas=self.alphas, fit_intercept=False).fit(
            target_features(self.features_, train), y - self.mean_delta_
        )
        self.alpha_ = float(self.ridge_.alpha_)
        return self

    def predict(self, perts) -> Profiles:
        delta = self.mean_delta_ + self.ridge_.predict(target_features(self.features_, perts))
        return as_profiles(np.atleast_2d(delta), perts, self.base_)
