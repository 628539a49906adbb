"""AppTest interactions with the Perturbation explorer page on the tiny preset."""

import numpy as np

from tests.app.apptest import find, run_page, traces, values
from vcc_core.data.dataset import open_dataset
from vcc_core.evaluation.sources import PredictionSource
from vcc_core.evaluation.vcc2026_sources import evaluate_source, reach_walk


def test_explorer_shows_every_gene_and_follows_the_picked_perturbations():
    at = run_page("explorer.py")
    assert not at.exception
    assert not at.error
    picker = at.multiselect(key="explorer_perts")
    first = picker.value[0]
    assert first == picker.options[0]
    scatter = traces(find(at, f"scatter_{first}"))
    n_points = sum(values(t["x"]).size for name, t in scatter.items() if name.startswith("DE: "))
    assert n_points == 300  # tiny preset: every gene drawn once
    assert scatter["target gene"]["text"] == [f"target {first}"]
    assert values(scatter["target gene"]["x"])[0] < 0  # the simulator knocks its targets down

    picked = picker.options[1:3]
    at.multiselect(key="explorer_perts").set_value(picked).run()
    assert not at.exception
    assert at.query_params["perts"] == ",".join(picked)
    assert list(at.dataframe[0].value.index) == picked
    knock = traces(find(at, "knockdown_chart"))
    assert list(knock["real"]["x"]) == picked
    for pert in picked:
        find(at, f"scatter_{pert}")
        find(at, f"volcano_{pert}")


def test_explorer_view_is_restored_from_the_url():
    probe = run_page("explorer.py")
    options = probe.multiselect(key="explorer_perts").options
    at = run_page("explorer.py", model="mean_baseline", perts=f"{options[2]},{options[3]}")
    assert not at.exception
    assert at.selectbox(key="explorer_model").value == "mean_baseline"
    assert at.multiselect(key="explorer_perts").value == [options[2], options[3]]


def test_explorer_shows_the_vcc2026_metrics_and_the_reach_walk():
    dataset = open_dataset("tiny")
    ridge = PredictionSource.model("ridge")
    expected = evaluate_source(dataset, ridge).results
    with_walk = next(p for p in expected.index if len(reach_walk(dataset, ridge, p)))
    at = run_page("explorer.py", model="ridge", perts=with_walk)
    assert not at.exception
    assert not at.error
    shown = at.dataframe[1].value
    assert list(shown.index) == [with_walk]
    np.testing.assert_allclose(shown.loc[with_walk].to_numpy(float), expected.loc[with_walk].to_numpy(float))
    walk = traces(find(at, f"reach_{with_walk}"))["purity"]
    assert values(walk["x"]).size == len(reach_walk(dataset, ridge, with_walk))
