"""Metrics per cell context (cell line, cell-eval's ``--celltype-col``): the 2026 challenge scores several contexts
and averages them; cell-eval 0.8.2 writes each context's tables with its name as a prefix.

Each context is evaluated on its own, as a separate data set: its real cells (its own controls included) against
its predicted cells; a context is given by an ``obs`` column present in both files.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import pandas as pd

from vcc_core.data.io import read_h5ad
from vcc_core.evaluation.vcc2026 import Evaluation2026, aggregate_2026, evaluate_vcc2026, shortest, write_2026
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.progress import Say, sayer

MEAN_ROW = "mean over contexts"


def split_contexts(
    real: ad.AnnData | str | Path, pred: ad.AnnData | str | Path | None, *, context_col: str
) -> dict[str, tuple[ad.AnnData, ad.AnnData | None]]:
    """Each context's real and predicted cells (sorted names; ``pred`` may be ``None``, a real-only run).

    ``ValueError`` if the column is missing on a side or the two sides do not hold the same contexts."""
    sides = {"real data": read_h5ad(real) if not isinstance(real, ad.AnnData) else real}
    if pred is not None:
        sides["predictions"] = read_h5ad(pred) if not isinstance(pred, ad.AnnData) else pred
    found = {}
    for side, adata in sides.items():
        if context_col not in adata.obs.columns:
            msg = (
                f"{side}: obs has no context column {context_col!r}; columns: {', '.join(map(str, adata.obs.columns))}"
            )
            raise ValueError(msg)
        found[side] = adata.obs[context_col].astype(str).to_numpy()
    if pred is not None and set(found["real data"]) != set(found["predictions"]):
        only = sorted(set(found["real data"]) ^ set(found["predictions"]))
        msg = f"the two sides hold different contexts in {context_col!r}: {', '.join(only[:10])} on one side only"
        raise ValueError(msg)
    return {
        context: tuple(
            sides[side][found[side] == context].copy() if side in sides else None
            for side in ("real data", "predictions")
        )
        for context in sorted(set(found["real data"]))
    }


def evaluate_contexts(
    real: ad.AnnData | str | Path,
    pred: ad.AnnData | str | Path,
    *,
    context_col: str,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    progress: Say | None = None,
) -> dict[str, Evaluation2026]:
    """One evaluation per context (sorted names); the errors of :func:`split_contexts`."""
    say = sayer(progress)
    out = {}
    for context, (real_cells, pred_cells) in split_contexts(real, pred, context_col=context_col).items():
        say(f"context {context}")
        out[context] = evaluate_vcc2026(real_cells, pred_cells, pert_col=pert_col, control=control, progress=progress)
    return out


def context_means(evaluations: dict[str, Evaluation2026]) -> pd.DataFrame:
    """One row per context (its aggregate means) and a last row :data:`MEAN_ROW`, their mean."""
    table = pd.DataFrame({name: aggregate_2026(ev).loc["mean"] for name, ev in evaluations.items()}).T
    table.index.name = "context"
    table.loc[MEAN_ROW] = table.mean(axis=0, skipna=True)
    return table


def write_contexts(evaluations: dict[str, Evaluation2026], outdir: str | Path) -> pd.DataFrame:
    """Each context's ``results.csv`` / ``agg_results.csv`` in ``outdir/<context>/`` and ``context_agg.csv``."""
    outdir = Path(outdir)
    for name, evaluation in evaluations.items():
        write_2026(evaluation, outdir / name)
    table = context_means(evaluations)
    table.to_csv(outdir / "context_agg.csv", float_format=shortest, na_rep="NaN")
    return table
