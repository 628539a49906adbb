"""The two reference points: no effect at all, and the VCC mean baseline."""

from __future__ import annotations

import numpy as np

from vcc_core.data.pseudobulk import Profiles
from vcc_core.models.base import TrainingData, as_profiles, training_deltas


class ControlModel:
    """Predicts no effect: every perturbation looks like the control mean (delta 0)."""

    def fit(self, data: TrainingData, train, val=None) -> ControlModel:
        self.base_ = data.profiles
        return self

    def predict(self, perts) -> Profiles:
        return as_profiles(np.zeros((len(perts), self.base_.genes.size)), perts, self.base_)


class MeanBaseline:
    """The VCC baseline: the mean training delta, predicted for every perturbation."""

    def fit(self, data: TrainingData, train, val=None) -> MeanBaseline:
        self.base_ = data.profiles
        self.mean_delta_ = training_deltas(data, train).mean(axis=0)
        return self

    def predict(self, perts) -> Profiles:
        return as_profiles(np.tile(self.mean_delta_, (len(perts), 1)), perts, self.base_)
