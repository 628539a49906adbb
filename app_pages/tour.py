"""Tour: the challenge's story in eight steps, each a live figure on the current dataset and a link to its page."""

import streamlit as st

import ui
from vcc_core.analyses import tour
from vcc_core.analyses.ceiling import ceiling
from vcc_core.evaluation.leaderboard import (
    clipping_note,
    compare_sources,
    replicate_values,
    score_table,
    vcc2025_per_metric,
)
from vcc_core.evaluation.sides import ORACLE
from vcc_core.evaluation.sources import PredictionSource
from vcc_core.evaluation.vcc2026_sources import compare_2026
from vcc_core.models import DEFAULT_MODELS

MODEL, BASELINE, STEP = "kernel_ridge", "mean_baseline", "tour_step"
TITLES = (
    "A perturbation's effect",
    "How PDS reads a prediction",
    "DES and MAE",
    "Scaling up a prediction",
    "The DES ceiling",
    "What clipping hid",
    "Simple models, close to the top",
    "What VCC 2026 changes",
)

data = ui.page("Tour")
st.caption(
    "The Virtual Cell Challenge asks a model to predict how every gene responds when one gene is knocked down "
    "by CRISPRi, in cells it has never seen. Eight steps show, on the dataset chosen in the sidebar, how its "
    "metrics read a prediction and where they mislead; every number is computed here, on these cells."
)


def move(by: int) -> None:  # a button's callback: the step changes before the page runs again
    st.session_state[STEP] = min(max(int(st.session_state.get(STEP, 0)) + by, 0), len(TITLES) - 1)


step = min(int(st.session_state.get(STEP, 0)), len(TITLES) - 1)
back, where, forward = st.columns([1, 4, 1])
back.button("Back", on_click=move, args=(-1,), disabled=step == 0, key="tour_back", width="stretch")
last = step == len(TITLES) - 1
forward.button("Next", on_click=move, args=(1,), disabled=last, key="tour_next", width="stretch")
where.progress((step + 1) / len(TITLES), text=f"Step {step + 1} of {len(TITLES)}: {TITLES[step]}")


def leaderboard():
    sources = [PredictionSource.model(m) for m in DEFAULT_MODELS]
    with ui.progress_bar() as progress:
        table, _, _ = compare_sources(data, sources, progress=progress, conventions=ui.conventions())
    replicate = replicate_values(data, conventions=ui.conventions())
    return table, score_table(table, baseline=BASELINE, replicate=replicate)


def build(i: int) -> tour.Step:
    if i < 3:
        scored = ui.scored(data, PredictionSource.model(MODEL))
        if i == 0:
            return tour.effect_step(scored.inputs, MODEL)
        if i == 2:
            return tour.des_mae_step(scored.inputs, scored.metrics, MODEL)
        base = ui.scored(data, PredictionSource.model(BASELINE)).metrics[tour.PDS].mean()
        return tour.pds_step(scored.inputs, scored.metrics, MODEL, base)
    if i == 3:
        return tour.scaling_step(ui.swept(data, PredictionSource.model(MODEL)), MODEL)
    if i == 4:
        with ui.progress_bar() as progress:
            return tour.ceiling_step(ceiling(data, seeds=3, progress=progress, conventions=ui.conventions()))
    table, scores = leaderboard()
    if i == 5:
        per_metric = vcc2025_per_metric(table, baseline=BASELINE)
        return tour.clipping_step(per_metric, scores, clipping_note(per_metric))
    if i == 6:
        return tour.models_step(table, baseline=BASELINE, oracle=ORACLE)
    if data.space != "counts":
        msg = "this dataset holds log1p values; the VCC 2026 metrics are defined on raw counts"
        raise ValueError(msg)
    with ui.progress_bar() as progress:
        _, scores26, _ = compare_2026(data, [PredictionSource.model(m) for m in table.index], progress=progress)
    return tour.vcc2026_step(scores.assign(vcc2026=scores26["avg_score"].reindex(scores.index)))


try:
    shown = build(step)
except ValueError as err:
    st.info(f"This step cannot be shown on this dataset: {err}")
    st.stop()
st.subheader(shown.title)
st.markdown(shown.text)
columns = st.columns(len(shown.figures)) if len(shown.figures) > 1 else [st.container()]
for k, (column, fig) in enumerate(zip(columns, shown.figures, strict=True)):
    column.plotly_chart(fig, key=f"tour_{step}_{k}")
    with column:
        ui.download_figure(fig, f"tour_{step + 1}_{k + 1}")
st.page_link(shown.page, label=f"The whole story: {shown.link}", icon=":material/arrow_forward:")
