"""Perturbation explorer: one model's prediction against the real effect, gene by gene, for chosen perturbations."""

import streamlit as st

import ui
from vcc_core.analyses.perturbation import de_status, target_knockdown, top_genes
from vcc_core.models import REGISTRY
from vcc_core.plots import explorer as plots

FDR_FORMAT = {c: st.column_config.NumberColumn(format="%.2e") for c in ("real_fdr", "pred_fdr")}
HEADLINE = ["overlap_at_N", "discrimination_score_l1", "discrimination_score_cosine", "mae", "pearson_delta"]

data = ui.page("Perturbation explorer")
models = list(REGISTRY)
wanted_model = st.query_params.get("model", "ridge")
model = st.selectbox(
    "Model", models, index=models.index(wanted_model) if wanted_model in models else 0, key="explorer_model"
)
try:
    scored = ui.scored_model(data.fingerprint, model, data)
except ValueError as err:
    st.error(f"Could not train or score {model}: {err}")
    st.stop()
inputs, metrics = scored.inputs, scored.metrics
perts = [str(p) for p in inputs.perts]
wanted = [p for p in st.query_params.get("perts", "").split(",") if p in perts] or perts[:1]
chosen = st.multiselect("Test perturbations", perts, default=wanted, key="explorer_perts")
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

st.subheader("Metrics of the chosen perturbations")
table = metrics.loc[chosen, [c for c in HEADLINE if c in metrics.columns]]
st.dataframe(table.style.format("{:.3f}"), key="metrics_table")
st.download_button("Metrics (CSV)", metrics.loc[chosen].to_csv(), "explorer_metrics.csv", "text/csv")

fig = plots.knockdown_pair(target_knockdown(inputs, chosen))
st.plotly_chart(fig, key="knockdown_chart")
ui.download_figure(fig, label="Figure (HTML)", name="knockdown")

real_delta, pred_delta = inputs.real_delta, inputs.pred_delta
for pert, tab in zip(chosen, st.tabs(chosen), strict=True):
    r = perts.index(pert)
    status = de_status(inputs.real_fdr[r], inputs.pred_fdr[r])
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
    top = top_genes(
        inputs.genes, real_delta[r], pred_delta[r], real_fdr=inputs.real_fdr[r], pred_fdr=inputs.pred_fdr[r]
    )
    tab.dataframe(top, hide_index=True, column_config=FDR_FORMAT, key=f"top_{pert}")
    tab.download_button("Top genes (CSV)", top.to_csv(index=False), f"top_genes_{pert}.csv", key=f"csv_{pert}")
