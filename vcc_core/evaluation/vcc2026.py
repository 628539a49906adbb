"""``evaluate --profile vcc2026``: the VCC 2026 metric set of a prediction, as cell-eval2 0.20.0 computes it.

Both files hold raw counts. Each side is reduced once (:class:`CountsSide`): its summed-count profiles with their
jackknife noise (:mod:`vcc_core.metrics.vcc2026`) and its DE on CPM against a control (:mod:`vcc_core.de.cpm`).
With ``control_source="real"`` (the challenge's setting) the predicted cells are tested against the real control
cells and the predicted effects are taken against the real control profile; the predicted control rows are only
checked. ``control_source="pred"`` (the replicate anchor and the ceiling) uses each side's own control.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.data.normalize import as_csr, gather_rows
from vcc_core.de.cpm import GatedDE, gated_de
from vcc_core.evaluation.align import positions
from vcc_core.evaluation.counts_pair import read_counts_pair
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.metrics import vcc2026 as expr
from vcc_core.metrics import vcc2026_de as dem
from vcc_core.metrics.registry import target_columns
from vcc_core.progress import Say, sayer

DERIVED = "expr_mse_unbiased_capped_norm"
PER_PERTURBATION = [
    "de_wilcoxon_lfc_nmae",
    "de_wilcoxon_direction_fidelity_yield_raw",
    "de_wilcoxon_direction_reach_raw",
    "de_wilcoxon_sig_jaccard",
    "pds_cosine",
    "expr_mse_unbiased",
    "expr_mse_unbiased_capped",
    "expr_distance_unbiased",
    "expr_real_mass_ratio",
]
"""The per-perturbation members in cell-eval2's ``results.csv`` order."""

ControlSource = Literal["real", "pred"]


@dataclass(frozen=True)
class CountsSide:
    """One side reduced: ``groups`` (sorted labels, control included), profiles ``b`` ``(groups, G)``, noise
    ``c`` ``(groups,)`` and the DE of its perturbations (sorted, control left out)."""

    groups: np.ndarray
    b: np.ndarray
    c: np.ndarray
    de: GatedDE

    def rows(self, names) -> np.ndarray:
        return positions(self.groups, names, "the side's groups")


@dataclass(frozen=True)
class Evaluation2026:
    """``results``: one row per perturbation (sorted), the nine per-perturbation members; ``derived``: the
    ratio of sums ``expr_mse_unbiased_capped_norm``."""

    results: pd.DataFrame
    derived: float


def evaluate_vcc2026(
    real: ad.AnnData | str | Path,
    pred: ad.AnnData | str | Path,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    fractional_pred: bool = False,
    progress: Say | None = None,
) -> Evaluation2026:
    """The VCC 2026 metrics of predicted cells ``pred`` against ``real`` (AnnData or ``.h5ad`` paths, raw counts;
    ``fractional_pred`` lets the prediction hold fractional counts, as the generic baseline does).

    Raises ``ValueError`` for inputs outside the contract of :mod:`vcc_core.evaluation.counts_pair`.
    """
    say = sayer(progress)
    real, pred = read_counts_pair(real, pred, pert_col=pert_col, control=control, fractional_pred=fractional_pred)
    say(f"checked real data ({real.n_obs:,} cells) and predictions ({pred.n_obs:,} cells): raw counts, same genes")
    return evaluate_checked(real, pred, pert_col=pert_col, control=control, progress=progress)


def evaluate_checked(
    real: ad.AnnData, pred: ad.AnnData, *, pert_col: str = PERT_COL, control: str = CONTROL, progress: Say | None = None
) -> Evaluation2026:
    """:func:`evaluate_vcc2026` of two AnnData already checked by
    :func:`~vcc_core.evaluation.counts_pair.read_counts_pair` (not checked again)."""
    say = sayer(progress)
    real_side, pred_side = sides(real, pred, pert_col=pert_col, control=control, say=say)
    say("metrics")
    return score_sides(real_side, pred_side, genes=real.var_names, control=control)


AGG_ROWS = ["count", "null_count", "mean", "std", "min", "max", "median"]


def results_long(evaluation: Evaluation2026) -> pd.DataFrame:
    """``perturbation, metric, value``, metric by metric (cell-eval2's ``results.csv``); an undefined
    ``de_wilcoxon_lfc_nmae`` has no row, other undefined values are NaN."""
    long = evaluation.results.reset_index().melt(id_vars="perturbation", var_name="metric")
    order = {name: k for k, name in enumerate(PER_PERTURBATION)}
    long = long.sort_values(["metric", "perturbation"], key=lambda c: c.map(order) if c.name == "metric" else c)
    omitted = (long["metric"] == "de_wilcoxon_lfc_nmae") & long["value"].isna()
    return long[~omitted].reset_index(drop=True)


