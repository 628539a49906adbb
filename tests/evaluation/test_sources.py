"""Prediction sources: a file of predicted cells equals ``evaluate`` on it, a table equals the model it came from."""

import numpy as np
import pytest

from vcc_core.data.dataset import open_dataset
from vcc_core.data.predictions import table_from_profiles
from vcc_core.evaluation.evaluate import evaluate
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.sides import inputs_of, real_side
from vcc_core.evaluation.sources import (
    PredictionSource,
    evaluated_perturbations,
    source_inputs,
    sweep_profiles,
)
from vcc_core.evaluation.submission import to_submission
from vcc_core.keys import REFERENCES
from vcc_core.models.training import train_predict


@pytest.fixture(scope="module")
def dataset(tiny):
    return open_dataset(tiny)


@pytest.fixture(scope="module")
def ridge(dataset):
    return train_predict(dataset, "ridge")


@pytest.fixture(scope="module")
def files(dataset, ridge, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    to_submission(ridge, dataset).write_h5ad(folder / "cells.h5ad")
    table_from_profiles(ridge, folder / "table.csv")
    two = ridge.subset(ridge.perts[:2])
    to_submission(two, dataset, space="counts").write_h5ad(folder / "two.h5ad")
    return folder


@pytest.mark.parametrize("conventions", REFERENCES)
def test_a_file_of_cells_scores_as_evaluate_does(dataset, files, conventions):
    source = PredictionSource.file(files / "two.h5ad")
    assert source.kind == "cells"
    perts = evaluated_perturbations(dataset, source)
    assert len(perts) == 2
    ours = per_perturbation(source_inputs(dataset, source, conventions=conventions), profile="bulk")
    labels = dataset.adata.obs[dataset.pert_col].astype(str)
    real = dataset.adata[labels.isin([*perts, dataset.control]).to_numpy()].copy()  # what evaluate() is given
    want, _ = evaluate(real, files / "two.h5ad", profile="bulk", reference=conventions)
    np.testing.assert_array_equal(ours.loc[want.index, want.columns].to_numpy(), want.astype("float64").to_numpy())


def test_a_table_scores_as_the_model_it_holds(dataset, files):
    model = per_perturbation(source_inputs(dataset, PredictionSource.model("ridge")))
    table = per_perturbation(source_inputs(dataset, PredictionSource.file(files / "table.csv")))
    np.testing.assert_array_equal(table.loc[model.index].to_numpy(), model.to_numpy())


def test_the_sweep_of_a_table_uses_its_own_control(dataset, files, ridge):
    real, pred = sweep_profiles(dataset, PredictionSource.file(files / "table.csv"))
    np.testing.assert_array_equal(pred.control, ridge.control)
    np.testing.assert_array_equal(pred.delta, ridge.delta)
    assert list(real.perts) == sorted(map(str, ridge.perts))


def test_perturbations_the_data_lacks_are_listed(dataset, files, ridge, tmp_path):
    renamed = ridge.subset(ridge.perts[:1])
    renamed = type(renamed)(renamed.means, renamed.control, np.array(["NOT_A_GENE"], dtype=object), renamed.genes,
                            renamed.n_cells)  # fmt: skip
    table_from_profiles(renamed, tmp_path / "odd.csv")
    with pytest.raises(ValueError, match=r"odd.csv predicts 1 perturbation\(s\) the data lacks: NOT_A_GENE"):
        evaluated_perturbations(dataset, PredictionSource.file(tmp_path / "odd.csv"))


def test_sides_carry_their_conventions_and_are_not_mixed(dataset):
    current, legacy = (real_side(dataset, conventions=c) for c in REFERENCES)
    assert (current.conventions, legacy.conventions) == REFERENCES
    assert inputs_of(legacy, legacy).conventions == legacy.conventions  # what the AUCs read
    mixed = r"the real side's DE follows cell-eval-0\.8\.2, the predicted side's cell-eval-0\.6\.6"
    with pytest.raises(ValueError, match=mixed):
        inputs_of(current, legacy)
