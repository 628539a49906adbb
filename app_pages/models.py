"""Models: train the built-in models and compare them on every metric, like VCC submissions."""

import streamlit as st

import ui
from vcc_core.evaluation.leaderboard import compare_available
from vcc_core.evaluation.submission import to_submission
from vcc_core.models import DEFAULT_MODELS, REGISTRY, model_options
from vcc_core.models.training import train_predict

HEADLINE = ["overlap_at_N", "discrimination_score_l1", "mae", "pearson_delta", "discrimination_score_cosine"]

data = ui.page("Models")
st.caption(
    "Each model is fitted on the train perturbations, predicts the test perturbations, is expanded to predicted "
    "cells like a submission, and scored with the reference metric definitions. Results are cached on disk."
)
with st.expander("What the models are"):
    st.table({name: spec.description for name, spec in REGISTRY.items()})

chosen = st.multiselect("Models", model_options(), default=list(DEFAULT_MODELS), key="models_chosen")
if not chosen:
    st.info("Pick at least one model.")
    st.stop()

with ui.progress_bar() as progress:
    table, failed = compare_available(data, chosen, progress=progress, conventions=ui.conventions())
for model, message in failed.items():
    st.warning(f"{model} cannot run on this dataset and is left out: {message}")
chosen = [m for m in chosen if m not in failed]
if not chosen:
    st.stop()

st.subheader("Leaderboard")
st.dataframe(table[[c for c in HEADLINE if c in table.columns]].style.format("{:.3f}"))
st.caption(ui.conventions_caption())
st.download_button("Download all metrics (CSV)", table.to_csv(), "leaderboard.csv", "text/csv")
with st.expander("Every metric"):
    st.dataframe(table.T.style.format("{:.4f}"))

st.subheader("Download predictions")
model = st.selectbox("Model", chosen, key="models_download")
space = st.radio("Values", ["log1p", "counts"], horizontal=True, key="models_space")
sub = to_submission(train_predict(data, model), data, space=space)
path = ui.temp_file(f"{model.replace(':', '_')}_{space}.h5ad")
sub.write_h5ad(path)
st.download_button("Download submission (.h5ad)", path.read_bytes(), path.name, "application/octet-stream")