def aggregate_2026(evaluation: Evaluation2026) -> pd.DataFrame:
    """cell-eval2's ``agg_results.csv``: a column per metric (sorted by name), rows :data:`AGG_ROWS`; ``count`` the
    rows written, the others over the non-NaN values (``std`` with ddof 1); the ratio of sums has only ``mean``."""
    long = results_long(evaluation)
    table = {}
    for name in sorted([*PER_PERTURBATION, DERIVED]):
        if name == DERIVED:
            table[name] = [np.nan, np.nan, evaluation.derived, np.nan, np.nan, np.nan, np.nan]
            continue
        values = long.loc[long["metric"] == name, "value"].to_numpy(dtype=np.float64)
        kept = values[~np.isnan(values)]
        stats = [np.mean, lambda v: np.std(v, ddof=1) if v.size > 1 else np.nan, np.min, np.max, np.median]
        table[name] = [float(values.size), 0.0, *(float(f(kept)) if kept.size else np.nan for f in stats)]
    return pd.DataFrame(table, index=pd.Index(AGG_ROWS, name="statistic"))


def write_2026(evaluation: Evaluation2026, outdir: str | Path) -> tuple[Path, Path]:
    """Write ``results.csv`` (long) and ``agg_results.csv`` into ``outdir`` in cell-eval2's layout."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = (outdir / "results.csv", outdir / "agg_results.csv")
    results_long(evaluation).to_csv(paths[0], index=False, float_format=shortest, na_rep="NaN")
    aggregate_2026(evaluation).to_csv(paths[1], float_format=shortest, na_rep="NaN")
    return paths


def shortest(value: float) -> str:
    """A float in its shortest round-trip form (the CSV style of polars)."""
    return repr(float(value))


def counts_side(x, labels, *, de_x=None, de_labels=None, control: str = CONTROL, say: Say | None = None) -> CountsSide:
    """Reduce raw counts ``x`` (cells x genes) labelled ``labels``; the DE runs on ``de_x`` / ``de_labels`` when
    given (the predicted cells with the real control cells), else on the same cells."""
    labels = np.asarray(labels).astype(str)
    groups, b, c = expr.lognorm_profiles(x, labels)
    if say is not None:
        say("DE on CPM against control")
    de_x, de_labels = (x, labels) if de_x is None else (de_x, np.asarray(de_labels).astype(str))
    return CountsSide(groups, b, c, gated_de(de_x, de_labels, control=control))


def sides(
    real: ad.AnnData,
    pred: ad.AnnData,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    control_source: ControlSource = "real",
    say: Say | None = None,
) -> tuple[CountsSide, CountsSide]:
    """Both sides of an evaluation (real first)."""
    real_labels = real.obs[pert_col].astype(str).to_numpy()
    pred_labels = pred.obs[pert_col].astype(str).to_numpy()
    if say is not None:
        say("real profiles")
    real_side = counts_side(real.X, real_labels, control=control, say=say)
    if say is not None:
        say("predicted profiles")
    if control_source == "pred":
        return real_side, counts_side(pred.X, pred_labels, control=control, say=say)
    own = np.flatnonzero(pred_labels != control)
    ctrl = np.flatnonzero(real_labels == control)
    de_x = gather_rows([(as_csr(pred.X), own), (as_csr(real.X), ctrl)])
    de_labels = np.concatenate([pred_labels[own], real_labels[ctrl]])
    return real_side, counts_side(pred.X, pred_labels, de_x=de_x, de_labels=de_labels, control=control, say=say)


def score_sides(
    real: CountsSide,
    pred: CountsSide,
    *,
    genes,
    control: str = CONTROL,
    control_source: ControlSource = "real",
    strict: bool = True,
) -> Evaluation2026:
    """The ten members from two reduced sides over the genes ``genes`` (the files' var names).

    ``strict``: raise ``ValueError`` when the ratio of sums is undefined (else it is NaN).
    """
    genes = np.asarray(genes).astype(str)
    perts = np.array([g for g in real.groups if g != control], dtype=object)
    targets = target_columns(perts, genes)
    table = {
        **de_members(real.de, pred.de, perts=perts, targets=targets, genes=genes),
        **expression_members(real, pred, perts=perts, targets=targets, control=control, control_source=control_source),
    }
    results = pd.DataFrame(table, index=pd.Index(perts, name="perturbation"))[PER_PERTURBATION]
    derived = expr.ratio_of_sums(
        results["expr_mse_unbiased_capped"].to_numpy(), results["expr_distance_unbiased"].to_numpy(), strict=strict
    )
    return Evaluation2026(results, derived)


def expression_members(
    real: CountsSide,
    pred: CountsSide,
    *,
    perts,
    targets: np.ndarray,
    control: str = CONTROL,
    control_source: ControlSource = "real",
) -> dict:
    """``pds_cosine`` and the expression members (per perturbation ``perts``, targets' columns ``targets``)."""
    r, q = real.rows(perts), pred.rows(perts)
    ctrl = real.rows([control])[0]
    ctrl_real = real.b[ctrl]
    ctrl_pred = ctrl_real if control_source == "real" else pred.b[pred.rows([control])[0]]
    b_real, b_pred, c_real, c_pred = real.b[r], pred.b[q], real.c[r], pred.c[q]
    rho = expr.noise_budget(b_pred, c_pred, c_real, target_cols=targets)
    return {
        "pds_cosine": expr.pds_cosine(
            b_real - ctrl_real, b_pred - ctrl_pred, exclude_cols=np.unique(targets[targets >= 0])
        ),
        "expr_mse_unbiased": expr.expr_mse_unbiased(b_pred, b_real, c_pred, c_real, target_cols=targets),
        "expr_mse_unbiased_capped": expr.expr_mse_unbiased_capped(
            b_pred, b_real, c_pred, c_real, target_cols=targets, rho=rho
        ),
        "expr_distance_unbiased": expr.expr_distance_unbiased(
            b_real, ctrl_real, c_real, real.c[ctrl], target_cols=targets
        ),
        "expr_real_mass_ratio": expr.expr_real_mass_ratio(b_real),
    }


def de_members(real: GatedDE, pred: GatedDE, *, perts, targets: np.ndarray, genes: np.ndarray) -> dict:
    """The four DE members on the union of both sides' gated genes (a gene one side did not test is not
    significant there and has no fold change)."""
    union = np.union1d(real.genes, pred.genes)
    real = _rows(real.on_genes(union), perts)
    pred = _rows(pred.on_genes(union), perts)
    own = union[None, :] == targets[:, None]
    real_sig, pred_sig = real.p_adj < dem.ALPHA, pred.p_adj < dem.ALPHA
    tested = ~np.isnan(pred.pvalue)
    return {
        "de_wilcoxon_lfc_nmae": dem.lfc_nmae(real_sig, real.lfc, pred.lfc, own=own),
        "de_wilcoxon_direction_fidelity_yield_raw": dem.direction_fidelity_yield(
            real_sig, pred_sig, real.lfc, pred.lfc, own=own
        ),
        "de_wilcoxon_direction_reach_raw": dem.direction_reach(
            real_sig & tested, pred_sig, pred.p_adj, pred.pvalue, real.lfc, pred.lfc, own=own, names=genes[union]
        ),
        "de_wilcoxon_sig_jaccard": dem.sig_jaccard(real_sig, pred_sig, own=own),
    }


def _rows(de: GatedDE, perts) -> GatedDE:
    rows = positions(de.perts, perts, "the DE")
    return GatedDE(np.asarray(perts), de.genes, de.pvalue[rows], de.p_adj[rows], de.lfc[rows])


def direction_walk(real: CountsSide, pred: CountsSide, pert: str, *, genes) -> pd.DataFrame:
    """The walk behind ``de_wilcoxon_direction_reach_raw`` for one perturbation: the real DE genes in the order the
    prediction ranks them, with the adjudicable genes seen so far (``depth``), those right in sign (``hits``) and
    their ratio (``purity``); the reach is the deepest ``depth`` whose purity is at least 0.9, over the rows."""
    genes = np.asarray(genes).astype(str)
    union = np.union1d(real.de.genes, pred.de.genes)
    r, q = _rows(real.de.on_genes(union), [pert]), _rows(pred.de.on_genes(union), [pert])
    own = genes[union] == pert
    pool = (r.p_adj[0] < dem.ALPHA) & ~np.isnan(q.pvalue[0]) & ~own
    order, depth, hits = dem.purity_curve(
        pool, q.p_adj[0] < dem.ALPHA, q.p_adj[0], q.pvalue[0], r.lfc[0], q.lfc[0], genes[union]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        purity = np.where(depth > 0, hits / depth, np.nan)
    return pd.DataFrame(
        {"gene": genes[union][order], "real_lfc": r.lfc[0, order], "pred_lfc": q.lfc[0, order],
         "pred_significant": q.p_adj[0, order] < dem.ALPHA, "depth": depth, "hits": hits, "purity": purity}
    )  # fmt: skip
