"""VCC 2026 scores: a prediction placed between a generic baseline (0) and a technical replicate (1).

As cell-eval2 0.20.0 computes them (``../shared/VCC2026_METRICS.md`` section 5):

- the **generic-response baseline** (:func:`generic_baseline`): every perturbation predicted by the same average
  response, emitted as control cells drawn with replacement and scaled gene by gene;
- the **replicate anchor** (:func:`replicate_anchor`): the data against itself, each group's cells split into two
  disjoint halves (5 seeds), half B scored as a prediction of half A with its own controls;
- the **score** (:func:`score_2026`): ``s = (u - b) / (r - b)`` per scored metric, then the mean of the six;
- the **data ceiling** (:func:`data_ceiling`): one split, Spearman-Brown ``2r / (1 + r)`` on ``pds_cosine``;
- the **lfc_nmae reference** (:func:`lfc_nmae_reference`): how far two halves of the data disagree on fold
  changes, relative to the fold changes themselves.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from vcc_core.de.cpm import GatedDE, gated_de
from vcc_core.evaluation.align import positions
from vcc_core.evaluation.vcc2026 import DERIVED, aggregate_2026, score_sides, sides
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.metrics import vcc2026_de as dem
from vcc_core.metrics.registry import target_columns
from vcc_core.progress import Say, sayer

SCORED = [
    "pds_cosine",
    DERIVED,
    "de_wilcoxon_lfc_nmae",
    "de_wilcoxon_direction_fidelity_yield_raw",
    "de_wilcoxon_direction_reach_raw",
    "de_wilcoxon_sig_jaccard",
]
LOWER_IS_BETTER = {DERIVED, "de_wilcoxon_lfc_nmae"}
LFC_NMAE = "de_wilcoxon_lfc_nmae"
LFC_FLOOR = -6.0
ANCHOR_SPLITS = 5


def generic_baseline(
    real: ad.AnnData, *, pert_col: str = PERT_COL, control: str = CONTROL, seed: int = 0
) -> ad.AnnData:
    """The generic-response prediction of ``real`` (raw counts), shaped like it: same cells, same labels.

    The profile of gene ``g`` is the mean over perturbations (control left out, and the one targeting ``g``) of
    their mean counts. Each perturbation's cells are control cells drawn with replacement (``default_rng(seed)``,
    groups in sorted order, as many as the data has) with gene ``g`` scaled by ``profile_g / control mean_g`` (0
    where the control mean is 0), float32; the control rows are the real control cells.
    """
    labels = real.obs[pert_col].astype(str).to_numpy()
    x = sparse.csr_matrix(real.X)
    perts = sorted(set(labels) - {control})
    means = np.vstack([np.asarray(x[labels == p].astype(np.float64).mean(axis=0)).ravel() for p in perts])
    total, count = means.sum(axis=0), np.full(x.shape[1], float(len(perts)))
    for row, col in enumerate(target_columns(perts, real.var_names)):
        if col >= 0:
            total[col] -= means[row, col]
            count[col] -= 1
    profile = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    ctrl = x[labels == control]
    ctrl_mean = np.asarray(ctrl.astype(np.float64).mean(axis=0)).ravel()
    scale = np.where(ctrl_mean > 0, profile / np.where(ctrl_mean > 0, ctrl_mean, 1.0), 0.0)
    rng = np.random.default_rng(seed)
    positions = [np.flatnonzero(labels == p) for p in perts]
    draws = np.concatenate([rng.integers(0, ctrl.shape[0], size=rows.size) for rows in positions])
    emitted = ctrl[draws].copy()
    emitted.data = (emitted.data * scale[emitted.indices]).astype(np.float32)
    emitted.eliminate_zeros()
    blocks = sparse.vstack([emitted, ctrl.astype(np.float32)], format="csr")
    order = np.empty(real.n_obs, dtype=np.intp)
    order[np.concatenate([*positions, np.flatnonzero(labels == control)])] = np.arange(real.n_obs)
    return ad.AnnData(X=blocks[order].tocsr(), obs=real.obs.copy(), var=real.var.copy())


def disjoint_halves(
    real: ad.AnnData, *, seed: int, pert_col: str = PERT_COL, control: str = CONTROL
) -> tuple[ad.AnnData, ad.AnnData]:
    """Two halves of ``floor(n / 2)`` cells of every group (control included), drawn without replacement by
    ``default_rng(seed)`` (groups in pandas' groupby order; an odd cell out is left out; a group of one is
    dropped): cell-eval's and cell-eval2's split alike. ``ValueError`` when no group or not the control has 2 cells."""
    rng = np.random.default_rng(seed)
    a, b = [], []
    for _, rows in real.obs.groupby(pert_col, observed=True).indices.items():
        shuffled = rng.permutation(np.asarray(rows))
        half = shuffled.size // 2
        if half >= 1:
            a.append(shuffled[:half])
            b.append(shuffled[half : 2 * half])
    if not a:
        msg = "no perturbation has 2 cells or more: the data cannot be split into two halves"
        raise ValueError(msg)
    half_a, half_b = real[np.concatenate(a)].copy(), real[np.concatenate(b)].copy()
    if control not in set(half_a.obs[pert_col].astype(str)):
        msg = f"the control {control!r} has fewer than 2 cells: the data cannot be split into two halves"
        raise ValueError(msg)
    return half_a, half_b


def anchor_seeds(n: int = ANCHOR_SPLITS, base: int = 0) -> list[int]:
    """The split seeds: ``SeedSequence(base).generate_state(n)``."""
    return [int(s) for s in np.random.SeedSequence(base).generate_state(n)]


def replicate_anchor(
    real: ad.AnnData,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    full_de: GatedDE | None = None,
    progress: Say | None = None,
) -> pd.DataFrame:
    """Per split (rows: ``seed``) the aggregate means of the data's half B scored as a prediction of its half A,
    each half against its own controls; ``de_wilcoxon_lfc_nmae`` is the full-gate reference of the same split
    (:func:`lfc_nmae_reference`). The replicate anchor is the mean over rows (:func:`replicate_of`)."""
    say = sayer(progress)
    if full_de is None:
        full_de = gated_de(real.X, real.obs[pert_col].astype(str).to_numpy(), control=control)
    rows = {}
    for k, seed in enumerate(anchor_seeds()):
        say(f"replicate split {k + 1} of {ANCHOR_SPLITS}")
        half_a, half_b = disjoint_halves(real, seed=seed, pert_col=pert_col, control=control)
        side_a, side_b = sides(half_a, half_b, pert_col=pert_col, control=control, control_source="pred")
        evaluation = score_sides(
            side_a, side_b, genes=real.var_names, control=control, control_source="pred", strict=False
        )
        means = aggregate_2026(evaluation).loc["mean"]
        reference = _nmae_reference(full_de, side_a.de, side_b.de, genes=real.var_names)
        if not np.isfinite(reference).any():
            msg = (
                f"replicate split {k + 1} (seed {seed}): no perturbation has 10 or more significant genes in the "
                "full data, so lfc_nmae has no replicate anchor; the data are too shallow to score on it"
            )
            raise ValueError(msg)
        means[LFC_NMAE] = float(np.nanmean(reference))
        rows[seed] = means
    table = pd.DataFrame(rows).T
    table.index.name = "seed"
    return table


def replicate_of(anchor: pd.DataFrame) -> pd.Series:
    """The replicate anchor: the mean of the splits' values (NaN splits left out)."""
    return anchor.mean(axis=0, skipna=True)


