"""A against B: two predictions (models or files) perturbation by perturbation on one metric."""

import streamlit as st

import ui
from vcc_core.analyses.versus import tally, versus
from vcc_core.metrics import VCC_METRICS, best_value
from vcc_core.plots import explorer as plots
from vcc_core.plots.style import label

data = ui.page("A against B")
st.caption(
    "Each prediction is scored as on the other pages (a model on the test split, a file on the perturbations it "
    "predicts); the perturbations both are scored on are compared. Click a point to open it in the explorer."
)
left, right = st.columns(2)
with left:
    a = ui.prediction_picker(data, key="compare_a", default="ridge", url="a")
with right:
    b = ui.prediction_picker(data, key="compare_b", default="mean_baseline", url="b")
scored_a, scored_b = ui.scored_or_stop(data, a), ui.scored_or_stop(data, b)
columns = [c for c in scored_a.metrics.columns if best_value(c) in ("one", "zero")]
metric = st.selectbox("Metric", columns, index=columns.index(VCC_METRICS[2]), format_func=label, key="compare_metric")
table = versus(scored_a.metrics, scored_b.metrics, metric=metric)
if table.empty:
    st.info(f"{a.name} and {b.name} share no scored perturbation.")
    st.stop()

counts = tally(table)
cols = st.columns(3)
cols[0].metric(f"{a.name} better", counts["better"])
cols[1].metric(f"{a.name} worse", counts["worse"])
cols[2].metric("Equal", counts["equal"])
fig = plots.versus_scatter(table, a=a.name, b=b.name, metric=metric, label=label(metric))
event = st.plotly_chart(fig, key="compare_chart", on_select="rerun", selection_mode="points")
points = event.selection.get("points", []) if event else []
if picked := [str(p["customdata"]) for p in points if "customdata" in p]:
    params = {"data": st.query_params.get("data", ""), "model": a.name, "perts": ",".join(picked)}
    st.switch_page("app_pages/explorer.py", query_params=params)
st.caption(ui.conventions_caption())
ui.download_figure(fig, "a_against_b")
st.download_button("Per perturbation (CSV)", table.to_csv(), "a_against_b.csv", "text/csv")
