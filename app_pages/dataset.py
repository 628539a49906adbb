"""Dataset: what is loaded, at a glance."""

import streamlit as st

import ui
from vcc_core.plots import dataset as plots

data = ui.page("Dataset")

s = data.summary
st.caption(f"{data.name} · values read as **{data.space}** · column `{data.pert_col}`, control `{data.control}`")
cols = st.columns(5)
cols[0].metric("Cells", f"{s.n_cells:,}")
cols[1].metric("Genes", f"{s.n_genes:,}")
cols[2].metric("Perturbations", f"{s.n_perts:,}")
cols[3].metric("Control cells", f"{s.n_control:,}")
cols[4].metric("Median cells / perturbation", f"{int(s.cells_per_pert.median()):,}")

left, right = st.columns(2)
left.plotly_chart(plots.cells_per_perturbation(s.cells_per_pert, n_control=s.n_control, splits=data.splits))
right.plotly_chart(plots.library_sizes(s.umis_per_cell, space=data.space))
left, right = st.columns([2, 1])
left.plotly_chart(plots.knockdown_bars(data.knockdown))
right.plotly_chart(plots.split_sizes(data.splits))

with st.expander("Knockdown table"):
    st.dataframe(data.knockdown, hide_index=True)
    st.download_button("Download CSV", data.knockdown.to_csv(index=False), "knockdown.csv", "text/csv")
