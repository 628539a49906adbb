"""AppTest smoke tests: the frame and every page render on the built-in data without an error."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p.name for p in (ROOT / "views").glob("*.py") if not p.name.startswith("_"))


def _run(page: str | None = None, *, data: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if data:
        at.query_params["data"] = data
    if page:
        at.switch_page(f"views/{page}")
    return at.run()


def test_app_opens_on_dataset_page():
    at = _run()
    assert not at.exception
    assert not at.error
    assert at.title[0].value == "Dataset"
    values = {m.label: m.value for m in at.metric}
    assert values["Perturbations"] == "60"
    assert values["Genes"] == "2,000"
    assert len(at.get("plotly_chart")) == 4


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page):
    at = _run(page, data="tiny")
    assert not at.exception
    assert not at.error


def test_switching_to_a_real_file_updates_the_numbers():
    at = _run()
    at.sidebar.selectbox(key="dataset_label").select("papalexi2021_sceptredata_lowmoi.h5ad").run()
    assert not at.error
    values = {m.label: m.value for m in at.metric}
    assert values["Perturbations"] == "25"
    assert values["Control cells"] == "1,923"


def test_models_page_ranks_the_oracle_first():
    at = _run("models.py", data="tiny")
    assert not at.exception
    assert not at.error
    board = at.dataframe[0].value
    assert list(board.index) == ["mean_baseline", "ridge", "kernel_ridge", "oracle_replicate"]
    pds = board["discrimination_score_l1"]
    assert pds["oracle_replicate"] == pds.max()
    at.multiselect(key="models").set_value(["control"]).run()
    assert list(at.dataframe[0].value.index) == ["control"]
