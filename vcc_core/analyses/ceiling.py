"""Split-half technical replicates of the real data: the scores a perfect model could reach, and why DES is low.

For each seed, every perturbation's cells and the control cells are split at random into two disjoint halves of
floor(n/2) cells (:func:`vcc_core.models.oracle.half_split`). Each half is tested for DE against its own half of the
controls (Wilcoxon, as a submission is), and the registered metrics score half B (in the predicted role) against
half A (in the real role). The mean over perturbations, then over seeds, is the replicate value ``r`` of VCC
2026-style scaling (:func:`vcc_core.evaluation.scoring.score_replicate_scaled`).

The DES of a replicate is far from 1 when a perturbation has few DE genes: noise calls a different set of genes in
each half. Those one-half calls sit mostly on lowly expressed genes, so the gene report gives each gene's mean
control expression (log1p) next to how often it was called in one half only or in both, and the DES is recomputed
with the genes under an expression floor left out, and with pdex's pooled-CPM floor (``cell-eval run
--cpm-filter T``, :mod:`vcc_core.de.cpm_filter`) applied to both halves' DE.

Cells are normalised as the real side of :mod:`~vcc_core.evaluation.sides` is (the split's cells and the controls,
to their own median total), then split; the halves are not renormalised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.cache import cached
from vcc_core.data.dataset import Dataset, split_perts
from vcc_core.de.cpm_filter import cpm_filtered
from vcc_core.evaluation.loop import compute_metrics, metric_inputs, per_perturbation
from vcc_core.evaluation.sides import half_sides, inputs_of, real_cells, real_side
from vcc_core.keys import CONTROL, CURRENT, PERT_COL
from vcc_core.metrics import MetricInputs
from vcc_core.metrics.de_metrics import significant
from vcc_core.progress import Progress, reporter

FLOORS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
"""Default expression floors: mean log1p control expression a gene needs to stay in the DES."""
CPM_FLOORS = (0.0, 1.0, 5.0, 10.0, 20.0, 50.0)
"""pdex's pooled-CPM floors the DES ceiling is shown at (0: no floor; cell-eval's suggested start is 5)."""
_GENE_ARRAYS = ("real_means", "pred_means", "real_fdr", "pred_fdr", "real_lfc", "pred_lfc")


def half_inputs(
    cells: ad.AnnData, *, seed: int, pert_col: str = PERT_COL, control: str = CONTROL, device=None
) -> MetricInputs:
    """Half A of ``cells`` in the real role, half B in the predicted role, each with DE against its own controls.

    ``cells`` are log1p-normalised cells of the perturbations and the controls. A perturbation with a single cell
    has no cell in either half and is left out.
    """
    _, sides = half_sides(cells, seed=seed, pert_col=pert_col, control=control, device=device)
    return replicate_inputs(sides)


def replicate_inputs(sides, des=None) -> MetricInputs:
    """Half B's side (``sides[1]``) scored against half A's, with the DE results ``des`` (made under the sides'
    conventions) instead of theirs."""
    if des is None:
        return inputs_of(*sides)
    profiles = (sides[0].profiles, sides[1].profiles)
    return metric_inputs(*profiles, real_de=des[0], pred_de=des[1], conventions=sides[1].conventions)


def cpm_floor_des(halves, sides, floors: Sequence[float], *, pert_col: str, control: str) -> pd.DataFrame:
    """DES of half B against half A with pdex's pooled-CPM floor (0: none) applied to both halves' DE: one row per
    floor, ``cpm_floor``, ``overlap_at_N`` (mean over perturbations) and ``n_de`` (mean half-A DE genes)."""
    rows = []
    for floor in floors:
        des = [
            cpm_filtered(side.de, h.X, h.obs[pert_col], threshold=floor, control=control) if floor > 0 else side.de
            for side, h in zip(sides, halves, strict=True)
        ]
        kept = replicate_inputs(sides, des)
        des_values = compute_metrics(kept, ["overlap_at_N"], sort=False)["overlap_at_N"]
        n_de = significant(kept.real_fdr).sum(axis=1).mean()
        rows.append(
            {"cpm_floor": floor, "overlap_at_N": des_values.to_numpy(np.float64, na_value=np.nan).mean(), "n_de": n_de}
        )
    return pd.DataFrame(rows)


def keep_genes(inputs: MetricInputs, keep: np.ndarray) -> MetricInputs:
    """``inputs`` restricted to the genes (columns) where the boolean ``keep`` is True."""
    parts = {name: getattr(inputs, name)[:, keep] for name in _GENE_ARRAYS if getattr(inputs, name) is not None}
    controls = {"real_control": inputs.real_control[keep], "pred_control": inputs.pred_control[keep]}
    return replace(inputs, genes=inputs.genes[keep], **controls, **parts)


def gene_calls(inputs: MetricInputs, control_mean: np.ndarray) -> pd.DataFrame:
    """Per gene: mean control expression and the number of perturbations calling it DE in both halves or one only.

    A call is ``fdr < 0.05`` as the DE metrics make it (:func:`vcc_core.metrics.de_metrics.significant`).
    """
    a, b = significant(inputs.real_fdr), significant(inputs.pred_fdr)
    return pd.DataFrame(
        {
            "gene": inputs.genes.astype(str),
            "control_mean": np.asarray(control_mean, np.float64),
            "de_both": (a & b).sum(axis=0),
            "de_one_half": (a ^ b).sum(axis=0),
        }
    )


def floor_des(inputs: MetricInputs, control_mean: np.ndarray, floors: Sequence[float]) -> pd.DataFrame:
    """DES (``overlap_at_N``) over the genes whose control mean is at least each floor.

    Returns one row per floor: ``floor``, ``n_genes`` kept, ``overlap_at_N`` (mean over perturbations; NaN when no
    gene is left) and ``n_de`` (mean number of half-A DE genes among those kept).
    """
    rows = []
    for floor in floors:
        keep = np.asarray(control_mean) >= floor
        if not keep.any():
            rows.append({"floor": floor, "n_genes": 0, "overlap_at_N": np.nan, "n_de": 0.0})
            continue
        kept = keep_genes(inputs, keep)
        des = compute_metrics(kept, ["overlap_at_N"], sort=False)["overlap_at_N"]
        value = des.to_numpy(dtype=np.float64, na_value=np.nan).mean()
        n_de = significant(kept.real_fdr).sum(axis=1).mean()
        rows.append({"floor": floor, "n_genes": int(keep.sum()), "overlap_at_N": value, "n_de": n_de})
    return pd.DataFrame(rows)


@cached("ceiling_seed", version="4")
def seed_tables(
    dataset: Dataset,
    *,
    seed: int,
    split: str = "test",
    profile: str = "bulk",
    floors: tuple = FLOORS,
    conventions: str = CURRENT,
) -> dict[str, pd.DataFrame]:
    """One seed's split-half replicate of ``split``: ``metrics`` per perturbation, ``genes``, ``floors`` and
    ``cpm_floors`` tables.

    ``metrics`` has a ``perturbation`` column and one column per metric of ``profile`` (see :func:`gene_calls`,
    :func:`floor_des` and :func:`half_inputs` for the others). The halves' DE follows ``conventions``
    (:data:`~vcc_core.keys.REFERENCES`), but for ``cpm_floors``: pdex's CPM floor is a cell-eval 0.8 option, so that
    curve is always cell-eval 0.8.2's (the same halves), its floor 0 included.
    """
    cells = real_cells(dataset, split_perts(dataset, split))
    control_mean = real_side(dataset, split).profiles.control
    options = {"pert_col": dataset.pert_col, "control": dataset.control}
    halves, sides = half_sides(cells, seed=seed, conventions=conventions, **options)
    inputs = replicate_inputs(sides)
    current_sides = sides if conventions == CURRENT else half_sides(cells, seed=seed, **options)[1]
    return {
        "metrics": per_perturbation(inputs, profile=profile).reset_index(),
        "genes": gene_calls(inputs, control_mean),
        "floors": floor_des(inputs, control_mean, floors),
        "cpm_floors": cpm_floor_des(halves, current_sides, CPM_FLOORS, **options),
    }


@cached("real_effects", version="1")
def real_effects(dataset: Dataset, *, split: str = "test", conventions: str = CURRENT) -> pd.DataFrame:
    """Per perturbation of ``split`` in the full real data: ``n_de_real`` (FDR < 0.05) and ``effect_l2`` (‖Δ‖₂)."""
    side = real_side(dataset, split, conventions=conventions)
    profiles, de = side.profiles, side.de
    n_de = pd.Series(significant(de.fdr).sum(axis=1), index=de.perts.astype(str))
    perts = profiles.perts.astype(str)
    return pd.DataFrame(
        {
            "perturbation": perts,
            "n_de_real": n_de.reindex(perts).to_numpy(),
            "effect_l2": np.linalg.norm(profiles.delta, axis=1),
        }
    )


@dataclass(frozen=True)
class Ceiling:
    """Split-half replicate metrics of one dataset split over several seeds.

    Attributes
    ----------
    per_seed
        One row per (``seed``, ``perturbation``), one column per metric (half B scored against half A).
    genes
        Per gene: ``control_mean`` (log1p), ``de_both`` and ``de_one_half`` summed over seeds and perturbations.
    floors
        Per (``seed``, ``floor``): genes kept, mean DES and mean half-A DE genes over the genes kept.
    cpm_floors
        Per (``seed``, ``cpm_floor``): mean DES and mean half-A DE genes with pdex's pooled-CPM floor on both halves.
    real
        Per perturbation of the full real data: ``n_de_real`` and ``effect_l2``.
    """

    per_seed: pd.DataFrame
    genes: pd.DataFrame
    floors: pd.DataFrame
    real: pd.DataFrame
    cpm_floors: pd.DataFrame | None = None

    @property
    def n_seeds(self) -> int:
        return int(self.per_seed["seed"].nunique())

    def replicate_values(self) -> pd.Series:
        """``r`` per metric: the mean over perturbations (NaN skipped, as in aggregation) of each seed, averaged."""
        by_seed = self.per_seed.drop(columns="perturbation").groupby("seed").mean()
        return by_seed.mean().rename("replicate")

    def per_perturbation(self) -> pd.DataFrame:
        """Mean over seeds per perturbation, ``overlap_at_N_std`` (over seeds) and the :attr:`real` columns."""
        groups = self.per_seed.drop(columns="seed").groupby("perturbation")
        frame = groups.mean().join(groups["overlap_at_N"].std(ddof=0).rename("overlap_at_N_std"))
        return frame.join(self.real.set_index("perturbation"))

    def floor_curve(self) -> pd.DataFrame:
        """Per floor: genes kept, and the mean and standard deviation over seeds of the DES and of the DE genes."""
        groups = self.floors.groupby("floor")
        return pd.DataFrame(
            {
                "n_genes": groups["n_genes"].first(),
                "overlap_at_N": groups["overlap_at_N"].mean(),
                "overlap_at_N_std": groups["overlap_at_N"].std(ddof=0),
                "n_de": groups["n_de"].mean(),
            }
        )

    def cpm_curve(self) -> pd.DataFrame:
        """Per pooled-CPM floor (0: none): the mean and standard deviation over seeds of the DES, mean DE genes."""
        groups = self.cpm_floors.groupby("cpm_floor")
        return pd.DataFrame(
            {
                "overlap_at_N": groups["overlap_at_N"].mean(),
                "overlap_at_N_std": groups["overlap_at_N"].std(ddof=0),
                "n_de": groups["n_de"].mean(),
            }
        )

    def one_half_share(self) -> pd.DataFrame:
        """The :attr:`genes` that were ever called, with ``share_one_half`` = one-half calls / all their calls."""
        called = self.genes[(self.genes["de_both"] + self.genes["de_one_half"]) > 0].copy()
        called["share_one_half"] = called["de_one_half"] / (called["de_one_half"] + called["de_both"])
        return called.sort_values("de_one_half", ascending=False, kind="stable").reset_index(drop=True)


def ceiling(
    dataset: Dataset,
    *,
    seeds: int = 3,
    split: str = "test",
    profile: str = "bulk",
    floors: Sequence[float] = FLOORS,
    progress: Progress | None = None,
    conventions: str = CURRENT,
) -> Ceiling:
    """Split-half replicates of ``split`` for seeds ``0 .. seeds - 1`` (each cached on disk), with the real effects.

    ``progress`` is an optional ``callable(fraction, message)``; the DE of the halves and of the real data follows
    ``conventions`` (:data:`~vcc_core.keys.REFERENCES`). Raises ``ValueError`` for ``seeds < 1`` or
    an unknown split.
    """
    if seeds < 1:
        msg = f"seeds must be at least 1, got {seeds}"
        raise ValueError(msg)
    report = reporter(progress)
    tables = []
    for seed in range(seeds):
        report(seed / (seeds + 1), f"seed {seed + 1} of {seeds}: splitting the cells, DE of both halves, metrics")
        options = {"split": split, "profile": profile, "floors": tuple(floors), "conventions": conventions}
        tables.append(seed_tables(dataset, seed=seed, **options))
    report(seeds / (seeds + 1), "DE of the full real data")
    real = real_effects(dataset, split=split, conventions=conventions)
    report(1.0, "done")
    genes = tables[0]["genes"][["gene", "control_mean"]].copy()
    for column in ("de_both", "de_one_half"):
        genes[column] = sum(t["genes"][column].to_numpy() for t in tables)
    return Ceiling(
        per_seed=pd.concat([t["metrics"].assign(seed=s) for s, t in enumerate(tables)], ignore_index=True),
        genes=genes,
        floors=pd.concat([t["floors"].assign(seed=s) for s, t in enumerate(tables)], ignore_index=True),
        real=real,
        cpm_floors=pd.concat([t["cpm_floors"].assign(seed=s) for s, t in enumerate(tables)], ignore_index=True),
    )


__all__ = [
    "CPM_FLOORS",
    "FLOORS",
    "Ceiling",
    "ceiling",
    "cpm_floor_des",
    "floor_des",
    "gene_calls",
    "half_inputs",
    "half_sides",
    "keep_genes",
    "real_effects",
    "replicate_inputs",
    "seed_tables",
]


def against_replicate(result: Ceiling, metrics: pd.DataFrame, *, metric: str = "overlap_at_N") -> pd.DataFrame:
    """A prediction's ``metric`` per perturbation (``metrics``: one row per perturbation) beside the replicate's
    (mean over seeds), for the perturbations both have: columns ``replicate``, ``prediction`` and their ratio
    ``share_of_replicate`` (NaN where the replicate is 0)."""
    replicate = result.per_perturbation()[metric].rename("replicate")
    frame = pd.concat([replicate, metrics[metric].rename("prediction")], axis=1, join="inner").astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["share_of_replicate"] = np.where(frame["replicate"] > 0, frame["prediction"] / frame["replicate"], np.nan)
    return frame.rename_axis("perturbation")
