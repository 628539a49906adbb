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


def scores_2026(scores: pd.DataFrame, *, labels: dict[str, str]) -> go.Figure:
    """VCC 2026 scores per metric (``from_replicate``), one bar per (metric, source), with the two ends of the
    scale drawn: 0 (the generic baseline) and 1 (the technical replicate). Rows of ``scores``: sources."""
    fig = go.Figure()
    for i, (name, row) in enumerate(scores.iterrows()):
        fig.add_trace(
            go.Bar(
                x=[labels.get(m, m) for m in row.index],
                y=row.to_numpy(dtype=float),
                name=str(name),
                marker={"color": color(i)},
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line={"color": BELOW, "dash": "dash"}, annotation_text="generic baseline (0)")
    fig.add_hline(y=1, line={"color": "#54A24B", "dash": "dash"}, annotation_text="technical replicate (1)")
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="score: (u - baseline) / (replicate - baseline)")
    return style(fig, title="VCC 2026 scores per metric: between the baseline and a replicate", height=420)
