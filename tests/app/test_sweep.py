"""AppTest interactions with the Scaling sweep page on the tiny preset."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apptest import find, run_page, traces, values


@pytest.fixture(scope="module")
def sweep_page() -> AppTest:
    return run_page("sweep.py")


def test_sweep_slider_reads_the_precomputed_curve(sweep_page):
    at = sweep_page
    assert not at.exception
    assert not at.error
    at.selectbox(key="sweep_metric").set_value("mae").run()
    curve = traces(find(at, "sweep_chart"))["ridge"]
    scales, mae = values(curve["x"]), values(curve["y"])
    assert scales.size == 26
    assert mae.argmin() not in (0, scales.size - 1)  # MAE has a finite optimum inside the grid
    at_one = at.dataframe[-1].value.loc["ridge", "MAE"]
    np.testing.assert_allclose(at_one, mae[np.flatnonzero(scales == 1.0)[0]])

    at.select_slider(key="sweep_scale").set_value(100.0).run()
    assert not at.exception
    np.testing.assert_allclose(at.dataframe[-1].value.loc["ridge", "MAE"], mae[-1])


def test_sweep_cosine_pds_is_flat_and_des_renders(sweep_page):
    at = sweep_page
    at.selectbox(key="sweep_metric").set_value("discrimination_score_cosine").run()
    assert not at.exception
    cosine = values(traces(find(at, "sweep_chart"))["ridge"]["y"])
    assert np.all(cosine == cosine[0])

    at.toggle(key="sweep_des").set_value(True).run()
    assert not at.exception
    assert not at.error
    scores = traces(find(at, "score_chart"))
    clipped, unclipped = values(scores["ridge (clipped)"]["y"]), values(scores["ridge (unclipped)"]["y"])
    assert np.all(clipped >= 0)
    assert np.all(clipped >= unclipped - 1e-12)


def test_sweep_draws_the_vcc2026_metrics(sweep_page):
    at = sweep_page
    panels = find(at, "sweep26_chart")["data"]
    pds = next(t for t in panels if t["name"] == "ridge" and t.get("xaxis", "x") == "x")
    assert np.ptp(values(pds["y"])) < 1e-9  # the cosine reads only directions: flat along the scale
    norm = values(next(t for t in panels if t["name"] == "ridge" and t.get("xaxis") == "x2")["y"])
    assert norm[-1] > norm.min()  # the expression error grows once predictions are inflated
    at.toggle(key="sweep_26de").set_value(True).run()
    assert not at.exception
    full = traces(find(at, "sweep26_full_chart"))
    assert "ridge" in full
