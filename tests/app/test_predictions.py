"""A user's predictions on every page: registered once (a submission by path, a table by upload), then picked in
the explorer, the sweep, the ceiling and the leaderboard, and still listed in a new session."""

import numpy as np
import pytest

from tests.app.apptest import app_page, find, run_page, traces, values
from vcc_core.data.dataset import open_dataset
from vcc_core.data.predictions import table_from_profiles
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.sides import model_inputs
from vcc_core.evaluation.submission import to_submission
from vcc_core.models.training import train_predict


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A data folder with ridge's predicted cells (a submission) and ridge's pseudobulk table, and its own cache."""
    folder = tmp_path_factory.mktemp("mine")
    data = open_dataset("tiny")
    ridge = train_predict(data, "ridge")
    to_submission(ridge, data, space="counts").write_h5ad(folder / "ridge_cells.h5ad")
    table_from_profiles(ridge, folder / "ridge_table.csv")
    return folder


@pytest.fixture
def registered(files, tmp_path, monkeypatch):
    """A fresh cache folder with both files registered through the page (one by path, one by upload)."""
    monkeypatch.setenv("VCC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VCC_DATA_DIRS", str(files))
    at = run_page("byo.py")
    at.text_input(key="predictions_path").input(str(files / "ridge_cells.h5ad"))
    at.button[1].click().run()
    assert not at.error, [e.value for e in at.error]
    at.file_uploader(key="predictions_upload").upload("table.csv", (files / "ridge_table.csv").read_bytes())
    at.button[1].click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("Loaded table.csv (pseudobulk table): 4 perturbations")
    return at


def test_both_files_are_kept_for_a_new_session(registered):
    at = run_page("byo.py")  # a new session of the same server: only the disk knows the files
    kept = [m.value.split("`")[1] for m in at.markdown if "kept for every session" in m.value]
    assert kept == ["ridge_cells.h5ad", "table.csv"]


def test_the_explorer_shows_a_registered_file(registered):
    at = run_page("explorer.py", model="table.csv")
    assert not at.exception
    assert not at.error
    assert at.selectbox(key="explorer_model").value == "table.csv"
    want = per_perturbation(model_inputs(open_dataset("tiny"), "ridge"))
    first = at.multiselect(key="explorer_perts").value[0]
    np.testing.assert_array_equal(at.dataframe[0].value.loc[first, "mae"], want.loc[first, "mae"])
    scatter = traces(find(at, f"scatter_{first}"))
    assert sum(values(t["x"]).size for n, t in scatter.items() if n.startswith("DE: ")) == 300


def test_the_sweep_ceiling_and_leaderboard_take_files(registered):
    at = app_page("sweep.py")
    at.run()
    at.multiselect(key="sweep_models").set_value(["ridge", "ridge_cells.h5ad"]).run()
    assert not at.exception
    assert not at.error
    curves = traces(find(at, "sweep_chart"))
    assert {"ridge", "ridge_cells.h5ad"} <= set(curves)

    at = app_page("ceiling.py")
    at.run()
    at.selectbox(key="ceiling_prediction").set_value("ridge_cells.h5ad").run()
    assert not at.exception
    assert not at.error
    points = traces(find(at, "prediction_vs_ceiling"))["ridge_cells.h5ad"]
    assert values(points["y"]).size == 4

    at = run_page("leaderboard.py")
    assert not at.exception
    scores = at.dataframe[0].value
    assert {"ridge_cells.h5ad", "table.csv", "ridge_table.csv"} <= set(scores.index)  # the last: from the data folder
    np.testing.assert_array_equal(scores.loc["table.csv", "vcc2025"], scores.loc["ridge", "vcc2025"])


def test_a_table_gets_the_des_along_the_scale_of_the_model_it_holds(registered):
    at = app_page("sweep.py")
    at.run()
    at.multiselect(key="sweep_models").set_value(["ridge", "table.csv", "ridge_cells.h5ad"]).run()
    at.toggle(key="sweep_des").set_value(True).run()
    assert not at.exception
    assert not at.error
    des = traces(find(at, "des_chart"))
    assert set(des) == {"ridge", "table.csv"}  # predicted cells have no pseudobulk to rescale
    np.testing.assert_array_equal(values(des["table.csv"]["y"]), values(des["ridge"]["y"]))


def test_a_file_is_removed_for_every_session(registered):
    at = run_page("byo.py")
    at.button(key="remove_table.csv").click().run()
    assert not at.exception
    at = run_page("byo.py")
    assert [m.value.split("`")[1] for m in at.markdown if "kept for every session" in m.value] == ["ridge_cells.h5ad"]
