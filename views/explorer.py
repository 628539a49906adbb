"""Perturbation explorer: one model's prediction against the real effect, gene by gene, for chosen perturbations."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from vcc_core import plots_explorer as plots
from vcc_core.leaderboard import model_inputs, per_perturbation
from vcc_core.models import REGISTRY

FDR_FORMAT = {c: st.column_config.NumberColumn(format="%.2e") for c in ("real_fdr", "pred_fdr")}
HEADLINE = ["overlap_at_N", "discrimination_score_l1", "discrimination_score_cosine", "mae", "pearson_delta"]


@st.cache_resource(show_spinner="Training (cached), expanding to cells, DE of both sides…", max_entries=16)
def scored(key: str, model: str, _data):
    """Row-aligned real/predicted arrays with DE, and every metric per test perturbation."""
    inputs = model_inputs(_data, model)
    return inputs, per_perturbation(inputs, profile="full")


st.title("Perturbation explorer")
data = ui.current_dataset()
if data is None:
    st.stop()

models = list(REGISTRY)
wanted_model = st.query_params.get("model", "ridge")
model = st.selectbox("Model", models, index=models.index(wanted_model) if wanted_model in models else 0, key="model")
try:
    inputs, metrics = scored(data.fingerprint, model, data)
except ValueError as err:
    st.error(f"Could not train or score {model}: {err}")
    st.stop()
perts = [str(p) for p in inputs.perts]
wanted = [p for p in st.query_params.get("perts", "").split(",") if p in perts] or perts[:1]
chosen = st.multiselect("Test perturbations", perts, default=wanted, key="perts")
# The view lives in the URL so it can be shared.
st.query_params["model"] = model
st.query_params["perts"] = ",".join(chosen)
if not chosen:
    st.info("Pick at least one perturbation.")
    st.stop()
st.caption(
    f"`{model}` is fitted on the train split and predicts the {len(perts)} test perturbations; its prediction is "
    "expanded to cells and tested for DE like a submission (as on the Models page), so the effects below are "
    "the ones the metrics score."
)

rows = [perts.index(p) for p in chosen]
targets = inputs.target_cols
real_delta, pred_delta = inputs.real_delta, inputs.pred_delta

st.subheader("Metrics of the chosen perturbations")
table = metrics.loc[chosen, [c for c in HEADLINE if c in metrics.columns]]
st.dataframe(table.style.format("{:.3f}"), key="metrics_table")
st.download_button("Metrics (CSV)", metrics.loc[chosen].to_csv(), "explorer_metrics.csv", "text/csv")

lfc = lambda side, r: float(side[r, targets[r]]) if targets[r] >= 0 else np.nan  # noqa: E731
knock = pd.DataFrame(
    {
        "perturbation": chosen,
        "real": [lfc(inputs.real_lfc, r) for r in rows],
        "predicted": [lfc(inputs.pred_lfc, r) for r in rows],
    }
)
fig = plots.knockdown_pair(knock)
st.plotly_chart(fig, key="knockdown_chart")
ui.download_figure(fig, label="Figure (HTML)", name="knockdown")

for pert, tab in zip(chosen, st.tabs(chosen), strict=True):
    r = perts.index(pert)
    status = plots.de_status(inputs.real_fdr[r], inputs.pred_fdr[r])
    left, right = tab.columns(2)
    with left:
        fig = plots.delta_scatter(
            real_delta[r], pred_delta[r], genes=inputs.genes, target=pert, de_status=status, title=f"{pert}: Δ per gene"
        )
        st.plotly_chart(fig, key=f"scatter_{pert}")
        ui.download_figure(fig, label="Figure (HTML)", name=f"scatter_{pert}")
    with right:
        fig = plots.volcano(inputs.real_lfc[r], inputs.real_fdr[r], genes=inputs.genes, title=f"{pert}: real DE")
        st.plotly_chart(fig, key=f"volcano_{pert}")
        ui.download_figure(fig, label="Figure (HTML)", name=f"volcano_{pert}")
    top = plots.top_genes(
        inputs.genes, real_delta[r], pred_delta[r], real_fdr=inputs.real_fdr[r], pred_fdr=inputs.pred_fdr[r]
    )
    tab.dataframe(top, hide_index=True, column_config=FDR_FORMAT, key=f"top_{pert}")
    tab.download_button("Top genes (CSV)", top.to_csv(index=False), f"top_genes_{pert}.csv", key=f"csv_{pert}")
