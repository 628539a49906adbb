"""Figures of the Perturbation explorer: predicted vs real delta per gene, target knockdown, volcano."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from vcc_core.plots.style import BELOW, PALETTE, style

DE_COLORS = {"both": "#E45756", "real only": "#4C78A8", "predicted only": "#F58518", "neither": "#BBBBBB"}


def delta_scatter(
    real: np.ndarray,
    pred: np.ndarray,
    *,
    genes,
    target: str | None = None,
    de_status=None,
    title: str = "",
    height: int = 420,
    square: bool = False,
) -> go.Figure:
    """Predicted vs real delta of every gene (WebGL), the diagonal drawn, the target gene marked.

    ``de_status`` (one label of :data:`DE_COLORS` per gene) colours by DE call; without it, colour is ``|real|``.
    ``square`` gives both axes one scale, so the diagonal is at 45 degrees.
    """
    genes = np.asarray(genes).astype(str)
    fig = go.Figure()
    if de_status is not None:
        status = np.asarray(de_status)
        for label, color in DE_COLORS.items():
            keep = status == label
            fig.add_trace(_points(real[keep], pred[keep], genes[keep], name=f"DE: {label}", color=color))
    else:
        marker = {"color": np.abs(real), "colorscale": "Viridis", "colorbar": {"title": "|real Δ|"}, "size": 5}
        fig.add_trace(_points(real, pred, genes, name="genes", marker=marker))
    lo = float(np.nanmin([real.min(), pred.min()])) if real.size else -1.0
    hi = float(np.nanmax([real.max(), pred.max()])) if real.size else 1.0
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line={"dash": "dot", "color": "grey"}))
    hit = np.flatnonzero(genes == str(target)) if target is not None else np.array([], int)
    if hit.size:
        i = int(hit[0])
        fig.add_trace(
            go.Scatter(
                x=[real[i]],
                y=[pred[i]],
                mode="markers+text",
                text=[f"target {genes[i]}"],
                textposition="top right",  # the target is usually knocked down: leftmost
                name="target gene",
                marker={"symbol": "x", "size": 14, "color": "black"},
            )
        )
    fig.update_xaxes(title="real Δ (log1p)")
    fig.update_yaxes(title="predicted Δ (log1p)")
    if square:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return style(fig, title=title or "Predicted vs real delta per gene", height=height)


def _points(x, y, text, *, name: str, color: str | None = None, marker: dict | None = None) -> go.Scattergl:
    return go.Scattergl(
        x=x,
        y=y,
        text=text,
        mode="markers",
        name=name,
        marker=marker or {"color": color, "size": 5, "opacity": 0.7},
        hovertemplate="%{text}<br>real %{x:.3f}<br>pred %{y:.3f}<extra></extra>",
    )


def knockdown_pair(table: pd.DataFrame) -> go.Figure:
    """Grouped bars of the target gene's log2 fold change, real vs predicted (columns ``perturbation, real, pred``)."""
    fig = go.Figure()
    for col, color in (("real", "#4C78A8"), ("predicted", "#F58518")):
        fig.add_trace(go.Bar(x=table["perturbation"], y=table[col], name=col, marker_color=color))
    fig.update_yaxes(title="log2 fold change of target")
    fig.update_layout(barmode="group")
    return style(fig, title="Knockdown of the target gene", height=320)


def volcano(log2fc: np.ndarray, fdr: np.ndarray, *, genes, alpha: float = 0.05, title: str = "") -> go.Figure:
    """-log10 FDR vs log2 fold change of the real data's DE; genes with ``fdr < alpha`` coloured."""
    genes = np.asarray(genes).astype(str)
    y = -np.log10(np.clip(np.asarray(fdr, np.float64), 1e-300, None))
    x = np.clip(np.asarray(log2fc, np.float64), -10, 10)  # +/-inf fold changes (a zero side) drawn at the edge
    sig = np.asarray(fdr) < alpha
    fig = go.Figure()
    for keep, name, color in ((~sig, "not significant", "#BBBBBB"), (sig, f"FDR < {alpha}", "#E45756")):
        fig.add_trace(
            go.Scattergl(
                x=x[keep],
                y=y[keep],
                text=genes[keep],
                mode="markers",
                name=name,
                marker={"color": color, "size": 5},
                hovertemplate="%{text}<br>log2FC %{x:.2f}<br>-log10 FDR %{y:.1f}<extra></extra>",
            )
        )
    fig.add_hline(y=-np.log10(alpha), line_dash="dot")
    fig.update_xaxes(title="log2 fold change (clipped to ±10)")
    fig.update_yaxes(title="-log10 FDR")
    return style(fig, title=title or "Volcano (real DE)")


