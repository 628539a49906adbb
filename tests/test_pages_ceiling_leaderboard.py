"""AppTest interactions with the DES noise ceiling and Leaderboard pages on the tiny preset."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ui
from vcc_core.analyses.ceiling import ceiling
from vcc_core.data.dataset import open_dataset
from vcc_core.evaluation.leaderboard import compare
from vcc_core.evaluation.submission import to_submission
from vcc_core.models.training import train_predict

ROOT = Path(__file__).resolve().parents[1]


def _app(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["data"] = "tiny"
    at.switch_page(f"app_pages/{page}")
    return at


def _chart(at: AppTest, key: str) -> dict:
    """Plotly spec of the chart whose element key is ``key`` (embedded at the end of the element id)."""
    hits = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert hits, f"no chart with key {key!r}"
    return hits[0]


def _values(array) -> np.ndarray:
    """A trace's x or y: a list, or plotly's typed-array encoding ``{"dtype", "bdata"}``."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array)


@pytest.fixture(scope="module")
def dataset():
    return open_dataset("tiny")


@pytest.fixture(scope="module")
def expected(dataset):
    return ceiling(dataset, seeds=3)


@pytest.fixture(scope="module")
def ceiling_page() -> AppTest:
    return _app("ceiling.py").run()


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
    floor = _chart(at, "floor_chart")["data"][0]
    assert floor["text"][0] == "300 genes"
    assert _values(floor["y"])[0] == pytest.approx(r["overlap_at_N"])


def test_ceiling_scatter_follows_the_axis_and_split(ceiling_page, expected):
    at = ceiling_page
    per_pert = expected.per_perturbation()
    scatter = _chart(at, "des_scatter")["data"][0]
    np.testing.assert_allclose(_values(scatter["x"]), per_pert["n_de_real"].to_numpy())
    np.testing.assert_allclose(_values(scatter["y"]), per_pert["overlap_at_N"].to_numpy())

    at.radio(key="ceiling_x").set_value("effect_l2").run()
    assert not at.exception
    spec = _chart(at, "des_scatter")
    np.testing.assert_allclose(_values(spec["data"][0]["x"]), per_pert["effect_l2"].to_numpy())
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("effect size")

    at.selectbox(key="ceiling_split").set_value("all").run()
    assert not at.exception
    assert _values(_chart(at, "des_scatter")["data"][0]["y"]).size == 12
    boxes = _chart(at, "seed_box")["data"]
    assert [b["name"] for b in boxes] == ["seed 0", "seed 1", "seed 2"]
    assert all(_values(b["y"]).size == 12 for b in boxes)


@pytest.fixture(scope="module")
def board(dataset):
    return compare(dataset, ["mean_baseline", "control", "ridge"])


def test_leaderboard_scores_every_model_and_marks_what_clipping_hides(board):
    at = _app("leaderboard.py")
    at.run()
    at.multiselect(key="lb_models").set_value(["control", "ridge"]).run()
    assert not at.exception
    assert not at.error
    scores = at.dataframe[0].value
    assert set(scores.index) == {"mean_baseline", "control", "ridge"}
    assert scores.loc["mean_baseline", "vcc2025"] == 0
    assert scores.loc["mean_baseline", "vcc2026_style"] == 0
    assert (scores["vcc2025"] >= scores["vcc2025_unclipped"] - 1e-12).all()
    assert scores["average_rank"].between(1, 3).all()
    metrics = at.dataframe[1].value
    np.testing.assert_allclose(metrics["ridge"].to_numpy(), board.loc["ridge", metrics.index].to_numpy())

    bars = {t["name"]: t for t in _chart(at, "clipping_chart")["data"]}
    assert set(bars) == {"mean_baseline", "control", "ridge"}
    for trace in bars.values():
        below = _values(trace["y"]) < 0
        assert [s == "/" for s in trace["marker"]["pattern"]["shape"]] == below.tolist()
    control_des = bars["control"]["x"].index("DES (overlap at N)")
    assert _values(bars["control"]["y"])[control_des] < 0  # control calls fewer real DE genes than the baseline

    at.toggle(key="lb_2026").set_value(False).run()
    assert "vcc2026_style" not in at.dataframe[0].value.columns


def test_leaderboard_includes_predictions_loaded_elsewhere(dataset, board):
    cells = to_submission(train_predict(dataset, "ridge"), dataset)
    at = _app("leaderboard.py")
    at.session_state[ui.PREDICTIONS] = ui.Predictions("ridge.h5ad", dataset.fingerprint, cells)
    at.run()
    assert not at.exception
    assert not at.error
    metrics = at.dataframe[1].value
    np.testing.assert_allclose(
        metrics["uploaded: ridge.h5ad"].to_numpy(), board.loc["ridge", metrics.index].to_numpy(), rtol=1e-6
    )
    at.checkbox(key="lb_byo").uncheck().run()
    assert "uploaded: ridge.h5ad" not in at.dataframe[0].value.index
