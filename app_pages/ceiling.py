"""DES noise ceiling: split-half replicates of the real data, scored like a perfect model's submission."""

import streamlit as st

import ui
from vcc_core.analyses.ceiling import against_replicate, ceiling
from vcc_core.metrics import VCC_METRICS
from vcc_core.plots import ceiling as plots
from vcc_core.plots.style import AXIS_LABELS

data = ui.page("DES noise ceiling")
st.caption(
    "Every perturbation's cells and the control cells are split at random into two halves. Each half is tested for "
    "DE against its own half of the controls, and half B is scored against half A as if it were a prediction: the "
    "scores a model could reach if it were as good as a second run of the same experiment. " + ui.conventions_caption()
)
left, right = st.columns(2)
seeds = int(left.number_input("Random splits (seeds)", min_value=1, max_value=10, value=3, key="ceiling_seeds"))
split = right.selectbox(
    "Perturbations",
    ["test", "all"],
    key="ceiling_split",
    help="test: the ones the Leaderboard scores (its 2026-style scale)",
)
try:
    with ui.progress_bar() as progress:
        result = ceiling(data, seeds=seeds, split=split, progress=progress, conventions=ui.conventions())
except ValueError as err:
    st.error(f"Could not split and test the data: {err}")
    st.stop()
table, r = result.per_perturbation(), result.replicate_values()

cols = st.columns(4)
cols[0].metric("DES ceiling", f"{r['overlap_at_N']:.3f}")
cols[1].metric("PDS (L1) ceiling", f"{r['discrimination_score_l1']:.3f}")
cols[2].metric("MAE between halves", f"{r['mae']:.4f}")
cols[3].metric("DE genes per perturbation (half A)", f"{r['de_nsig_counts_real']:.1f}")

st.subheader("DES ceiling per perturbation")
x = st.radio("Against", ["n_de_real", "effect_l2"], format_func=AXIS_LABELS.get, horizontal=True, key="ceiling_x")
left, right = st.columns(2)
with left:
    fig = plots.ceiling_scatter(table, x=x)
    st.plotly_chart(fig, key="des_scatter")
    ui.download_figure(fig, "des_ceiling")
with right:
    fig = plots.seed_distribution(result.per_seed)
    st.plotly_chart(fig, key="seed_box")
    ui.download_figure(fig, "des_ceiling_seeds")
st.download_button("Per perturbation (CSV)", table.to_csv(), "ceiling_per_perturbation.csv", "text/csv")
st.download_button("Per seed (CSV)", result.per_seed.to_csv(index=False), "ceiling_per_seed.csv", "text/csv")

st.subheader("Calls that do not replicate")
st.caption(
    "A gene called DE in one half but not the other is noise for the DES. Such calls sit on lowly expressed genes; "
    "leaving genes under an expression floor out of the DES raises the ceiling."
)
left, right = st.columns(2)
with left:
    fig = plots.spurious_histogram(result.genes)
    st.plotly_chart(fig, key="spurious_hist")
    ui.download_figure(fig, "spurious_de_expression")
with right:
    curve = result.floor_curve()
    fig = plots.floor_curve(curve)
    st.plotly_chart(fig, key="floor_chart")
    ui.download_figure(fig, "des_ceiling_vs_floor")
cpm = result.cpm_curve()
st.caption(
    f"cell-eval's --cpm-filter drops a gene's DE call where its pooled CPM is at most T in both the perturbation "
    f"and the control: at T = 5 the replicate's DES is {cpm.loc[5.0, 'overlap_at_N']:.3f}, against "
    f"{cpm.loc[0.0, 'overlap_at_N']:.3f} without it. This curve follows cell-eval 0.8.2 + pdex 0.3.0 whatever the "
    "sidebar's conventions: cell-eval 0.6.6 had no CPM floor."
)
fig = plots.cpm_curve(cpm)
st.plotly_chart(fig, key="cpm_chart")
ui.download_figure(fig, "des_ceiling_vs_cpm_filter")
genes = result.one_half_share()
st.dataframe(genes.head(50), hide_index=True, key="genes_table")
st.caption(ui.conventions_caption())
st.download_button("Gene report (CSV)", genes.to_csv(index=False), "spurious_de_genes.csv", "text/csv")
st.download_button("Ceiling vs floor (CSV)", curve.to_csv(), "des_ceiling_vs_floor.csv", "text/csv")

st.subheader("PDS ceiling")
fig = plots.ceiling_scatter(table, metric="discrimination_score_l1", x="effect_l2")
st.plotly_chart(fig, key="pds_scatter")
ui.download_figure(fig, "pds_ceiling")

st.subheader("Replicate values for 2026-style scaling")
st.caption(
    f"Mean over perturbations, then over {result.n_seeds} seeds: the value `r` in (u − b) / (r − b), where 1 means "
    "as good as a technical replicate. The Leaderboard uses these values for the test perturbations. "
    + ui.conventions_caption()
)
replicate = r.reindex([*VCC_METRICS, *r.index.drop(VCC_METRICS)]).rename_axis("metric").to_frame()
st.dataframe(replicate.style.format("{:.4f}"), key="replicate_table")
st.download_button("Replicate values (CSV)", replicate.to_csv(), "replicate_values.csv", "text/csv")

st.subheader("A prediction against the ceiling")
source = ui.prediction_picker(data, key="ceiling_prediction", default="ridge")
versus = against_replicate(result, ui.scored_or_stop(data, source).metrics)
if versus.empty:
    st.info(f"{source.name} predicts none of these perturbations; pick 'all' above, or another prediction.")
    st.stop()
st.caption(
    f"Median DES of {source.name} over the replicate's, per perturbation: {versus['share_of_replicate'].median():.2f}."
)
st.plotly_chart(plots.against_replicate(versus, name=source.name), key="prediction_vs_ceiling")
st.download_button("Prediction vs ceiling (CSV)", versus.to_csv(), "prediction_vs_ceiling.csv", "text/csv")
