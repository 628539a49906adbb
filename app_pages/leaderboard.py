"""Leaderboard: every chosen prediction (built-in models and files) on every metric, with the challenges' scores."""

import streamlit as st

import ui
from vcc_core.analyses.ceiling import ceiling
from vcc_core.evaluation.leaderboard import clipping_note, compare_sources, score_table, vcc2025_per_metric
from vcc_core.evaluation.sources import PredictionSource
from vcc_core.models import DEFAULT_MODELS
from vcc_core.plots import leaderboard as plots

BASELINE = "mean_baseline"

data = ui.page("Leaderboard")
st.caption(
    f"Models are trained on the train perturbations and scored on the test ones like submissions (see Models); a "
    f"file is scored on the perturbations it predicts (the `perturbations` column). VCC 2025 scores are relative to "
    f"`{BASELINE}` (always included); 2026-style scores put 0 at the baseline and 1 at a split-half replicate of the "
    "real data. Average rank is over the seven Generalist metrics."
)
files = [name for name, s in ui.prediction_sources(data).items() if not s.is_model]
chosen = ui.predictions_picker(data, key="lb_models", default=[*DEFAULT_MODELS, *files])
use_replicate = st.toggle("VCC 2026-style scores (split-half replicates, 3 seeds)", value=True, key="lb_2026")

try:
    with ui.progress_bar() as progress:
        sources = list({s.name: s for s in [PredictionSource.model(BASELINE), *chosen]}.values())
        table, counts, failed = compare_sources(data, sources, progress=progress)
        for name, message in failed.items():
            st.warning(f"{name} cannot be scored on this dataset and is left out: {message}")
        replicate = ceiling(data, seeds=3).replicate_values() if use_replicate else None
        scores = score_table(table, baseline=BASELINE, replicate=replicate).join(counts)
        per_metric = vcc2025_per_metric(table, baseline=BASELINE)
except ValueError as err:
    st.error(f"Could not score: {err}")
    st.stop()

st.subheader("Scores")
formats = {c: "{:.3f}" for c in scores.columns if c != "perturbations"}
st.dataframe(scores.sort_values("vcc2025", ascending=False).style.format(formats), key="scores_table")
st.download_button("Scores (CSV)", scores.to_csv(), "leaderboard_scores.csv", "text/csv")
with st.expander("Every metric (means over the scored perturbations)"):
    st.dataframe(table.T.style.format("{:.4f}"), key="metrics_table")
    st.download_button("Every metric (CSV)", table.to_csv(), "leaderboard_metrics.csv", "text/csv")

st.subheader("What clipping hides")
fig = plots.clipping_bars(per_metric)
st.plotly_chart(fig, key="clipping_chart")
ui.download_figure(fig, "vcc2025_unclipped")
st.markdown(clipping_note(per_metric))
st.download_button("Scores per metric (CSV)", per_metric.to_csv(index=False), "vcc2025_per_metric.csv", "text/csv")
