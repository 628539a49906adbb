"""The tour's steps: every number in their text agrees with the results it is read from."""

import re

import numpy as np
import pytest

from vcc_core.analyses import tour
from vcc_core.analyses.ceiling import ceiling
from vcc_core.analyses.sweep import SCALES
from vcc_core.analyses.sweep_runs import model_sweep
from vcc_core.data.dataset import open_dataset
from vcc_core.evaluation.leaderboard import (
    clipping_note,
    compare_sources,
    replicate_values,
    score_table,
    vcc2025_per_metric,
)
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.sides import inputs_of
from vcc_core.evaluation.sources import PredictionSource, sides

MODELS = ["mean_baseline", "ridge", "scaled:ridge", "oracle_replicate"]


@pytest.fixture(scope="module")
def dataset(tiny):
    return open_dataset(tiny)


@pytest.fixture(scope="module")
def scored(dataset):
    inputs = inputs_of(*sides(dataset, PredictionSource.model("ridge")))
    return inputs, per_perturbation(inputs)


@pytest.fixture(scope="module")
def table(dataset):
    return compare_sources(dataset, [PredictionSource.model(m) for m in MODELS])[0]


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def test_it_follows_the_largest_measured_effect(scored):
    inputs, _ = scored
    effect = np.linalg.norm(inputs.real_delta, axis=1)
    r = tour.showcase(inputs)
    assert inputs.target_cols[r] >= 0
    assert effect[r] == effect[inputs.target_cols >= 0].max()


def test_the_effect_step_reads_the_target_and_the_de_genes(scored):
    inputs, _ = scored
    step = tour.effect_step(inputs, "ridge")
    r = tour.showcase(inputs)
    assert f"{int((inputs.real_fdr[r] < 0.05).sum()):,} genes change" in step.text
    kept = 2 ** inputs.real_lfc[r, inputs.target_cols[r]]
    assert f"keeps {kept:.0%}" in step.text
    assert len(step.figures) == 2


def test_the_pds_step_ranks_as_the_metric_does(scored):
    inputs, metrics = scored
    step = tour.pds_step(inputs, metrics, "ridge", 0.5)
    pert = str(inputs.perts[tour.showcase(inputs)])
    rank, n = map(int, re.search(r"1 − (\d+)/(\d+)", step.text).groups())
    assert 1 - rank / n == pytest.approx(metrics.loc[pert, tour.PDS])  # the rank read off the bars is the metric's
    bars = step.figures[0].data[0]
    assert len(bars.x) == n
    assert "nan" not in step.text


def test_the_des_step_counts_the_overlap_of_the_de_sets(scored):
    inputs, metrics = scored
    step = tour.des_mae_step(inputs, metrics, "ridge")
    r = tour.showcase(inputs)
    real, pred = inputs.real_fdr[r] < 0.05, inputs.pred_fdr[r] < 0.05
    assert f"of the {int(real.sum())} genes DE" in step.text
    assert f"call {int((real & pred).sum())} (and {int((pred & ~real).sum())} others)" in step.text
    assert list(step.figures[0].data[0].y) == [
        int((real & pred).sum()),
        int((real & ~pred).sum()),
        int((pred & ~real).sum()),
    ]


def test_the_scaling_step_reads_the_sweep(dataset):
    run = model_sweep(dataset, "ridge", scales=SCALES)
    curve = run.sweep.curves()
    step = tour.scaling_step(run, "ridge")
    best = float(curve[tour.PDS].idxmax())
    assert f"At s = {best:.3g}" in step.text
    assert f"to {curve.loc[best, tour.PDS]:.3f}" in step.text


def test_the_ceiling_step_reads_the_replicate(dataset):
    result = ceiling(dataset, seeds=2)
    step = tour.ceiling_step(result)
    assert f"DES of only {result.replicate_values()[tour.DES]:.2f} (2 splits)" in step.text


def test_clipping_models_and_2026_steps(dataset, table):
    scores = score_table(table, replicate=replicate_values(dataset))
    per_metric = vcc2025_per_metric(table)
    step = tour.clipping_step(per_metric, scores, clipping_note(per_metric))
    model = str((scores["vcc2025"] - scores["vcc2025_unclipped"]).idxmax())
    assert f"**{model}** gets {scores.loc[model, 'vcc2025']:.3f} clipped" in step.text
    step = tour.models_step(table, baseline="mean_baseline", oracle="oracle_replicate")
    assert f"reaches {table.loc['oracle_replicate', tour.PDS]:.3f}" in step.text
    both = scores.assign(vcc2026=[0.1, 0.3, -0.2, 1.0])
    step = tour.vcc2026_step(both)
    assert "**scaled:ridge** ranks" in step.text  # the largest fall from the 2025 ranking to the 2026 one
    with pytest.raises(ValueError, match="fewer than two models have a VCC 2026 score"):
        tour.vcc2026_step(scores.assign(vcc2026=np.nan))
    assert [list(trace.x) for trace in step.figures[0].data] == [list(both.index)] * 2
