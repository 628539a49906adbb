"""Leaderboard: every chosen prediction (built-in models and files) on every metric, with the challenges' scores."""

import streamlit as st

import ui
from vcc_core.evaluation.leaderboard import (
    clipping_note,
    compare_sources,
    replicate_values,
    score_table,
    vcc2025_per_metric,
)
from vcc_core.evaluation.sources import PredictionSource
from vcc_core.evaluation.vcc2026_sources import compare_2026
from vcc_core.metrics import about2026 as about
from vcc_core.models import DEFAULT_MODELS
from vcc_core.plots import leaderboard as plots

BASELINE = "mean_baseline"

data = ui.page("Leaderboard")
st.caption(
    f"Models are trained on the train perturbations and scored on the test ones like submissions (see Models); a "
    f"file is scored on the perturbations it predicts (the `perturbations` column). VCC 2025 scores are relative to "
    f"`{BASELINE}` (always included), clipped at 0 as the challenge did and unclipped; VCC 2026 scores are "
    "cell-eval2's (`--preset vcc2026`) on raw counts. Average rank is over the seven Generalist metrics. "
    "`oracle_replicate` is no model: half of each test perturbation's real cells (and of the controls) submitted as "
    "they are, scored against the other half. " + ui.conventions_caption()
)
files = [name for name, s in ui.prediction_sources(data).items() if not s.is_model]
chosen = ui.predictions_picker(data, key="lb_models", default=[*DEFAULT_MODELS, *files])
use_replicate = st.toggle(
    "Add our approximation: the VCC 2025 metrics scaled by split-half replicates (not the 2026 challenge's score)",
    value=False,
    key="lb_2026",
)

try:
    with ui.progress_bar() as progress:
        sources = list({s.name: s for s in [PredictionSource.model(BASELINE), *chosen]}.values())
        table, counts, failed = compare_sources(data, sources, progress=progress, conventions=ui.conventions())
        for name, message in failed.items():
            st.warning(f"{name} cannot be scored on this dataset and is left out: {message}")
        # r is the oracle replicate's own metrics: it scores 1 on this scale by construction.
        replicate = replicate_values(data, conventions=ui.conventions()) if use_replicate else None
        scores = score_table(table, baseline=BASELINE, replicate=replicate).join(counts)
        scores = scores.rename(columns={"vcc2026_style": "ours_replicate_scaled_2025"})
        per_metric = vcc2025_per_metric(table, baseline=BASELINE)
        # Each part is cached on disk; not in this process, where a cached call could not draw the progress again.
        on_counts = data.space == "counts"
        means26, scores26, failed26 = (
            compare_2026(data, [s for s in sources if s.name in table.index], progress=progress)
            if on_counts
            else ({}, {}, {})
        )
except ValueError as err:
    st.error(f"Could not score: {err}")
    st.stop()
if len(scores26):
    scores.insert(2, "vcc2026", scores26["avg_score"].reindex(scores.index))

st.subheader("Scores")
formats = {c: "{:.3f}" for c in scores.columns if c != "perturbations"}
st.dataframe(scores.sort_values("vcc2025", ascending=False).style.format(formats, na_rep="–"), key="scores_table")
st.caption(f"VCC 2025 columns: {ui.conventions_caption()} VCC 2026: cell-eval2 0.20.0's own DE on CPM.")
if data.space != "counts":
    st.info("This dataset holds log1p values: the VCC 2026 metrics are defined on raw counts and are left out.")
st.download_button("Scores (CSV)", scores.to_csv(), "leaderboard_scores.csv", "text/csv")
with st.expander("Every metric (means over the scored perturbations)"):
    st.dataframe(table.T.style.format("{:.4f}"), key="metrics_table")
    st.caption(ui.conventions_caption())
    st.download_button("Every metric (CSV)", table.to_csv(), "leaderboard_metrics.csv", "text/csv")

st.subheader("What clipping hides")
fig = plots.clipping_bars(per_metric)
st.plotly_chart(fig, key="clipping_chart")
ui.download_figure(fig, "vcc2025_unclipped")
st.markdown(clipping_note(per_metric))
st.download_button("Scores per metric (CSV)", per_metric.to_csv(index=False), "vcc2025_per_metric.csv", "text/csv")

st.subheader("VCC 2026")
if failed26:  # the VCC 2025 scores above stand; only the 2026 ones are missing
    st.info("No VCC 2026 score for " + "; ".join(f"**{name}** ({message})" for name, message in failed26.items()))
if len(scores26):
    st.markdown(about.SCORES_TEXT)
    shown = scores26.rename(columns=about.LABELS)
    st.dataframe(shown.style.format("{:.3f}", na_rep="–"), key="scores26_table")
    fig = plots.scores_2026(scores26.drop(columns="avg_score"), labels=about.LABELS)
    st.plotly_chart(fig, key="scores26_chart")
    ui.download_figure(fig, "vcc2026_scores")
    with st.expander("The ten VCC 2026 metrics (means over the scored perturbations) and what each measures"):
        st.dataframe(means26.T.rename(index=about.LABELS).style.format("{:.4f}"), key="metrics26_table")
        st.download_button("VCC 2026 metrics (CSV)", means26.to_csv(), "vcc2026_metrics.csv", "text/csv")
        for name, text in about.EXPLANATIONS.items():
            st.markdown(f"**{about.LABELS[name]}** (`{name}`). {text}")
