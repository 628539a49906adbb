"""One contract for every registered model (scikit-learn style), on the tiny synthetic screen."""

import numpy as np
import pytest

from vcc_core.data.dataset import open_dataset
from vcc_core.models import REGISTRY, TrainingData, make_model

NAMES = [*REGISTRY, "scaled:ridge"]


@pytest.fixture(scope="module")
def data():
    return TrainingData(open_dataset("tiny"), n_components=8)


@pytest.fixture(scope="module")
def split(data):
    s = data.dataset.splits
    return tuple(list(s.index[s == name]) for name in ("train", "val", "test"))


@pytest.mark.parametrize("name", NAMES)
def test_contract(name, data, split):
    train, val, test = split
    model = make_model(name)
    assert not [k for k in vars(model) if k.endswith("_")]  # __init__ stores hyperparameters only
    assert model.fit(data, train, val) is model
    pred = model.predict(test)
    assert pred.means.shape == (len(test), data.profiles.genes.size)
    assert list(pred.perts) == list(test)
    assert list(pred.genes) == list(data.profiles.genes)
    assert np.all(np.isfinite(pred.means))
    # control passes through unchanged (the oracle uses its own half of the control cells)
    if name != "oracle_replicate":
        np.testing.assert_array_equal(pred.control, data.profiles.control)
    again = make_model(name).fit(data, train, val).predict(test)
    np.testing.assert_array_equal(again.means, pred.means)  # seeded repeatability


def test_mean_baseline_is_the_training_mean_delta(data, split):
    train, val, test = split
    pred = make_model("mean_baseline").fit(data, train, val).predict(test)
    expected = data.profiles.subset(train).delta.mean(axis=0)
    np.testing.assert_allclose(pred.delta, np.tile(expected, (len(test), 1)), rtol=1e-12, atol=1e-15)


def test_control_model_predicts_no_effect(data, split):
    train, val, test = split
    pred = make_model("control").fit(data, train, val).predict(test)
    assert np.all(pred.delta == 0)


def test_scaled_model_picks_a_scale_from_its_grid(data, split):
    train, val, _ = split
    model = make_model("scaled:mean_baseline").fit(data, train, val)
    assert model.scale_ in model.scales
    assert model.cv_scores_.shape == (len(model.scales),)


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'gpt'; choose one of control, mean_baseline"):
        make_model("gpt")


def test_kernel_ridge_without_external_screen(data, split):
    ds = data.dataset
    adata = ds.adata.copy()
    del adata.uns["vcc_external"]
    bare = TrainingData(open_dataset(adata), n_components=8)
    with pytest.raises(ValueError, match="no external screen: kernel_ridge needs"):
        make_model("kernel_ridge").fit(bare, split[0])
