"""Any model with one global output scale on its delta, chosen by cross-validation to maximise L1 PDS.

L1 discrimination rises as predicted deltas are scaled up (towards a sign-projection limit) while MAE
grows; fitting the scale makes that trade-off visible on a fitted model, as some VCC entries did.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold

from vcc_core.data.pseudobulk import Profiles
from vcc_core.metrics.discrimination import discrimination_score
from vcc_core.models.base import TrainingData, as_profiles

SCALES = tuple(np.geomspace(0.25, 64.0, 17))


class ScaledModel:
    """Wraps ``model``: prediction = control + s x model delta, s from ``scales`` by ``folds``-fold CV."""

    def __init__(self, model, scales=SCALES, folds: int = 5, seed: int = 0):
        self.model, self.scales, self.folds, self.seed = model, scales, folds, seed

    def fit(self, data: TrainingData, train, val=None) -> ScaledModel:
        train = np.asarray(train, dtype=object)
        genes = list(data.profiles.genes)
        scores = np.zeros(len(self.scales))
        for fit_idx, held_idx in KFold(min(self.folds, train.size), shuffle=True, random_state=self.seed).split(train):
            held = train[held_idx]
            model = _clone(self.model).fit(data, train[fit_idx], val)
            pred = model.predict(held)
            cols = np.array([genes.index(p) if p in genes else -1 for p in held])
            real = data.profiles.subset(held).delta
            scores += [discrimination_score(real, s * pred.delta, target_cols=cols).mean() for s in self.scales]
        self.cv_scores_ = scores / min(self.folds, train.size)
        self.scale_ = float(self.scales[int(np.argmax(self.cv_scores_))])
        self.model_ = _clone(self.model).fit(data, train, val)
        return self

    def predict(self, perts) -> Profiles:
        pred = self.model_.predict(perts)
        return as_profiles(self.scale_ * pred.delta, pred.perts, pred)


def _clone(model):
    params = {k: v for k, v in vars(model).items() if not k.endswith("_")}
    return type(model)(**params)
