"""VCC 2026 metrics per cell context (cell line): the 2026 challenge scores several contexts and averages them.

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


def evaluate_contexts(
    real: ad.AnnData | str | Path,
    pred: ad.AnnData | str | Path,
    *,
    context_col: str,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    progress: Say | None = None,
) -> dict[str, Evaluation2026]:
    """One evaluation per context (sorted names). ``ValueError`` if the column is missing on a side or the two
    sides do not hold the same contexts."""
    say = sayer(progress)
    real = read_h5ad(real) if not isinstance(real, ad.AnnData) else real
    pred = read_h5ad(pred) if not isinstance(pred, ad.AnnData) else pred
    found = {}
    for side, adata in (("real data", real), ("predictions", pred)):
        if context_col not in adata.obs.columns:
            msg = (
                f"{side}: obs has no context column {context_col!r}; columns: {', '.join(map(str, adata.obs.columns))}"
            )
            raise ValueError(msg)
        found[side] = adata.obs[context_col].astype(str).to_numpy()
    if set(found["real data"]) != set(found["predictions"]):
        only = sorted(set(found["real data"]) ^ set(found["predictions"]))
        msg = f"the two sides hold different contexts in {context_col!r}: {', '.join(only[:10])} on one side only"
        raise ValueError(msg)
    out = {}
    for context in sorted(set(found["real data"])):
        say(f"context {context}")
        out[context] = evaluate_vcc2026(
            real[found["real data"] == context].copy(),
            pred[found["predictions"] == context].copy(),
            pert_col=pert_col,
            control=control,
            progress=progress,
        )
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
