"""AppTest interactions with the A-against-B page on the tiny preset."""

import numpy as np

from tests.app.apptest import find, run_page, traces, values
from vcc_core.analyses.versus import tally, versus
from vcc_core.data.dataset import open_dataset
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.sides import model_inputs


def test_a_against_b_counts_and_draws_every_shared_perturbation():
    at = run_page("compare.py", a="ridge", b="control")
    assert not at.exception
    assert not at.error
    data = open_dataset("tiny")
    a, b = (per_perturbation(model_inputs(data, m)) for m in ("ridge", "control"))
    table = versus(a, b, metric="discrimination_score_l1")
    shown = {m.label: int(m.value) for m in at.metric}
    want = tally(table)
    assert shown == {"ridge better": want["better"], "ridge worse": want["worse"], "Equal": want["equal"]}
    points = [t for t in traces(find(at, "compare_chart")).values() if "customdata" in t]
    drawn = sorted(p for t in points for p in t.get("customdata", []))
    assert drawn == sorted(table.index)
    for trace in points:
        ys = values(trace["y"])
        np.testing.assert_allclose(ys, table.loc[list(trace["customdata"]), "a"].to_numpy())


def test_the_metric_picker_changes_the_comparison():
    at = run_page("compare.py", a="ridge", b="mean_baseline")
    at.selectbox(key="compare_metric").set_value("mae").run()
    assert not at.exception
    spec = find(at, "compare_chart")
    assert spec["layout"]["xaxis"]["title"]["text"] == "MAE: B = mean_baseline"
