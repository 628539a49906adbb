"""AppTest interactions with the Perturbation explorer and Scaling sweep pages on the tiny preset."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def _run(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["data"] = "tiny"
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(f"app_pages/{page}")
    return at.run()


def _charts(at: AppTest) -> dict[str, dict]:
    """Plotly specs of the page's charts by element key (keys are embedded in the element id)."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        key = chart.proto.id.split("-", 2)[-1] if chart.proto.id else str(len(out))
        out[key] = spec
    return out


def _values(array) -> np.ndarray:
    """A trace's x or y: a list, or plotly's typed-array encoding ``{"dtype", "bdata"}``."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array, dtype=np.float64)


def _traces(spec: dict) -> dict[str, dict]:
    return {t.get("name"): t for t in spec["data"]}


def _find(at: AppTest, prefix: str) -> dict:
    hits = [spec for key, spec in _charts(at).items() if prefix in key]
    assert hits, f"no chart with key {prefix!r}; have {list(_charts(at))}"
    return hits[0]


def test_explorer_shows_every_gene_and_follows_the_picked_perturbations():
    at = _run("explorer.py")
    assert not at.exception
    assert not at.error
    picker = at.multiselect(key="explorer_perts")
    first = picker.value[0]
    assert first == picker.options[0]
    scatter = _traces(_find(at, f"scatter_{first}"))
    n_points = sum(_values(t["x"]).size for name, t in scatter.items() if name.startswith("DE: "))
    assert n_points == 300  # tiny preset: every gene drawn once
    assert scatter["target gene"]["text"] == [f"target {first}"]
    assert _values(scatter["target gene"]["x"])[0] < 0  # the simulator knocks its targets down

    picked = picker.options[1:3]
    at.multiselect(key="explorer_perts").set_value(picked).run()
    assert not at.exception
    assert at.query_params["perts"] == ",".join(picked)
    assert list(at.dataframe[0].value.index) == picked
    knock = _traces(_find(at, "knockdown_chart"))
    assert list(knock["real"]["x"]) == picked
    for pert in picked:
        _find(at, f"scatter_{pert}")
        _find(at, f"volcano_{pert}")


def test_explorer_view_is_restored_from_the_url():
    probe = _run("explorer.py")
    options = probe.multiselect(key="explorer_perts").options
    at = _run("explorer.py", model="mean_baseline", perts=f"{options[2]},{options[3]}")
    assert not at.exception
    assert at.selectbox(key="explorer_model").value == "mean_baseline"
    assert at.multiselect(key="explorer_perts").value == [options[2], options[3]]


@pytest.fixture(scope="module")
def sweep_page() -> AppTest:
    return _run("sweep.py")


def test_sweep_slider_reads_the_precomputed_curve(sweep_page):
    at = sweep_page
    assert not at.exception
    assert not at.error
    at.selectbox(key="sweep_metric").set_value("mae").run()
    curve = _traces(_find(at, "sweep_chart"))["ridge"]
    scales, mae = _values(curve["x"]), _values(curve["y"])
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
    cosine = _values(_traces(_find(at, "sweep_chart"))["ridge"]["y"])
    assert np.all(cosine == cosine[0])

    at.toggle(key="sweep_des").set_value(True).run()
    assert not at.exception
    assert not at.error
    scores = _traces(_find(at, "score_chart"))
    clipped, unclipped = _values(scores["ridge (clipped)"]["y"]), _values(scores["ridge (unclipped)"]["y"])
    assert np.all(clipped >= 0)
    assert np.all(clipped >= unclipped - 1e-12)
