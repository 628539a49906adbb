"""Predictions expanded to a submission keep the layout and carry the predicted deltas."""

import numpy as np
import pytest

from vcc_core.data.dataset import open_dataset
from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.evaluation.submission import to_submission
from vcc_core.models.training import train_predict


@pytest.fixture(scope="module")
def dataset():
    return open_dataset("tiny")


def test_submission_pseudobulk_recovers_the_prediction(dataset):
    pred = train_predict(dataset, "oracle_replicate")
    sub = to_submission(pred, dataset, cells_per_pert=400, n_control=400)
    again = pseudobulk(sub, space="log1p")
    assert list(again.perts) == sorted(pred.perts)
    # clipping at zero and control resampling blur it a little; the direction and size survive
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(again.subset(pred.perts).delta, pred.delta, strict=True)]
    assert min(corr) > 0.8


def test_counts_submission_is_integer(dataset):
    pred = train_predict(dataset, "mean_baseline")
    sub = to_submission(pred, dataset, cells_per_pert=5, n_control=10, space="counts")
    assert np.array_equal(sub.X.data, np.round(sub.X.data))
    with pytest.raises(ValueError, match="space must be 'log1p' or 'counts', got 'raw'"):
        to_submission(pred, dataset, space="raw")


def test_training_is_cached(dataset):
    from vcc_core.cache import default_cache

    before = default_cache().stats.hits
    train_predict(dataset, "ridge")
    train_predict(dataset, "ridge")
    assert default_cache().stats.hits >= before + 1
