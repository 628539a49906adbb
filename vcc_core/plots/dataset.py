"""Figures of the Dataset page: cells per perturbation, library sizes, the split and the knockdown of targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from vcc_core.plots.style import style

HEIGHT = 360
SPLIT_COLORS = {"train": "#4C78A8", "val": "#F58518", "test": "#54A24B"}


def cells_per_perturbation(cells: pd.Series, *, n_control: int, splits: pd.Series | None = None) -> go.Figure:
    """Bar chart of cells per perturbation (sorted), coloured by split, control count as a reference line."""
    frame = cells.sort_values(ascending=False).rename("cells").reset_index()
    frame.columns = ["perturbation", "cells"]
    frame["split"] = frame["perturbation"].map(splits) if splits is not None else "all"
    fig = px.bar(frame, x="perturbation", y="cells", color="split", color_discrete_map=SPLIT_COLORS)
    fig.update_xaxes(showticklabels=frame.shape[0] <= 60, categoryorder="total descending")
    fig.add_annotation(text=f"control cells: {n_control:,}", xref="paper", yref="paper", x=1, y=1.08, showarrow=False)
    return style(fig, title="Cells per perturbation", height=HEIGHT)


def library_sizes(totals: np.ndarray, *, space: str) -> go.Figure:
    """Histogram of per-cell library size (UMIs for counts, summed log1p values otherwise)."""
    label = "UMIs per cell" if space == "counts" else "sum of log1p values per cell"
    fig = px.histogram(pd.DataFrame({label: totals}), x=label, nbins=60)
    fig.add_vline(x=float(np.median(totals)), line_dash="dash", annotation_text="median")
    return style(fig, title=label[0].upper() + label[1:], height=HEIGHT)


def split_sizes(splits: pd.Series) -> go.Figure:
    """Number of perturbations in train / val / test."""
    counts = splits.value_counts().reindex(list(SPLIT_COLORS)).fillna(0).rename("perturbations").reset_index()
    counts.columns = ["split", "perturbations"]
    fig = px.bar(counts, x="split", y="perturbations", color="split", color_discrete_map=SPLIT_COLORS, text_auto=True)
    return style(fig, title="Perturbation split", height=300)


def knockdown_bars(table: pd.DataFrame) -> go.Figure:
    """log2 fold change of each target gene vs control, sorted; unmeasured targets left out."""
    frame = table[table["measured"]].sort_values("log2fc")
    fig = px.bar(
        frame,
        x="perturbation",
        y="log2fc",
        color="remaining",
        color_continuous_scale="RdBu",
        range_color=(0, 2),
        hover_data={"target": True, "remaining": ":.0%", "cells": True},
    )
    fig.add_hline(y=np.log2(0.3), line_dash="dot", annotation_text="70% knockdown")
    fig.update_xaxes(showticklabels=frame.shape[0] <= 60)
    fig.update_yaxes(title="log2 fold change of target vs control")
    missing = int((~table["measured"]).sum())
    title = "Knockdown of each target gene" + (f" ({missing} targets not measured)" if missing else "")
    return style(fig, title=title, height=HEIGHT)
