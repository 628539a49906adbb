"""Leaderboard: every chosen model (and uploaded predictions) on every metric, with the challenges' scores."""

import streamlit as st

import ui
from vcc_core.analyses.ceiling import ceiling
from vcc_core.evaluation.leaderboard import (
    clipping_note,
    compare_available,
    prediction_metrics,
    score_table,
    vcc2025_per_metric,
)
from vcc_core.models import DEFAULT_MODELS, model_options
from vcc_core.plots import leaderboard as plots

BASELINE = "mean_baseline"

data = ui.page("Leaderboard")
st.caption(
    f"Models are trained on the train perturbations and scored on the test ones like submissions (see Models). "
    f"VCC 2025 scores are relative to `{BASELINE}` (always included); 2026-style scores put 0 at the baseline and 1 "
    "at a split-half replicate of the real data. Average rank is over the seven Generalist metrics."
)
chosen = st.multiselect("Models", model_options(), default=list(DEFAULT_MODELS), key="lb_models")
byo = st.session_state.get(ui.PREDICTIONS)
if byo is not None and ui.predictions_for(data) is None:
    st.info(f"Predictions `{byo.name}` were loaded for another dataset; pick it again to include them.")
byo = ui.predictions_for(data)
include = byo is not None and st.checkbox(f"Include uploaded predictions `{byo.name}`", value=True, key="lb_byo")
use_replicate = st.toggle("VCC 2026-style scores (split-half replicates, 3 seeds)", value=True, key="lb_2026")

try:
    with ui.progress_bar() as progress:
        models = list(dict.fromkeys([BASELINE, *chosen]))
        table, failed = compare_available(data, models, progress=progress)
        for model, message in failed.items():
            st.warning(f"{model} cannot run on this dataset and is left out: {message}")
        if include:
            progress(1.0, f"scoring {byo.name}")
            table.loc[f"uploaded: {byo.name}"] = prediction_metrics(data, byo.adata)
        replicate = ceiling(data, seeds=3).replicate_values() if use_replicate else None
        scores = score_table(table, baseline=BASELINE, replicate=replicate)
        per_metric = vcc2025_per_metric(table, baseline=BASELINE)
except ValueError as err:
    st.error(f"Could not score: {err}")
    st.stop()

st.subheader("Scores")
st.dataframe(scores.sort_values("vcc2025", ascending=False).style.format("{:.3f}"), key="scores_table")
st.download_button("Scores (CSV)", scores.to_csv(), "leaderboard_scores.csv", "text/csv")
with st.expander("Every metric (means over test perturbations)"):
    st.dataframe(table.T.style.format("{:.4f}"), key="metrics_table")
    st.download_button("Every metric (CSV)", table.to_csv(), "leaderboard_metrics.csv", "text/csv")

st.subheader("What clipping hides")
fig = plots.clipping_bars(per_metric)
st.plotly_chart(fig, key="clipping_chart")
ui.download_figure(fig, "vcc2025_unclipped")
st.markdown(clipping_note(per_metric))
st.download_button("Scores per metric (CSV)", per_metric.to_csv(index=False), "vcc2025_per_metric.csv", "text/csv")
