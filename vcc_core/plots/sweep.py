"""Figures of the Scaling sweep: metrics and the VCC 2025 score against the output scale, limits drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from vcc_core.plots.style import METRIC_LABELS, color, style


def sweep_curves(
    curves: dict[str, pd.DataFrame],
    *,
    metric: str,
    limits: dict[str, pd.DataFrame] | None = None,
    optimum: dict[str, float] | None = None,
    n_perts: int | None = None,
    log_y: bool = False,
) -> go.Figure:
    """One curve per model of ``metric`` (mean over perturbations) vs scale, log x.

    ``limits`` (per model, :func:`vcc_core.analyses.sweep.pds_limits` frames) are drawn as dashed lines with markers at
    the grid's ends, ``optimum`` (per model, a scale) as vertical lines, ``n_perts`` adds the ``(N + 1) / (2N)`` line.
    """
    fig = go.Figure()
    for i, (model, frame) in enumerate(curves.items()):
        hue = color(i)
        fig.add_trace(go.Scatter(x=frame.index, y=frame[metric], mode="lines+markers", name=model, line_color=hue))
        lim = limits.get(model) if limits else None
        if lim is not None:
            for _, row in lim[lim["metric"] == metric].iterrows():
                fig.add_hline(
                    y=row["value"],
                    line={"dash": "dash", "color": hue, "width": 1},
                    annotation_text=f"{model}: s→{'0' if row['limit'] == 'zero' else '∞'}",
                )
        if optimum and model in optimum:
            # Annotations on a log axis take log10 coordinates (shapes take data ones), so the label is placed apart.
            fig.add_vline(x=optimum[model], line={"dash": "dot", "color": hue})
            fig.add_annotation(
                x=np.log10(optimum[model]), y=1, yref="paper", text=f"best s {model}", showarrow=False, yanchor="bottom"
            )
    if n_perts:
        fig.add_hline(y=(n_perts + 1) / (2 * n_perts), line_color="grey", annotation_text="(N+1)/(2N)")
    scales = np.concatenate([np.asarray(frame.index, dtype=float) for frame in curves.values()])
    fig.update_xaxes(
        type="log",
        title="scale s (prediction = control + s · Δ)",
        range=[np.log10(scales.min()) - 0.05, np.log10(scales.max()) + 0.05],
    )
    fig.update_yaxes(type="log" if log_y else "linear", title=METRIC_LABELS.get(metric, metric))
    return style(fig, title=f"{METRIC_LABELS.get(metric, metric)} vs output scale", height=380)


def score_curves(scores: dict[str, pd.DataFrame]) -> go.Figure:
    """VCC 2025 score vs scale per model, clipped (solid) and unclipped (dashed)."""
    fig = go.Figure()
    for i, (model, frame) in enumerate(scores.items()):
        for col, dash in (("clipped", "solid"), ("unclipped", "dash")):
            fig.add_trace(
                go.Scatter(
                    x=frame.index,
                    y=frame[col],
                    mode="lines+markers",
                    name=f"{model} ({col})",
                    line={"dash": dash, "color": color(i)},
                )
            )
    fig.add_hline(y=0, line_color="grey")
    fig.update_xaxes(type="log", title="scale s")
    fig.update_yaxes(title="VCC 2025 score")
    return style(fig, title="VCC 2025 score vs output scale", height=360)


def metric_panels(
    curves: dict[str, pd.DataFrame], *, metrics: list[str], labels: dict[str, str], title: str, log_y=()
) -> go.Figure:
    """One panel per metric, one curve per prediction (``curves``: frames indexed by scale), log x, s = 1 marked;
    the metrics in ``log_y`` on a log (symlog-free: positive values only) y axis."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[labels.get(m, m) for m in metrics])
    for i, (name, frame) in enumerate(curves.items()):
        for j, metric in enumerate(metrics, start=1):
            fig.add_trace(
                go.Scatter(x=frame.index, y=frame[metric], mode="lines+markers", name=name, line_color=color(i),
                           legendgroup=name, showlegend=j == 1),
                row=1, col=j,
            )  # fmt: skip
    for j, metric in enumerate(metrics, start=1):
        fig.add_vline(x=1.0, line={"dash": "dot", "color": "#888888"}, row=1, col=j)
        fig.update_xaxes(type="log", title="scale s", row=1, col=j)
        if metric in log_y:
            fig.update_yaxes(type="log", row=1, col=j)
    return style(fig, title=title, height=400)
