"""The VCC 2026 metrics along an output scale: how they answer the 2025 artifact of inflated predictions.

Two views, both on the source's VCC 2026 sides (:mod:`~vcc_core.evaluation.vcc2026_sources`):

- :func:`expression_along`, on the fine grid: the predicted effect is scaled in the 2026 expression space,
  ``b_s = b_ctrl + s (b^ - b_ctrl)`` around the real control profile, and its sampling noise with it
  (``C_s = s^2 C^``, the noise of a scaled estimate); ``pds_cosine`` and the expression error are recomputed. The
  cosine sees only directions, so it is flat for every ``s > 0``; the expression error has an optimum.
- :func:`scored_along`, on a coarse grid: the prediction's pseudobulk delta (log1p) is scaled as in the 2025 sweep,
  expanded to count cells and scored in full (DE on CPM included), with its VCC 2026 score. Each scale costs one
  DE, so only models and pseudobulk tables (which have a pseudobulk to scale) are swept this way.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from vcc_core.cache import cached
from vcc_core.data.dataset import Dataset
from vcc_core.data.pseudobulk import Profiles
from vcc_core.evaluation.scoring2026 import score_2026
from vcc_core.evaluation.sources import PredictionSource, content_key, table_profiles
from vcc_core.evaluation.submission import to_submission
from vcc_core.evaluation.vcc2026 import CountsSide, aggregate_2026, expression_members, score_sides
from vcc_core.evaluation.vcc2026_sources import (
    CELLS_PER_PERT,
    anchors,
    predicted_side_of_cells,
    real_side_2026,
    sides_2026,
)
from vcc_core.metrics import target_columns
from vcc_core.metrics.vcc2026 import ratio_of_sums
from vcc_core.models.training import train_predict

EXPRESSION = ["pds_cosine", "expr_mse_unbiased_capped_norm", "expr_mse_unbiased"]


def scaled_side(pred: CountsSide, control_profile: np.ndarray, scale: float, *, control: str) -> CountsSide:
    """``pred`` with every non-control profile's effect scaled by ``scale`` around ``control_profile``, noise by
    ``scale^2``."""
    moving = pred.groups != control
    b, c = pred.b.copy(), pred.c.copy()
    b[moving] = control_profile + scale * (pred.b[moving] - control_profile)
    c[moving] = scale**2 * pred.c[moving]
    return replace(pred, b=b, c=c)


def expression_along(real: CountsSide, pred: CountsSide, *, genes, control: str, scales) -> pd.DataFrame:
    """Index ``scale``; columns :data:`EXPRESSION` (means over perturbations, the normalised error a ratio of
    sums), the predicted effect scaled in the 2026 expression space (module docstring)."""
    perts = np.array([g for g in real.groups if g != control], dtype=object)
    targets = target_columns(perts, np.asarray(genes).astype(str))
    control_profile = real.b[real.rows([control])[0]]
    rows = []
    for s in np.asarray(scales, dtype=np.float64):
        side = scaled_side(pred, control_profile, s, control=control)
        members = expression_members(real, side, perts=perts, targets=targets, control=control)
        norm = ratio_of_sums(members["expr_mse_unbiased_capped"], members["expr_distance_unbiased"], strict=False)
        rows.append(
            {"scale": s, "pds_cosine": np.mean(members["pds_cosine"]), "expr_mse_unbiased_capped_norm": norm,
             "expr_mse_unbiased": np.mean(members["expr_mse_unbiased"])}
        )  # fmt: skip
    return pd.DataFrame(rows).set_index("scale")


def source_expression_along(dataset: Dataset, source: PredictionSource, *, scales) -> pd.DataFrame:
    """:func:`expression_along` of a source's VCC 2026 sides."""
    real, pred = sides_2026(dataset, source)
    return expression_along(real, pred, genes=dataset.adata.var_names, control=dataset.control, scales=scales)


@cached("vcc2026_scored_along", version="1", ignore=("path",))
def _scored_along(dataset: Dataset, content: str, path: Path | None, scales) -> pd.DataFrame:
    # The pseudobulk itself: a model's prediction or the table (not via the 2025 sides, which this does not need).
    pred = train_predict(dataset, content) if path is None else table_profiles(dataset, path)
    perts = sorted(map(str, pred.perts))
    real = real_side_2026(dataset, perts)
    ends = anchors(dataset, tuple(perts))
    rows = []
    for s in np.asarray(scales, dtype=np.float64):
        scaled = Profiles(pred.control + s * pred.delta, pred.control, pred.perts, pred.genes, pred.n_cells)
        cells = to_submission(scaled, dataset, cells_per_pert=CELLS_PER_PERT, space="counts")
        side = predicted_side_of_cells(dataset, cells, perts)
        means = aggregate_2026(score_sides(real, side, genes=dataset.adata.var_names, control=dataset.control,
                                           strict=False)).loc["mean"]  # fmt: skip
        score = score_2026(means, ends["baseline"], ends["replicate"], strict=False)["from_replicate"]
        rows.append({"scale": s, **means.to_dict(), "vcc2026_score": score["avg_score"]})
    return pd.DataFrame(rows).set_index("scale")


def scored_along(dataset: Dataset, source: PredictionSource, *, scales) -> pd.DataFrame:
    """Index ``scale``; the ten metrics' means and ``vcc2026_score`` of the source's pseudobulk scaled and expanded
    to count cells (module docstring). Predicted cells have no pseudobulk to scale: ``ValueError``."""
    if source.kind == "cells":
        msg = f"{source.name}: the VCC 2026 DE along the scale needs a pseudobulk prediction (a model or a table)"
        raise ValueError(msg)
    path = None if source.is_model else Path(source.location)
    content = source.location if path is None else content_key(path)
    return _scored_along(dataset, content, path, np.asarray(scales, dtype=np.float64))
