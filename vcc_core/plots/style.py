"""The look every figure shares: template, palette, margins, and the names metrics go by on an axis."""

from __future__ import annotations

import plotly.graph_objects as go

TEMPLATE = "plotly_white"
PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6")
BELOW = "#E45756"
"""Colour of what falls below a line that matters (a clip, a baseline)."""
METRIC_LABELS = {
    "discrimination_score_l1": "PDS (L1)",
    "discrimination_score_l2": "PDS (L2)",
    "discrimination_score_cosine": "PDS (cosine)",
    "discrimination_score_sign_cosine": "PDS (sign cosine)",
    "pearson_delta": "Pearson delta",
    "mae": "MAE",
    "overlap_at_N": "DES (overlap at N)",
}
AXIS_LABELS = {
    "n_de_real": "DE genes of the full real data (FDR < 0.05)",
    "effect_l2": "effect size ‖Δ‖₂ (log1p, full real data)",
    "de_nsig_counts_real": "DE genes of half A",
}


def style(fig: go.Figure, *, title: str, height: int = 420) -> go.Figure:
    """``fig`` with the shared template, ``title``, ``height`` (pixels) and tight margins."""
    fig.update_layout(template=TEMPLATE, title=title, height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def color(i: int) -> str:
    """The ``i``-th colour of the palette (cycled)."""
    return PALETTE[i % len(PALETTE)]


def label(name: str) -> str:
    """How a metric or an axis column is named on a figure."""
    return METRIC_LABELS.get(name, AXIS_LABELS.get(name, name))
