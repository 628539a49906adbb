"""The one metric loop: align two sides, then compute every metric of the registry asked for, per perturbation.

Two sides (real and predicted pseudobulks in log1p space, with their DE when DE metrics are asked for) are aligned
on the real side's perturbations and genes by name (:func:`metric_inputs`); a name missing from the prediction is
an error, never a silent shift of rows. :func:`compute_metrics` then runs the registered metrics
(:mod:`vcc_core.metrics`) on those arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcc_core.data.pseudobulk import Profiles
from vcc_core.de.wilcoxon import DEResult
from vcc_core.evaluation.align import positions
from vcc_core.keys import CURRENT
from vcc_core.metrics import MetricInputs, get_metric, profile_metrics


def metric_inputs(
    real: Profiles,
    pred: Profiles,
    *,
    real_de: DEResult | None = None,
    pred_de: DEResult | None = None,
    dtypes: tuple[np.dtype, np.dtype] = (np.dtype(np.float64), np.dtype(np.float64)),
    edistances: tuple[pd.Series, pd.Series] | None = None,
    conventions: str = CURRENT,
) -> MetricInputs:
    """Align two sides on the real perturbations and genes.

    ``dtypes`` are the float types the means are held in, side by side: cell-eval's pseudobulk keeps the data's
    type, so float32 data gives float32 means and deltas, and matching it needs the same rounding.
    ``edistances``: each side's energy distances from its control cells, indexed by perturbation (cell-level
    metrics only). ``conventions``: those the DE results follow (:data:`~vcc_core.keys.REFERENCES`).

    Raises
    ------
    ValueError
        A perturbation or gene of the real side missing from the prediction or a DE result.
    """
    perts, genes = real.perts, real.genes
    pred = reindex_profiles(pred, perts, genes)
    de = {}
    for side, result in (("real", real_de), ("pred", pred_de)):
        if result is not None:
            rows, cols = positions(result.perts, perts, f"{side} DE"), positions(result.genes, genes, f"{side} DE")
            de[f"{side}_fdr"] = result.fdr[np.ix_(rows, cols)]
            de[f"{side}_lfc"] = result.log2fc[np.ix_(rows, cols)]
    if edistances is not None:
        for side, values in zip(("real", "pred"), edistances, strict=True):
            de[f"{side}_edistance"] = values.to_numpy()[positions(values.index, perts, f"{side} energy distances")]
    real_dt, pred_dt = dtypes
    return MetricInputs(
        perts=np.asarray(perts),
        genes=np.asarray(genes),
        real_means=real.means.astype(real_dt),
        pred_means=pred.means.astype(pred_dt),
        real_control=real.control.astype(real_dt),
        pred_control=pred.control.astype(pred_dt),
        conventions=conventions,
        **de,
    )


def compute_metrics(inputs: MetricInputs, names: list[str], *, sort: bool = True) -> pd.DataFrame:
    """The metric loop: one nullable-float column per metric (sub-metrics expanded), index ``perturbation``.

    Every path that scores (files, the leaderboard, the explorer, ceilings, sweeps) computes its metrics here.
    ``<NA>`` is a metric without a value (cell-eval's null), NaN an undefined one. Rows are sorted by name as
    cell-eval writes them, or kept in the order of ``inputs`` with ``sort=False``.

    With a single perturbation PDS is 1 (nothing to confuse it with); :func:`check_pds` refuses that where a
    user asked for a score (:func:`~vcc_core.evaluation.evaluate.evaluate_profiles`).
    """
    columns = {}
    for name in names:
        for column, values in get_metric(name).compute(inputs).items():
            columns[column] = pd.arrays.FloatingArray(values.data.astype(np.float64), values.mask.copy())
    frame = pd.DataFrame(columns, index=pd.Index(inputs.perts.astype(str), name="perturbation"))
    return frame.sort_index() if sort else frame


def per_perturbation(inputs: MetricInputs, *, profile: str = "bulk") -> pd.DataFrame:
    """:func:`compute_metrics` of ``profile`` as float64 (no value = NaN), rows in the order of ``inputs``."""
    return compute_metrics(inputs, profile_metrics(profile), sort=False).astype("float64")


def check_pds(names: list[str], n_perts: int) -> None:
    """Refuse PDS metrics for fewer than 2 perturbations, saying what to do instead."""
    if n_perts < 2 and any(n.startswith("discrimination_score") for n in names):
        msg = (
            f"PDS ranks perturbations against each other and needs at least 2 (got {n_perts}); "
            "add perturbations or leave out the discrimination_score metrics (e.g. profile 'de')"
        )
        raise ValueError(msg)


def refuse_cell_metrics(names: list[str], scheduler: str) -> None:
    """The cell-level metrics (``kind="cells"``) read every cell of a side at once: refused by ``scheduler``."""
    asked = [n for n in names if get_metric(n).kind == "cells"]
    if asked:
        msg = (
            f"{', '.join(asked)} reads every cell at once, which --scheduler {scheduler} does not; "
            "leave --scheduler out, or use --profile bulk"
        )
        raise ValueError(msg)


def reindex_profiles(pred: Profiles, perts, genes) -> Profiles:
    """``pred`` with rows ``perts`` and columns ``genes`` in that order; a missing name raises ``ValueError``."""
    rows, cols = positions(pred.perts, perts, "prediction"), positions(pred.genes, genes, "prediction")
    return Profiles(
        pred.means[np.ix_(rows, cols)], pred.control[cols], pred.perts[rows], pred.genes[cols], pred.n_cells[rows]
    )
