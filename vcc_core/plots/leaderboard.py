"""Figures of the Leaderboard: what clipping at 0 hides in the VCC 2025 scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from vcc_core.plots.style import BELOW, color, label, style


def clipping_bars(per_metric: pd.DataFrame) -> go.Figure:
    """Unclipped VCC 2025 scores: one bar per (metric, model), the clip at 0 drawn, bars below it hatched red.

    ``per_metric`` is :func:`vcc_core.evaluation.leaderboard.vcc2025_per_metric`'s long frame.
    """
    fig = go.Figure()
    for i, (model, rows) in enumerate(per_metric.groupby("model", sort=False)):
        below = rows["unclipped"].to_numpy() < 0
        fig.add_trace(
            go.Bar(
                x=[label(m) if m != "avg_score" else "VCC 2025 score" for m in rows["metric"]],
                y=rows["unclipped"],
                name=model,
                marker={
                    "color": color(i),
                    "line": {
                        "color": np.where(below, BELOW, color(i)).tolist(),
                        "width": np.where(below, 3, 0).tolist(),
                    },
                    "pattern": {"shape": np.where(below, "/", "").tolist(), "fgcolor": BELOW},
                },
                customdata=rows["clipped"],
                hovertemplate=f"{model}<br>%{{x}}: %{{y:.4f}}<br>clipped: %{{customdata:.4f}}<extra></extra>",
            )
        )
    fig.add_hline(
        y=0,
        line={"color": BELOW, "dash": "dash"},
        annotation_text="clip: scores below are read as 0",
        annotation_position="bottom left",  # under the line, clear of the bars above it
    )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="score vs baseline (unclipped)")
    return style(fig, title="What clipping hides: VCC 2025 scores before the clip at 0", height=420)