def overview_chart(table: pd.DataFrame, *, metric: str, label: str):
    """Altair bars of ``metric`` per perturbation in the order of ``table`` (:func:`overview`), coloured by the real
    effect size; a click picks perturbations (selection ``picked``), a drag along the bars a range of them (``box``)."""
    import altair as alt

    picked = alt.selection_point(name="picked", fields=["perturbation"], toggle="true")
    box = alt.selection_interval(name="box", encodings=["x"])
    base = alt.Chart(table).encode(
        x=alt.X("perturbation:N", sort=list(table["perturbation"]), title=None),
        tooltip=["perturbation", alt.Tooltip(f"{metric}:Q", format=".3f"), alt.Tooltip("effect_l2:Q", format=".2f"),
                 alt.Tooltip("target_log2fc_real:Q", format=".2f"), alt.Tooltip("target_log2fc_pred:Q", format=".2f")],
    )  # fmt: skip
    bars = base.mark_bar().encode(
        y=alt.Y(f"{metric}:Q", title=label),
        color=alt.Color("effect_l2:Q", title="real ‖Δ‖₂", scale=alt.Scale(scheme="viridis")),
        opacity=alt.condition(picked, alt.value(1.0), alt.value(0.35)),
    )
    title = f"Every perturbation by {label} (click, or drag along the bars, to pick)"
    return bars.add_params(picked, box).properties(height=220, title=title)


def versus_scatter(table: pd.DataFrame, *, a: str, b: str, metric: str, label: str) -> go.Figure:
    """``metric`` of A (y) against B (x) per perturbation, coloured by which is better, the diagonal drawn; each
    point carries its perturbation as ``customdata`` (for selection events)."""
    colors = {"better": "#54A24B", "worse": "#E45756", "equal": "#BBBBBB", "n/a": "#BBBBBB"}
    fig = go.Figure()
    for outcome, rows in table.groupby("outcome", sort=False):
        fig.add_trace(
            go.Scatter(
                x=rows["b"],
                y=rows["a"],
                mode="markers",
                name=f"{a} {outcome}" if outcome in ("better", "worse") else outcome,
                customdata=rows.index.astype(str),
                marker={"size": 10, "color": colors[outcome]},
                hovertemplate="%{customdata}<br>B %{x:.3f}<br>A %{y:.3f}<extra></extra>",
            )
        )
    values = table[["a", "b"]].to_numpy(np.float64)
    lo, hi = (float(np.nanmin(values)), float(np.nanmax(values))) if np.isfinite(values).any() else (0.0, 1.0)
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", showlegend=False,
                             line={"dash": "dot", "color": "grey"}, hoverinfo="skip"))  # fmt: skip
    fig.update_xaxes(title=f"{label}: B = {b}")
    fig.update_yaxes(title=f"{label}: A = {a}", scaleanchor="x", scaleratio=1)
    return style(fig, title=f"{label} per perturbation, A against B (click a point to open it)", height=560)


def reach_walk(walk: pd.DataFrame, *, title: str, floor: float = 0.9) -> go.Figure:
    """Purity (share of genes right in sign so far) along the prediction's ranking of the real DE genes, with the
    0.9 floor and the reach (the deepest point at or above it) marked. ``walk``:
    :func:`vcc_core.evaluation.vcc2026.direction_walk`."""
    fig = go.Figure(
        go.Scatter(
            x=walk["depth"], y=walk["purity"], mode="lines+markers", name="purity", customdata=walk[["gene"]],
            hovertemplate="%{customdata[0]}<br>depth %{x}: purity %{y:.2f}<extra></extra>",
            marker={"color": np.where(walk["pred_significant"], PALETTE[0], "#BBBBBB").tolist(), "size": 5},
        )
    )  # fmt: skip
    fig.add_hline(y=floor, line={"dash": "dash", "color": BELOW}, annotation_text=f"floor {floor:g}")
    pure = walk[(walk["depth"] > 0) & (walk["purity"] >= floor)]
    if len(pure):
        fig.add_vline(x=float(pure["depth"].max()), line={"dash": "dot"}, annotation_text="reach")
    fig.update_xaxes(title="real DE genes walked, in the prediction's order (adjudicable)")
    fig.update_yaxes(title="share right in sign so far", range=[0, 1.05])
    return style(fig, title=title, height=360)
