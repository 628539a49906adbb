"""cell-eval 0.8.2's data ceiling (``cell-eval run --ceiling [--ceiling-seed S]``): how well any model could score
given the noise of the real data alone.

The real cells, normalised as :func:`~vcc_core.evaluation.evaluate.evaluate` normalises them, are split per
perturbation (control included) into two disjoint halves of ``floor(n / 2)`` cells, drawn as cell-eval2's anchor
draws them (:func:`~vcc_core.evaluation.scoring2026.disjoint_halves`: groups in pandas' groupby order, each
group's rows shuffled by ``numpy.random.default_rng(seed)`` in turn; an odd cell out, a group of one dropped).
The first half is scored as the real data and the second as a prediction by the usual metric loop
(``ceiling_results.csv``). The ceiling
(``agg_ceiling_results.csv``) is each metric's mean over perturbations mapped from half to full depth by
Spearman-Brown, ``2 r / (1 + r)``, for the bounded agreement metrics of :data:`SPEARMAN_BROWN` where ``r > 0``;
NaN elsewhere (an error, a count, or ``r <= 0``: no defensible ceiling).

Differs from our split-half DES noise ceiling (:mod:`vcc_core.analyses.ceiling`), which re-normalises each half
and reports the raw half-depth values over several seeds.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.evaluation.evaluate import evaluate, normalised_real
from vcc_core.evaluation.results import aggregate
from vcc_core.evaluation.scoring2026 import disjoint_halves
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.progress import Say, sayer

SPEARMAN_BROWN = frozenset(
    {
        "pearson_delta",
        *(f"discrimination_score_{m}" for m in ("l1", "l2", "cosine")),
        *(f"{kind}_at_{k}" for kind in ("overlap", "precision") for k in ("N", 50, 100, 200, 500)),
        "de_spearman_sig",
        "de_spearman_lfc_sig",
        "de_direction_match",
        "de_sig_genes_recall",
        "pr_auc",
        "roc_auc",
    }
)
"""The metrics cell-eval 0.8.2 corrects by Spearman-Brown (``_evaluator.py::SB_METRICS``)."""


def spearman_brown(results: pd.DataFrame) -> pd.DataFrame:
    """One row: each column's mean over perturbations (:func:`~vcc_core.evaluation.results.aggregate`'s), mapped
    to full depth for :data:`SPEARMAN_BROWN` where positive, NaN otherwise."""
    means = aggregate(results).loc["mean"].to_numpy(dtype=np.float64, na_value=np.nan)
    corrected = {}
    for column, r in zip(results.columns, means, strict=True):
        corrected[column] = 2.0 * r / (1.0 + r) if column in SPEARMAN_BROWN and r > 0 else np.nan
    return pd.DataFrame([corrected])


def data_ceiling(
    real: ad.AnnData | str | Path,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    profile: str = "vcc",
    metrics: list[str] | None = None,
    seed: int = 0,
    epsilon: float = 0.0,
    embed_key: str | None = None,
    cpm_filter: float | None = None,
    device=None,
    progress: Say | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The half-depth scores per perturbation (``ceiling_results.csv``) and the ceiling (``agg_ceiling_results.csv``)
    of ``real`` for ``profile`` (or ``metrics``), as ``cell-eval run --ceiling --ceiling-seed seed`` writes them."""
    say = sayer(progress)
    adata = normalised_real(real, pert_col=pert_col, control=control)
    say(f"data ceiling: disjoint halves of the real cells (seed {seed})")
    first, second = disjoint_halves(adata, seed=seed, pert_col=pert_col, control=control)
    results, _ = evaluate(
        first,
        second,
        pert_col=pert_col,
        control=control,
        profile=profile,
        metrics=metrics,
        epsilon=epsilon,
        embed_key=embed_key,
        cpm_filter=cpm_filter,
        device=device,
    )
    return results, spearman_brown(results)
