"""AppTest smoke tests: the frame and every page render on the built-in data without an error."""

import shutil

import pytest

from tests.app.apptest import ROOT, run_page
from tests.conftest import FIXTURES, PAPALEXI, require

DATA = FIXTURES
PAGES = sorted(p.name for p in (ROOT / "app_pages").glob("*.py") if not p.name.startswith("_"))


def test_app_opens_on_dataset_page():
    at = run_page(data=None)
    assert not at.exception
    assert not at.error
    assert at.title[0].value == "Dataset"
    values = {m.label: m.value for m in at.metric}
    assert values["Perturbations"] == "60"
    assert values["Genes"] == "5,000"  # the default "screen" preset
    assert len(at.get("plotly_chart")) == 4


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page):
    at = run_page(page)
    assert not at.exception
    assert not at.error


def _switch_to(label: str) -> dict[str, str]:
    at = run_page(data=None)
    at.sidebar.selectbox(key="dataset_label").select(label).run()
    assert not at.exception
    assert not at.error
    return {m.label: m.value for m in at.metric}


def test_switching_to_a_real_file_updates_the_numbers(tmp_path, monkeypatch):
    """The Papalexi subset stored with the tests (600 controls, 10 perturbations of 120 cells, raw counts)."""
    shutil.copy(DATA / "metrics" / "papalexi" / "real.h5ad", tmp_path / "papalexi_subset.h5ad")
    monkeypatch.setenv("VCC_DATA_DIRS", str(tmp_path))
    values = _switch_to("papalexi_subset.h5ad")
    assert values["Perturbations"] == "10"
    assert values["Control cells"] == "600"
    assert values["Cells"] == "1,800"


def test_switching_to_the_shared_papalexi_file():
    """The whole shared file: its 4,537 `unassigned` cells are left out of the perturbations."""
    require(PAPALEXI)
    values = _switch_to(PAPALEXI.name)
    assert values["Perturbations"] == "25"
    assert values["Control cells"] == "1,923"
