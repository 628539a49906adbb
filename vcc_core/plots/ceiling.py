"""Figures of the DES noise ceiling page: replicate metrics per perturbation and seed, and where spurious calls sit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from vcc_core.plots.style import BELOW, color, label, style


def ceiling_scatter(table: pd.DataFrame, *, metric: str = "overlap_at_N", x: str = "n_de_real") -> go.Figure:
    """Per perturbation (rows of ``table``): the replicate's ``metric`` (mean over seeds) against column ``x``.

    A column ``f"{metric}_std"``, when present, is drawn as error bars (spread over seeds).
    """
    std = table.get(f"{metric}_std")
    fig = go.Figure(
        go.Scatter(
            x=table[x],
            y=table[metric],
            error_y={"type": "data", "array": std, "visible": std is not None, "thickness": 1},
            mode="markers",
            text=table.index.astype(str),
            name="perturbations",
            marker={"size": 8, "color": "#4C78A8", "opacity": 0.8},
            hovertemplate="%{text}<br>x %{x:.3g}<br>ceiling %{y:.3f}<extra></extra>",
        )
    )
    fig.add_hline(y=float(np.nanmean(table[metric])), line_dash="dash", annotation_text="mean")
    fig.update_xaxes(title=label(x))
    fig.update_yaxes(title=f"{label(metric)} of a split-half replicate")
    return style(fig, title=f"{label(metric)} ceiling per perturbation")  # the x axis names what it is against


def seed_distribution(per_seed: pd.DataFrame, *, metric: str = "overlap_at_N") -> go.Figure:
    """One box (all points shown) of the per-perturbation ``metric`` for each seed of the random split."""
    fig = go.Figure()
    for seed, rows in per_seed.groupby("seed"):
        fig.add_trace(
            go.Box(
                y=rows[metric],
                name=f"seed {seed}",
                text=rows["perturbation"],
                boxpoints="all",
                jitter=0.4,
                marker_color=color(int(seed)),
                hovertemplate="%{text}: %{y:.3f}<extra></extra>",
            )
        )
    fig.update_yaxes(title=label(metric))
    return style(fig, title=f"{label(metric)} of the replicate across seeds", height=380)


def spurious_histogram(genes: pd.DataFrame, *, bins: int = 40) -> go.Figure:
    """Mean control expression of the genes behind DE calls made in one half only vs in both halves.

    ``genes`` has ``control_mean``, ``de_one_half`` and ``de_both`` (call counts); every call counts once, and each
    histogram is normalised to percent so the two shapes compare.
    """
    fig = go.Figure()
    for column, name, hue in (("de_one_half", "one half only", BELOW), ("de_both", "both halves", "#4C78A8")):
        total = int(genes[column].sum())
        fig.add_trace(
            go.Histogram(
                x=genes["control_mean"],
                y=genes[column],
                histfunc="sum",
                histnorm="percent",
                nbinsx=bins,
                name=f"{name} ({total:,} calls)",
                marker_color=hue,
                opacity=0.6,
            )
        )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="mean control expression of the gene (log1p)")
    fig.update_yaxes(title="% of calls")
    return style(fig, title="Where the calls that do not replicate sit", height=380)


def floor_curve(curve: pd.DataFrame) -> go.Figure:
    """DES ceiling (mean ± std over seeds) against the expression floor; genes kept written at each point.

    The floors are spaced evenly (a category axis): most lie near 0, where a numeric axis piles up their labels.
    """
    return _des_curve(
        curve,
        x=[f"≥ {floor:g}" for floor in curve.index],
        text=[f"{n:,} genes" for n in curve["n_genes"]],
        color="#4C78A8",
        x_title="expression floor: genes kept have mean control log1p ≥ floor",
        title="DES ceiling when lowly expressed genes are left out",
    )


def cpm_curve(curve: pd.DataFrame) -> go.Figure:
    """DES ceiling (mean ± std over seeds) against pdex's pooled-CPM floor (``cell-eval run --cpm-filter``; 0: off);
    the mean number of DE genes per perturbation written at each point."""
    return _des_curve(
        curve,
        x=["off" if floor == 0 else f"{floor:g}" for floor in curve.index],
        text=[f"{n:.0f} DE genes" for n in curve["n_de"]],
        color="#F58518",
        x_title="--cpm-filter T: a gene's DE dropped where its pooled CPM ≤ T in both groups",
        title="DES ceiling with cell-eval's CPM floor",
    )


def _des_curve(curve: pd.DataFrame, *, x: list[str], text: list[str], color: str, x_title: str, title: str):
    """The split-half DES (mean, std error bars) at each floor of ``curve``, evenly spaced, labelled by ``text``."""
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=curve["overlap_at_N"],
            error_y={"type": "data", "array": curve["overlap_at_N_std"], "thickness": 1},
            mode="lines+markers+text",
            text=text,
            textposition="top center",
            name="DES ceiling",
            line_color=color,
        )
    )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="DES of a split-half replicate")
    return style(fig, title=title, height=380)


def against_replicate(table: pd.DataFrame, *, name: str, metric: str = "overlap_at_N") -> go.Figure:
    """A prediction's ``metric`` per perturbation (y) against a split-half replicate's (x), the diagonal drawn: a point
    on it is as good as a second run of the experiment."""
    top = float(np.nanmax([table["replicate"].max(), table["prediction"].max(), 1e-9]))
    fig = go.Figure(
        go.Scatter(
            x=table["replicate"],
            y=table["prediction"],
            mode="markers",
            text=table.index.astype(str),
            name=name,
            marker={"size": 9, "color": "#F58518"},
            hovertemplate="%{text}<br>replicate %{x:.3f}<br>prediction %{y:.3f}<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="as good as a replicate",
                             line={"dash": "dot", "color": "grey"}))  # fmt: skip
    fig.update_xaxes(title=f"{label(metric)} of a split-half replicate")
    fig.update_yaxes(title=f"{label(metric)} of {name}")
    return style(fig, title=f"{name} against the replicate ceiling, per perturbation", height=420)
