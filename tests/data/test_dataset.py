"""Datasets opened from memory: a cached dataset never stands in for the same cells declared otherwise."""

import pytest

from vcc_core.data.dataset import open_dataset
from vcc_core.keys import UNS_SPACE


def test_a_cached_dataset_does_not_skip_the_check_of_a_declared_space(tiny_copy):
    for _ in range(2):  # the first open normalises the labels in place; the second stores the dataset under them
        assert open_dataset(tiny_copy).space == "counts"
    declared = tiny_copy.copy()
    declared.uns[UNS_SPACE] = "raw"
    with pytest.raises(ValueError, match=r"uns\['vcc_space'\] is 'raw'; set it to 'counts' or 'log1p'"):
        open_dataset(declared)
