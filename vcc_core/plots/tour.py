"""Figures of the guided tour that no page draws: a prediction's distances, DE gene sets, the scaling trade-off,
models side by side, and the two challenges' scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vcc_core.plots.style import BELOW, PALETTE, color, label, style


def distance_bars(distances: np.ndarray, names: list[str], *, truth: int, title: str) -> go.Figure:
    """One bar per real effect, nearest first, the prediction's own effect in colour."""
    order = np.argsort(distances, kind="stable")
    colors = [PALETTE[1] if i == truth else "#BBBBBB" for i in order]
    fig = go.Figure(go.Bar(x=[names[i] for i in order], y=distances[order], marker_color=colors))
    fig.update_xaxes(title="real effect of perturbation (nearest first; its own in orange)", showticklabels=False)
    fig.update_yaxes(title="L1 distance")
    return style(fig, title=title, height=360)


def de_sets(counts: dict[str, int], *, title: str) -> go.Figure:
    """Genes DE in both, in the real cells only, in the predicted cells only."""
    fig = go.Figure(go.Bar(x=list(counts), y=list(counts.values()), marker_color=[PALETTE[2], PALETTE[0], BELOW],
                           text=list(counts.values()), textposition="outside"))  # fmt: skip
    fig.update_yaxes(title="genes (FDR < 0.05)")
    return style(fig, title=title, height=360)


def tradeoff(curve: pd.DataFrame, *, pds: str, mae: str, title: str) -> go.Figure:
    """L1-PDS (left axis) and MAE (right axis, log) against the output scale, s = 1 marked."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=curve.index, y=curve[pds], name=label(pds), line_color=color(0)), secondary_y=False)
    fig.add_trace(go.Scatter(x=curve.index, y=curve[mae], name=label(mae), line_color=BELOW), secondary_y=True)
    fig.add_vline(x=1.0, line={"dash": "dot", "color": "#888888"})
    fig.update_xaxes(type="log", title="scale s")
    fig.update_yaxes(title=label(pds), secondary_y=False)
    fig.update_yaxes(title=label(mae), type="log", secondary_y=True)
    return style(fig, title=title, height=380)


def model_bars(table: pd.DataFrame, *, metrics: tuple[str, ...]) -> go.Figure:
    """One panel per metric, one bar per model (rows of ``table``)."""
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[label(m) for m in metrics])
    for j, metric in enumerate(metrics, start=1):
        colors = [color(i) for i in range(len(table))]
        fig.add_trace(go.Bar(x=table.index, y=table[metric], marker_color=colors, showlegend=False), row=1, col=j)
    return style(fig, title="Models and the oracle replicate (means over the test perturbations)", height=380)


def two_scores(scores: pd.DataFrame) -> go.Figure:
    """Each model's VCC 2025 (clipped) and VCC 2026 scores side by side."""
    fig = go.Figure()
    for i, (column, name) in enumerate((("vcc2025", "VCC 2025 (clipped)"), ("vcc2026", "VCC 2026"))):
        fig.add_trace(go.Bar(x=scores.index, y=scores[column], name=name, marker_color=color(i)))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="score")
    return style(fig, title="The same models under the two challenges' scores", height=380)
