"""Scores relative to a baseline: VCC 2025 (``cell-eval score``), VCC 2026 replicate scaling, average rank.

VCC 2025 (cell-eval 0.8.2 ``_score.py``): for each metric column of the aggregate tables, ``u`` the user's and ``b``
the baseline's value of one statistic (the mean), the score is ``1 - u / b`` for metrics whose best value is 0 and
``(u - b) / (1 - b)`` for those whose best is 1; NaN becomes 0, scores are clipped at 0 and averaged into
``avg_score``. Run on the ``vcc`` profile this is the challenge score (mean of the MAE, DES and PDS scores).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vcc_core.metrics import best_value

GENERALIST_METRICS = [
    "overlap_at_N",
    "discrimination_score_l1",
    "mae",
    "pearson_delta",
    "de_spearman_lfc_sig",
    "pr_auc",
    "de_spearman_sig",
]
"""Seven metrics of the VCC 2025 Generalist ranking as we read it: the three scored ones plus Pearson delta, LFC
Spearman, AUPRC and effect-size Spearman (the exact list is not published in code; see METRICS.md)."""


def read_agg(agg: pd.DataFrame | str | Path) -> pd.DataFrame:
    """An aggregate table indexed by ``statistic`` (from a CSV path or a frame with that column or index).

    Raises ``ValueError`` when there is no ``statistic`` column (the file is likely not an ``agg_results.csv``).
    """
    frame = pd.read_csv(agg) if isinstance(agg, str | Path) else agg.copy()
    if frame.index.name != "statistic":
        if "statistic" not in frame.columns:
            msg = "missing 'statistic' column in the aggregate table (is it results.csv instead of agg_results.csv?)"
            raise ValueError(msg)
        frame = frame.set_index("statistic")
    return frame.astype("float64")


def score_vcc2025(
    user: pd.DataFrame | str | Path,
    base: pd.DataFrame | str | Path,
    *,
    statistic: str = "mean",
    clip: bool = True,
) -> pd.DataFrame:
    """Baseline-normalised scores per metric and their mean, as ``cell-eval score`` writes them.

    Parameters
    ----------
    user, base
        Aggregate tables (``agg_results.csv`` layout) of the model and of the baseline, with the same columns.
    statistic
        Row compared (cell-eval: ``mean``).
    clip
        Clip scores at 0 (the challenge rule). ``False`` shows how far below the baseline a model falls.

    Returns
    -------
    pd.DataFrame
        Columns ``metric`` and ``from_baseline``: best-zero metrics, then best-one metrics (each in column order),
        then ``avg_score``. Metrics without a best value (e.g. ``de_nsig_counts_real``) are left out.
    """
    u_frame, b_frame = read_agg(user), read_agg(base)
    if list(u_frame.columns) != list(b_frame.columns):
        msg = f"columns differ: user {list(u_frame.columns)} vs baseline {list(b_frame.columns)}"
        raise ValueError(msg)
    if statistic not in u_frame.index or statistic not in b_frame.index:
        msg = f"statistic {statistic!r} not found; rows are {', '.join(map(str, u_frame.index))}"
        raise ValueError(msg)
    u, b = u_frame.loc[statistic], b_frame.loc[statistic]
    best = {c: best_value(c) for c in u.index}
    zero = [c for c in u.index if best[c] == "zero"]
    one = [c for c in u.index if best[c] == "one"]
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.concatenate([1.0 - u[zero] / b[zero], (u[one] - b[one]) / (1.0 - b[one])])
    scores[np.isnan(scores)] = 0.0
    if clip:
        scores = np.clip(scores, 0.0, None)
    return pd.DataFrame({"metric": [*zero, *one, "avg_score"], "from_baseline": [*scores, scores.mean()]})


def score_replicate_scaled(
    user: pd.Series | dict, base: pd.Series | dict, replicate: pd.Series | dict, *, metrics: list[str] | None = None
) -> pd.Series:
    """VCC 2026-style scores ``(u - b) / (r - b)``: 0 = baseline, 1 = as good as a technical replicate.

    ``r`` is the metric of a split-half replicate of the real data (mean over seeds); not clipped, so a model
    beyond the replicate scores above 1 and one below the baseline below 0. The same formula holds for
    best-zero metrics (``r < b``). Returns one score per metric plus ``avg_score``.
    """
    u, b, r = (pd.Series(x, dtype="float64") for x in (user, base, replicate))
    names = metrics if metrics is not None else [m for m in u.index if m in b.index and m in r.index]
    missing = [m for m in names if m not in u.index or m not in b.index or m not in r.index]
    if missing:
        msg = f"user, baseline and replicate values are all needed; missing for: {', '.join(missing)}"
        raise ValueError(msg)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (u[names] - b[names]) / (r[names] - b[names])
    return pd.concat([scores, pd.Series({"avg_score": scores.mean()})])


def average_rank(table: pd.DataFrame, *, metrics: list[str] | None = None) -> pd.DataFrame:
    """Rank models (rows) on each metric (columns, e.g. aggregate means), then average the ranks.

    Rank 1 is best: highest value for best-one metrics, lowest for best-zero ones; ties share the average rank
    and NaN ranks last. Returns the per-metric ranks and ``average_rank``, best model first.

    Raises ``ValueError`` for a metric missing from ``table`` or without a best value.
    """
    names = metrics if metrics is not None else GENERALIST_METRICS
    missing = [m for m in names if m not in table.columns]
    if missing:
        msg = f"table lacks metric column(s): {', '.join(missing)}"
        raise ValueError(msg)
    ranks = {}
    for name in names:
        best = best_value(name)
        if best not in ("zero", "one"):
            msg = f"metric {name!r} has no best value to rank by"
            raise ValueError(msg)
        ranks[name] = table[name].astype(float).rank(ascending=best == "zero", method="average", na_option="bottom")
    out = pd.DataFrame(ranks, index=table.index)
    out["average_rank"] = out.mean(axis=1)
    return out.sort_values("average_rank", kind="stable")
