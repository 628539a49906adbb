"""Two predictions side by side, perturbation by perturbation: which one is better where, on one metric."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcc_core.metrics import best_value


def versus(a: pd.DataFrame, b: pd.DataFrame, *, metric: str) -> pd.DataFrame:
    """``metric`` of two predictions on the perturbations both are scored on (``a``, ``b``: one row per
    perturbation), and ``outcome``: whether A is ``better``, ``worse`` or ``equal`` there (by the metric's best
    value; ``n/a`` for a metric without one or a value missing).

    Raises ``ValueError`` when ``metric`` is not a column of both.
    """
    if metric not in a.columns or metric not in b.columns:
        msg = f"metric {metric!r} is not computed for both predictions; pick one of {', '.join(a.columns[:8])}"
        raise ValueError(msg)
    frame = pd.concat([a[metric].rename("a"), b[metric].rename("b")], axis=1, join="inner").astype("float64")
    best = best_value(metric)
    sign = {"one": 1.0, "zero": -1.0}.get(best, np.nan)
    gain = sign * (frame["a"] - frame["b"])
    frame["outcome"] = np.select([gain.isna(), gain > 0, gain < 0], ["n/a", "better", "worse"], default="equal")
    return frame.rename_axis("perturbation")


def tally(table: pd.DataFrame) -> dict[str, int]:
    """How many perturbations A is better, worse and equal on (:func:`versus`)."""
    counts = table["outcome"].value_counts()
    return {k: int(counts.get(k, 0)) for k in ("better", "worse", "equal")}