def lfc_nmae_reference(
    real: ad.AnnData, *, seed: int = 0, pert_col: str = PERT_COL, control: str = CONTROL
) -> pd.DataFrame:
    """Per perturbation ``nmae_ref_raw = mean_S |lfc_A - lfc_B| / mean_S |lfc|`` over the full data's gate ``S``
    (significant genes, own gene out, at least 10), ``nmae_ref_sqrt2`` (divided by sqrt 2) and ``n_gate``: the
    fold-change error two halves of the data make against each other."""
    full = gated_de(real.X, real.obs[pert_col].astype(str).to_numpy(), control=control)
    half_a, half_b = disjoint_halves(real, seed=seed, pert_col=pert_col, control=control)
    side_a, side_b = sides(half_a, half_b, pert_col=pert_col, control=control, control_source="pred")
    raw = _nmae_reference(full, side_a.de, side_b.de, genes=real.var_names)
    gate = _reference_gate(full, real.var_names)
    table = pd.DataFrame(
        {"nmae_ref_raw": raw, "nmae_ref_sqrt2": raw / np.sqrt(2.0), "n_gate": gate.sum(axis=1)},
        index=pd.Index(full.perts, name="perturbation"),
    )
    return table[np.isfinite(table["nmae_ref_raw"])]


def _reference_gate(full: GatedDE, genes) -> np.ndarray:
    own = np.asarray(genes).astype(str)[full.genes][None, :] == np.asarray(full.perts).astype(str)[:, None]
    return (full.p_adj < dem.ALPHA) & np.isfinite(full.lfc) & ~own


