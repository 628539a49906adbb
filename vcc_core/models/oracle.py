"""The noise ceiling as a model: a random half of the real cells predicts each perturbation."""

from __future__ import annotations

import numpy as np

from vcc_core.data.pseudobulk import Profiles, group_codes, pseudobulk
from vcc_core.models.base import TrainingData


def half_split(labels, *, control: str, seed: int = 0) -> np.ndarray:
    """Per cell ``0`` (first half), ``1`` (second half) or ``-1`` (left out): two disjoint random halves.

    Every group (control included) gives floor(n/2) cells to each half; a group with an odd count leaves one cell
    out, and cells without a label are left out, so both halves hold the same number of cells of every group.
    """
    codes, _ = group_codes(labels, control=control)
    rng = np.random.default_rng(seed)
    half = np.full(codes.size, -1, dtype=np.int8)
    for code in np.unique(codes[codes >= 0]):
        rows = rng.permutation(np.flatnonzero(codes == code))
        k = rows.size // 2
        half[rows[:k]], half[rows[k : 2 * k]] = 0, 1
    return half


def half_mask(labels, *, control: str, seed: int = 0) -> np.ndarray:
    """Boolean mask choosing floor(n/2) random cells of every group (control included): the first half."""
    return half_split(labels, control=control, seed=seed) == 0


class OracleReplicate:
    """Predicts each perturbation with the mean of a random half of its real cells (the other half unused).

    Not a real model (it sees the test cells): it marks how well any model could do given the noise in
    the data. Scored against the full real data it is slightly optimistic, since half the cells are shared.
    """

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, data: TrainingData, train, val=None) -> OracleReplicate:
        ds = data.dataset
        mask = half_mask(ds.adata.obs[ds.pert_col].astype(str).to_numpy(), control=ds.control, seed=self.seed)
        self.half_ = pseudobulk(ds.adata[mask], pert_col=ds.pert_col, control=ds.control, space=ds.space)
        return self

    def predict(self, perts) -> Profiles:
        return self.half_.subset(perts)
