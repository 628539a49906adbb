"""Pure figure builders for the Perturbation explorer and the Scaling sweep pages (plotly, no streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

TEMPLATE = "plotly_white"
DE_COLORS = {"both": "#E45756", "real only": "#4C78A8", "predicted only": "#F58518", "neither": "#BBBBBB"}
METRIC_LABELS = {
    "discrimination_score_l1": "PDS (L1)",
    "discrimination_score_l2": "PDS (L2)",
    "discrimination_score_cosine": "PDS (cosine)",
    "discrimination_score_sign_cosine": "PDS (sign cosine)",
    "pearson_delta": "Pearson delta",
    "mae": "MAE",
    "overlap_at_N": "DES (overlap at N)",
}


def _style(fig: go.Figure, *, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title=title, height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def delta_scatter(
    real: np.ndarray, pred: np.ndarray, *, genes, target: str | None = None, de_status=None, title: str = ""
) -> go.Figure:
    """Predicted vs real delta of every gene (WebGL), the diagonal drawn, the target gene marked.

    ``de_status`` (one label of :data:`DE_COLORS` per gene) colours by DE call; without it, colour is ``|real|``.
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
    return _style(fig, title=title or "Predicted vs real delta per gene")


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
    return _style(fig, title="Knockdown of the target gene", height=320)


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
    return _style(fig, title=title or "Volcano (real DE)")


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

    ``limits`` (per model, :func:`vcc_core.sweep.pds_limits` frames) are drawn as dashed lines with markers at the
    grid's ends, ``optimum`` (per model, a scale) as vertical lines, ``n_perts`` adds the ``(N + 1) / (2N)`` line.
    """
    fig = go.Figure()
    for i, (model, frame) in enumerate(curves.items()):
        color = _color(i)
        fig.add_trace(go.Scatter(x=frame.index, y=frame[metric], mode="lines+markers", name=model, line_color=color))
        lim = limits.get(model) if limits else None
        if lim is not None:
            for _, row in lim[lim["metric"] == metric].iterrows():
                fig.add_hline(
                    y=row["value"],
                    line={"dash": "dash", "color": color, "width": 1},
                    annotation_text=f"{model}: s→{'0' if row['limit'] == 'zero' else '∞'}",
                )
        if optimum and model in optimum:
            # Annotations on a log axis take log10 coordinates (shapes take data ones), so the label is placed apart.
            fig.add_vline(x=optimum[model], line={"dash": "dot", "color": color})
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
    return _style(fig, title=f"{METRIC_LABELS.get(metric, metric)} vs output scale", height=380)


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
                    line={"dash": dash, "color": _color(i)},
                )
            )
    fig.add_hline(y=0, line_color="grey")
    fig.update_xaxes(type="log", title="scale s")
    fig.update_yaxes(title="VCC 2025 score")
    return _style(fig, title="VCC 2025 score vs output scale", height=360)


def _color(i: int) -> str:
    palette = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6"]
    return palette[i % len(palette)]


# --------------------------------------------------------------------------- tables behind the explorer's figures


def de_status(real_fdr: np.ndarray, pred_fdr: np.ndarray, *, alpha: float = 0.05) -> np.ndarray:
    """Per gene: ``"both"``, ``"real only"``, ``"predicted only"`` or ``"neither"`` significant (``fdr < alpha``)."""
    real, pred = np.asarray(real_fdr) < alpha, np.asarray(pred_fdr) < alpha
    return np.select([real & pred, real, pred], ["both", "real only", "predicted only"], default="neither")


def top_genes(
    genes, real: np.ndarray, pred: np.ndarray, *, n: int = 50, real_fdr=None, pred_fdr=None, exclude: str | None = None
) -> pd.DataFrame:
    """The ``n`` genes with the largest ``|real Δ|`` (``exclude``: a gene left out, e.g. the target), both effects."""
    frame = pd.DataFrame({"gene": np.asarray(genes).astype(str), "real_delta": real, "pred_delta": pred})
    if real_fdr is not None and pred_fdr is not None:
        frame["real_fdr"], frame["pred_fdr"] = real_fdr, pred_fdr
    if exclude is not None:
        frame = frame[frame["gene"] != str(exclude)]
    return frame.reindex(frame["real_delta"].abs().sort_values(ascending=False).index).head(n).reset_index(drop=True)