def _nmae_reference(full: GatedDE, de_a: GatedDE, de_b: GatedDE, *, genes) -> np.ndarray:
    """``(P,)`` over ``full.perts``: NaN where the gate has fewer than 10 genes or no fold change."""
    gate = _reference_gate(full, genes)
    lfc = []
    for half in (de_a, de_b):
        wide = half.on_genes(np.union1d(half.genes, full.genes))
        cols = np.searchsorted(wide.genes, full.genes)
        rows = positions(wide.perts, full.perts, "a half's DE")
        values = wide.lfc[np.ix_(rows, cols)]
        lfc.append(np.where(np.isfinite(values), values, 0.0))
    num = np.where(gate, np.abs(lfc[0] - lfc[1]), 0.0).sum(axis=1)
    den = np.where(gate, np.abs(full.lfc), 0.0).sum(axis=1)
    n = gate.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n >= dem.MIN_GATE) & (den > 0), num / den, np.nan)


def data_ceiling(
    real: ad.AnnData, *, seed: int = 0, pert_col: str = PERT_COL, control: str = CONTROL
) -> tuple[pd.Series, float]:
    """``pds_cosine`` per perturbation of one split of the data (half B against half A, own controls), and the
    ceiling: their mean ``r`` doubled back to the full depth by Spearman-Brown, ``2r / (1 + r)`` (``r`` if
    ``r <= 0``): the best a prediction can expect on this data."""
    half_a, half_b = disjoint_halves(real, seed=seed, pert_col=pert_col, control=control)
    side_a, side_b = sides(half_a, half_b, pert_col=pert_col, control=control, control_source="pred")
    r = score_sides(side_a, side_b, genes=real.var_names, control=control, control_source="pred", strict=False).results[
        "pds_cosine"
    ]
    mean = float(r.mean())
    return r, (2 * mean / (1 + mean) if mean > 0 else mean)


def score_2026(
    user: pd.Series,
    baseline: pd.Series,
    replicate: pd.Series,
    *,
    lfc_nmae_ref: float | None = None,
    strict: bool = True,
) -> pd.DataFrame:
    """Scores of aggregate means ``user`` between ``baseline`` and ``replicate`` (all indexed by metric name).

    ``from_replicate = (u - b) / (r - b)``; ``from_baseline`` anchors at 0 and 1 instead (``1 - u / b`` when lower is
    better, else ``(u - b) / (1 - b)``); ``from_reference = (1 - u) / (1 - ref)`` for lfc_nmae. The expression error
    is clamped to [0, 1], lfc_nmae floored at -6; a missing ``u`` scores as 0 would. The last row ``avg_score`` is
    the mean of the six. When the replicate is not better than the baseline on a metric there is no scale:
    ``ValueError`` if ``strict``, else that metric's scores (and the averages) are NaN.
    """
    rows = {}
    for name in SCORED:
        u, b, r = float(user.get(name, np.nan)), float(baseline[name]), float(replicate[name])
        if np.isnan(u) and name not in (DERIVED, LFC_NMAE):
            u = 0.0
        lower = name in LOWER_IS_BETTER
        if not (b - r if lower else r - b) > 0:
            if not strict:
                rows[name] = {"from_baseline": np.nan, "from_replicate": np.nan}
                continue
            msg = f"{name}: the replicate ({r:.4g}) is not better than the baseline ({b:.4g}); no scale to score on"
            raise ValueError(msg)
        rows[name] = {
            "from_baseline": _clamped(name, np.nan if np.isnan(u) else (1 - u / b if lower else (u - b) / (1 - b))),
            "from_replicate": _clamped(name, (u - b) / (r - b)),
        }
        if name == LFC_NMAE and lfc_nmae_ref is not None:
            rows[name]["from_reference"] = (1 - u) / (1 - lfc_nmae_ref)
    table = pd.DataFrame(rows).T
    table.loc["avg_score"] = table[["from_baseline", "from_replicate"]].mean(axis=0, skipna=False)
    table.index.name = "metric"
    return table


def _clamped(name: str, s: float) -> float:
    if np.isnan(s):
        return 0.0 if name == DERIVED else (LFC_FLOOR if name == LFC_NMAE else np.nan)
    if name == DERIVED:
        return float(np.clip(s, 0.0, 1.0))
    return max(s, LFC_FLOOR) if name == LFC_NMAE else s
