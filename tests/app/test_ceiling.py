"""AppTest interactions with the DES noise ceiling page on the tiny preset."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apptest import app_page, chart, values
from vcc_core.analyses.ceiling import ceiling
from vcc_core.data.dataset import open_dataset
from vcc_core.evaluation.evaluate import LEGACY


@pytest.fixture(scope="module")
def dataset():
    return open_dataset("tiny")


@pytest.fixture(scope="module")
def expected(dataset):
    return ceiling(dataset, seeds=3)


@pytest.fixture(scope="module")
def ceiling_page() -> AppTest:
    return app_page("ceiling.py").run()


def test_ceiling_page_shows_the_replicate_values(ceiling_page, expected):
    at = ceiling_page
    assert not at.exception
    assert not at.error
    r = expected.replicate_values()
    shown = {m.label: m.value for m in at.metric}
    assert shown["DES ceiling"] == f"{r['overlap_at_N']:.3f}"
    assert shown["PDS (L1) ceiling"] == f"{r['discrimination_score_l1']:.3f}"
    table = at.dataframe[-1].value["replicate"]
    assert list(table.index[:3]) == ["overlap_at_N", "mae", "discrimination_score_l1"]
    np.testing.assert_allclose(table[r.index].to_numpy(), r.to_numpy())
    floor = chart(at, "floor_chart")["data"][0]
    assert floor["text"][0] == "300 genes"
    assert values(floor["y"])[0] == pytest.approx(r["overlap_at_N"])


def test_ceiling_scatter_follows_the_axis_and_split(ceiling_page, expected):
    at = ceiling_page
    per_pert = expected.per_perturbation()
    scatter = chart(at, "des_scatter")["data"][0]
    np.testing.assert_allclose(values(scatter["x"]), per_pert["n_de_real"].to_numpy())
    np.testing.assert_allclose(values(scatter["y"]), per_pert["overlap_at_N"].to_numpy())

    at.radio(key="ceiling_x").set_value("effect_l2").run()
    assert not at.exception
    spec = chart(at, "des_scatter")
    np.testing.assert_allclose(values(spec["data"][0]["x"]), per_pert["effect_l2"].to_numpy())
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("effect size")

    at.selectbox(key="ceiling_split").set_value("all").run()
    assert not at.exception
    assert values(chart(at, "des_scatter")["data"][0]["y"]).size == 12
    boxes = chart(at, "seed_box")["data"]
    assert [b["name"] for b in boxes] == ["seed 0", "seed 1", "seed 2"]
    assert all(values(b["y"]).size == 12 for b in boxes)


def test_ceiling_follows_the_conventions_given_in_the_url(dataset):
    at = app_page("ceiling.py", conventions=LEGACY).run()
    assert not at.exception
    assert not at.error
    assert at.selectbox(key="conventions_choice").value == LEGACY
    r = ceiling(dataset, seeds=3, conventions=LEGACY).replicate_values()
    assert {m.label: m.value for m in at.metric}["DES ceiling"] == f"{r['overlap_at_N']:.3f}"
    np.testing.assert_allclose(at.dataframe[-1].value["replicate"][r.index].to_numpy(), r.to_numpy())
    assert "cell-eval 0.6.6 + pdex 0.1.27" in at.caption[0].value
