"""AppTest interactions with the Bring-your-own page: typed paths, uploads, refusals, and the pages that follow."""

import shutil
from pathlib import Path

import anndata as ad
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apptest import run_page
from tests.conftest import FIXTURES

SYNTHETIC = FIXTURES / "metrics" / "synthetic"


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """The only allowed data folder: synthetic real and predicted cells, a broken file, predictions short a gene."""
    for name in ("real.h5ad", "pred.h5ad"):
        shutil.copy(SYNTHETIC / name, tmp_path / name)
    (tmp_path / "broken.h5ad").write_text("not an h5ad file")
    pred = ad.read_h5ad(SYNTHETIC / "pred.h5ad")
    pred[:, 1:].copy().write_h5ad(tmp_path / "one_gene_short.h5ad")
    monkeypatch.setenv("VCC_DATA_DIRS", str(tmp_path))
    return tmp_path


def _byo() -> AppTest:
    return run_page("byo.py")


def _submit(at: AppTest, kind: str, path) -> AppTest:
    at.text_input(key=f"{kind}_path").input(str(path))
    return at.button[0 if kind == "dataset" else 1].click().run()


def test_a_path_outside_the_data_folders_is_refused(folder):
    at = _submit(_byo(), "dataset", "/etc/passwd")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Could not use this file: '/etc/passwd' is outside the allowed data folders; choose a file in them or add "
        "its folder to VCC_DATA_DIRS"
    ]
    assert at.sidebar.selectbox(key="dataset_label").value == "Tiny synthetic (12 perturbations)"


def test_a_loaded_dataset_is_selected_everywhere_and_survives_a_bad_file(folder):
    at = _submit(_byo(), "dataset", folder / "real.h5ad")
    assert not at.exception
    assert not at.error
    assert at.success[0].value == "Loaded real.h5ad: 12 perturbations, now selected."
    assert at.sidebar.selectbox(key="dataset_label").value == "real.h5ad"

    at = _submit(at, "dataset", folder / "broken.h5ad")
    assert at.error[0].value.startswith("Could not use this file: broken.h5ad is not an .h5ad (HDF5) file")
    assert at.sidebar.selectbox(key="dataset_label").value == "real.h5ad"

    at.switch_page("app_pages/dataset.py").run()
    assert not at.exception
    assert not at.error
    values = {m.label: m.value for m in at.metric}
    assert values["Cells"] == "780"
    assert values["Perturbations"] == "12"


def test_uploaded_predictions_reach_the_leaderboard(folder):
    at = _submit(_byo(), "dataset", folder / "real.h5ad")
    at.file_uploader(key="predictions_upload").upload("my_model.h5ad", (folder / "pred.h5ad").read_bytes())
    at.button[1].click().run()
    assert not at.exception
    assert not at.error
    assert at.success[0].value.startswith(
        "Loaded my_model.h5ad (predicted cells): 12 perturbations, kept for every session of this server."
    )
    assert (Path(at.session_state["tmpdir"]) / "my_model.h5ad").is_file()  # the upload, then its registered copy
    assert any("`my_model.h5ad` (cells" in m.value for m in at.markdown)

    at.switch_page("app_pages/leaderboard.py").run()
    assert not at.exception
    assert not at.error
    assert [w.value for w in at.warning] == [
        f"{name} cannot be scored on this dataset and is left out: no external screen: kernel_ridge needs a "
        "perturbations x genes table of deltas from another context"
        for name in ("kernel_ridge", "scaled:kernel_ridge")
    ]
    assert any("No VCC 2026 score for **my_model.h5ad** (my_model.h5ad: X holds fractional values" in i.value
               for i in at.info)  # fmt: skip
    scores = at.dataframe[0].value
    assert "my_model.h5ad" in scores.index
    assert scores.loc["my_model.h5ad", "vcc2025"] > 0
    assert scores.loc["my_model.h5ad", "perturbations"] == 12


def test_bad_predictions_and_oversized_uploads_keep_what_was_loaded(folder, monkeypatch):
    at = _submit(_byo(), "dataset", folder / "real.h5ad")
    at = _submit(at, "predictions", folder / "pred.h5ad")
    assert not at.error
    at = _submit(at, "predictions", folder / "one_gene_short.h5ad")
    assert at.error[0].value.startswith("Could not use this file: predictions and data have different genes")
    assert _kept(at) == ["pred.h5ad"]

    monkeypatch.setenv("VCC_MAX_UPLOAD_MB", "0.01")
    at.file_uploader(key="predictions_upload").upload("big.h5ad", (folder / "pred.h5ad").read_bytes())
    at.button[1].click().run()
    assert "over the limit of 0.01 MB" in at.error[0].value
    assert _kept(at) == ["pred.h5ad"]


def _kept(at: AppTest) -> list[str]:
    """The registered predictions the page lists."""
    return [m.value.split("`")[1] for m in at.markdown if "kept for every session" in m.value]


def test_an_uploaded_dataset_joins_the_picker(folder):
    at = _byo()
    at.file_uploader(key="dataset_upload").upload("mine.h5ad", (folder / "real.h5ad").read_bytes())
    at.button[0].click().run()
    assert not at.exception
    assert not at.error
    picker = at.sidebar.selectbox(key="dataset_label")
    assert picker.value == "mine.h5ad (uploaded)"
    assert "Tiny synthetic (12 perturbations)" in picker.options
