"""Perturbation splits: VCC proportions, seeded, stratified by effect."""

import numpy as np
import pytest

from vcc_core.data.dataset import open_dataset, split_perts
from vcc_core.data.splits import split_perturbations
from vcc_core.keys import CONTROL, PERT_COL, SPLIT_COL


def test_vcc_proportions_and_seed():
    perts = [f"p{i}" for i in range(300)]
    split = split_perturbations(perts, seed=3)
    assert split.value_counts().to_dict() == {"train": 150, "test": 100, "val": 50}
    assert split.equals(split_perturbations(perts, seed=3))
    assert not split.equals(split_perturbations(perts, seed=4))


def test_stratified_by_effect():
    perts = np.array([f"p{i}" for i in range(300)])
    effect = np.arange(300.0)
    split = split_perturbations(perts, effect=effect, seed=0)
    for name in ("train", "val", "test"):
        chosen = effect[(split == name).to_numpy()]
        assert abs(np.median(chosen) - 150) < 25  # every split spans weak to strong
        assert chosen.min() < 20
        assert chosen.max() > 280


def test_bad_fractions():
    msg = r"fractions must be three non-negative numbers summing to 1, got \[0.5, 0.5\]"
    with pytest.raises(ValueError, match=msg):
        split_perturbations(["a", "b"], fractions=(0.5, 0.5))


def test_a_split_column_in_obs_is_honoured(tiny_copy):
    labels = tiny_copy.obs[PERT_COL].astype(str)
    perts = sorted(set(labels) - {CONTROL})
    chosen = {p: ("test" if i < 3 else "val" if i < 5 else "train") for i, p in enumerate(perts)}
    tiny_copy.obs[SPLIT_COL] = labels.map(chosen).where(labels != CONTROL, "train").to_numpy()
    data = open_dataset(tiny_copy)
    assert split_perts(data, "test") == perts[:3]
    assert split_perts(data, "val") == perts[3:5]


def test_a_split_column_that_splits_cells_is_refused(tiny_copy):
    tiny_copy.obs[SPLIT_COL] = ["train", "test"] * (tiny_copy.n_obs // 2)
    first = sorted(set(tiny_copy.obs[PERT_COL].astype(str)))[0]
    with pytest.raises(ValueError, match=rf"gives \d+ perturbation\(s\) more than one split \({first}"):
        open_dataset(tiny_copy)
