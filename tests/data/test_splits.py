"""Perturbation splits: VCC proportions, seeded, stratified by effect."""

import numpy as np
import pytest

from vcc_core.data.splits import split_perturbations


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
