"""Perturbation explorer: a prediction (a model or a file) against the real effect, gene by gene."""

import streamlit as st

import ui
from vcc_core.analyses.perturbation import de_status, overview, target_knockdown, top_genes, unmeasured_targets
from vcc_core.metrics import about2026 as about
from vcc_core.plots import explorer as plots
from vcc_core.plots.style import METRIC_LABELS

FDR_FORMAT = {c: st.column_config.NumberColumn(format="%.2e") for c in ("real_fdr", "pred_fdr")}
REACH = "de_wilcoxon_direction_reach_raw"
HEADLINE = ["overlap_at_N", "discrimination_score_l1", "discrimination_score_cosine", "mae", "pearson_delta"]

data = ui.page("Perturbation explorer")
source = ui.prediction_picker(data, key="explorer_model", default="ridge", url="model")
scored = ui.scored_or_stop(data, source)
inputs, metrics, cells = scored.inputs, scored.metrics, scored.cells
perts = [str(p) for p in inputs.perts]
if source.is_model:
    st.caption(
        f"{source.name} is fitted on the train split and predicts the {len(perts)} test perturbations; its "
        "prediction is expanded to cells and tested for DE like a submission (as on the Models page), so the "
        "effects below are the ones the metrics score."
    )
else:
    st.caption(
        f"{source.label} is scored on the {len(perts)} perturbations it predicts that the data has, against the "
        "data's cells of those perturbations, each side normalised on its own and tested for DE against its controls. "
        f"Predicted cells per perturbation: {cells.median():,.0f} (median; {cells.min():,}–{cells.max():,})"
        + (", the table expanded to cells for its DE." if source.kind == "table" else ".")
    )

metric = st.selectbox("Rank by", HEADLINE, format_func=METRIC_LABELS.get, key="explorer_rank")
event = st.altair_chart(
    plots.overview_chart(overview(inputs, metrics, metric=metric), metric=metric, label=METRIC_LABELS[metric]),
    on_select="rerun", key="explorer_overview",
)  # fmt: skip
points = [p.get("perturbation") for p in event.selection.get("picked", [])]
clicked = [p for p in points or event.selection.get("box", {}).get("perturbation", []) if p in perts]
if clicked and clicked != st.session_state.get("explorer_clicked"):  # a new click picks the perturbations
    st.session_state["explorer_clicked"] = clicked
    st.query_params["perts"] = ",".join(clicked)
    st.session_state.pop("explorer_perts", None)
wanted = [p for p in st.query_params.get("perts", "").split(",") if p in perts] or perts[:1]
label = "Test perturbations" if source.is_model else "Perturbations"
chosen = st.multiselect(label, perts, default=wanted, key="explorer_perts")
st.query_params["perts"] = ",".join(chosen)  # the view lives in the URL so it can be shared
if not chosen:
    st.info("Pick at least one perturbation (above, or in the chart).")
    st.stop()

st.subheader("Metrics of the chosen perturbations")
st.dataframe(metrics.loc[chosen, HEADLINE].style.format("{:.3f}"), key="metrics_table")
st.caption(ui.conventions_caption())
st.download_button("Metrics (CSV)", metrics.loc[chosen].to_csv(), "explorer_metrics.csv", "text/csv")
try:
    metrics26 = ui.evaluated_2026(data, source).reindex(chosen)
except ValueError as err:
    metrics26 = None
    st.info(f"No VCC 2026 metrics here: {err}")
if metrics26 is not None:
    st.markdown("**VCC 2026 metrics** (cell-eval2's, on raw counts; hover a column name for what it measures)")
    config = {n: st.column_config.NumberColumn(about.LABELS[n], help=about.EXPLANATIONS[n], format="%.3f")
              for n in metrics26.columns}  # fmt: skip
    st.dataframe(metrics26, column_config=config, key="metrics26_table")
    st.download_button("VCC 2026 metrics (CSV)", metrics26.to_csv(), "explorer_vcc2026.csv", "text/csv")

real_delta, pred_delta = inputs.real_delta, inputs.pred_delta
for pert, tab in zip(chosen, st.tabs(chosen), strict=True):
    r = perts.index(pert)
    fig = plots.delta_scatter(
        real_delta[r], pred_delta[r], genes=inputs.genes, target=pert, title=f"{pert}: predicted vs real Δ per gene",
        de_status=de_status(inputs.real_fdr[r], inputs.pred_fdr[r]), height=640, square=True,
    )  # fmt: skip
    tab.plotly_chart(fig, key=f"scatter_{pert}")
    with tab:
        ui.download_figure(fig, label="Figure (HTML)", name=f"scatter_{pert}")
    left, right = tab.columns(2)
    with left:
        fig = plots.volcano(inputs.real_lfc[r], inputs.real_fdr[r], genes=inputs.genes, title=f"{pert}: real DE")
        st.plotly_chart(fig, key=f"volcano_{pert}")
        ui.download_figure(fig, label="Figure (HTML)", name=f"volcano_{pert}")
    fdr = {"real_fdr": inputs.real_fdr[r], "pred_fdr": inputs.pred_fdr[r]}
    top = top_genes(inputs.genes, real_delta[r], pred_delta[r], **fdr)
    right.dataframe(top, hide_index=True, column_config=FDR_FORMAT, key=f"top_{pert}", height=420)
    right.download_button("Top genes (CSV)", top.to_csv(index=False), f"top_genes_{pert}.csv", key=f"csv_{pert}")
    if metrics26 is not None and len(walk := ui.reach_walk(data, source, pert)):
        fig = plots.reach_walk(walk, title=f"{pert}: direction reach {metrics26.loc[pert, REACH]:.2f}")
        tab.plotly_chart(fig, key=f"reach_{pert}")
        tab.caption(about.EXPLANATIONS[REACH] + " Grey points: genes the prediction does not call significant.")

st.subheader("Knockdown of the targets")
if missing := unmeasured_targets(inputs, chosen):
    st.info(f"Not among the measured genes, so no knockdown to show: {', '.join(missing)}.")
if shown := [p for p in chosen if p not in missing]:
    fig = plots.knockdown_pair(target_knockdown(inputs, shown))
    st.plotly_chart(fig, key="knockdown_chart")
    ui.download_figure(fig, label="Figure (HTML)", name="knockdown")
