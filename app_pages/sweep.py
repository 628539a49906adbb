"""Scaling sweep: every metric as a prediction's deltas (a model's or a file's) are multiplied by s."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from vcc_core.analyses.sweep import DES_SCALES, SCALES, SWEEP_METRICS
from vcc_core.analyses.sweep_runs import scores_along
from vcc_core.evaluation.sources import PredictionSource
from vcc_core.metrics import about2026 as about
from vcc_core.plots import sweep as plots
from vcc_core.plots.style import METRIC_LABELS

NORM = "expr_mse_unbiased_capped_norm"
data = ui.page("Scaling sweep")
st.caption(
    "Each prediction is rescaled around its own control, **control + s · Δ**, for 26 scales from 0.05 to 100, and "
    "scored on pseudobulks (not expanded to cells, so values at s = 1 can differ slightly from the Models page); a "
    "model on the test split, a file on the perturbations it predicts. L1/L2 PDS drift between two exact limits as "
    "s grows while MAE has a finite optimum; cosine PDS, sign-cosine PDS and Pearson delta see only directions and "
    "stay flat."
)
sources = ui.predictions_picker(data, key="sweep_models", default=["ridge"])
if not sources:
    st.info("Pick at least one prediction.")
    st.stop()
try:
    runs = {s.name: ui.swept(data, s) for s in sources}
except ValueError as err:
    st.error(f"Could not sweep: {err}")
    st.stop()
curves = {m: run.sweep.curves() for m, run in runs.items()}
n_perts = next(iter(runs.values())).sweep.perts.size

metric = st.selectbox("Metric", list(SWEEP_METRICS), format_func=METRIC_LABELS.get, key="sweep_metric")
best = {}
if metric == "mae":
    best = {m: run.mae_optimum for m, run in runs.items()}  # the exact weighted-median optimum, not the grid's
elif metric in ("discrimination_score_l1", "discrimination_score_l2"):
    best = {m: float(c[metric].idxmax()) for m, c in curves.items()}
fig = plots.sweep_curves(curves, metric=metric, limits={m: run.limits for m, run in runs.items()}, optimum=best,
                         n_perts=n_perts if metric.startswith("discrimination_score_l") else None,
                         log_y=metric == "mae")  # fmt: skip
st.plotly_chart(fig, key="sweep_chart")
ui.download_figure(fig, f"sweep_{metric}")
st.caption(
    f"Dashed: analytic limits (s → 0: every prediction is the control; s → ∞ for L1: real deltas ranked by their "
    f"projection on the *sign* of the predicted delta). Dotted: {'MAE-optimal' if metric == 'mae' else 'best'} s. "
    f"N = {n_perts} test perturbations."
)
table = pd.concat(curves, names=["model"]).reset_index()
st.download_button("Download curves (CSV)", table.to_csv(index=False), "sweep_curves.csv", "text/csv")
with st.expander("Limits and optima"):
    limits = pd.concat({m: run.limits.drop(columns="values") for m, run in runs.items()}, names=["model"])
    st.dataframe(limits)
    opt = pd.DataFrame({"MAE-optimal s": {m: run.mae_optimum for m, run in runs.items()}})
    opt["L1-PDS-best s (grid)"] = {m: float(c["discrimination_score_l1"].idxmax()) for m, c in curves.items()}
    st.dataframe(opt)
    st.download_button("Download limits (CSV)", limits.to_csv(), "sweep_limits.csv", "text/csv")


@st.fragment
def at_scale() -> None:
    """Metrics at one scale: the slider only indexes the precomputed curves, so only this fragment reruns."""
    scale = st.select_slider(
        "Scale s", options=list(SCALES), value=1.0, format_func=lambda v: f"{v:.3g}", key="sweep_scale"
    )
    i = int(np.flatnonzero(scale == SCALES)[0])
    frame = pd.DataFrame({m: run.sweep.at(i).mean() for m, run in runs.items()}).T.rename(columns=METRIC_LABELS)
    st.dataframe(frame.style.format("{:.4f}"), key="at_scale")
    st.download_button("Download (CSV)", frame.to_csv(), f"metrics_at_s_{scale:.3g}.csv", "text/csv")


st.subheader("Metrics at one scale")
at_scale()

st.subheader("DES and the VCC 2025 score")
scalable = {s.name: s for s in sources if s.kind in ("model", "table")}
toggle = "Compute DES on a coarse grid (a Wilcoxon DE of expanded predicted cells per scale; models and tables)"
if st.toggle(toggle, key="sweep_des") and scalable:
    coarse = tuple(DES_SCALES)
    base = PredictionSource.model("mean_baseline")
    base_curves, base_des = ui.swept(data, base).sweep.curves(), ui.des_along(data, base, (1.0,))
    des = {m: ui.des_along(data, s, coarse) for m, s in scalable.items()}
    scores = {m: scores_along(curves[m], des[m], baseline_curves=base_curves, baseline_des=base_des) for m in des}
    left, right = st.columns(2)
    left.plotly_chart(plots.sweep_curves(des, metric="overlap_at_N"), key="des_chart")
    right.plotly_chart(plots.score_curves(scores), key="score_chart")
    st.caption(
        f"DES computed exactly (not approximated) at {len(coarse)} scales; baseline = mean_baseline at s = 1 "
        "through the same pipeline. Unclipped scores show how far below the baseline a rescaled model falls. "
        "Predicted cells have no pseudobulk to rescale and are left out here. DE: cell-eval 0.8.2 + pdex 0.3.0 "
        "whatever the sidebar's conventions."
    )
    table = pd.concat({m: des[m].join(scores[m]) for m in des}, names=["model"])
    st.download_button("Download DES and scores (CSV)", table.to_csv(), "sweep_des_scores.csv", "text/csv")

st.subheader("VCC 2026 metrics along the scale")
st.caption(about.SWEEP_TEXT)
try:
    fine = {s.name: ui.expression_along(data, s) for s in sources}
except ValueError as err:
    st.info(f"No VCC 2026 sweep: {err}")
else:
    fig = plots.metric_panels(fine, metrics=["pds_cosine", NORM], labels=about.LABELS, log_y=[NORM],
                              title="The predicted effect scaled in the VCC 2026 expression space")  # fmt: skip
    st.plotly_chart(fig, key="sweep26_chart")
    ui.download_figure(fig, "sweep_vcc2026_expression")
    if st.toggle("Score the scaled predictions in full on a coarse grid (count cells, DE on CPM)", key="sweep_26de"):
        full = {m: ui.scored_along(data, s, tuple(DES_SCALES)) for m, s in scalable.items()}
        panels = ["de_wilcoxon_sig_jaccard", "de_wilcoxon_direction_fidelity_yield_raw", "vcc2026_score"]
        fig = plots.metric_panels(full, metrics=panels, labels={**about.LABELS, "vcc2026_score": "VCC 2026 score"},
                                  title="Scaled, expanded to count cells and scored like a submission")  # fmt: skip
        st.plotly_chart(fig, key="sweep26_full_chart")
        table = pd.concat(full, names=["model"])
        st.download_button("VCC 2026 along the scale (CSV)", table.to_csv(), "sweep_vcc2026.csv", "text/csv")
