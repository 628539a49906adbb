"""A loaded dataset with everything the pages show about it, built once and shared.

:func:`open_dataset` reads (or simulates) the cells, decides the value space, pseudobulks, splits the
perturbations and measures the knockdown of each target; pages and the CLI take the :class:`Dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.cache import default_cache, fingerprint
from vcc_core.io import load_dataset, read_h5ad
from vcc_core.keys import CONTROL, PERT_COL, UNS_TRUTH
from vcc_core.normalize import Space
from vcc_core.pseudobulk import Profiles, pseudobulk
from vcc_core.simulate import PRESETS, preset_file, simulate
from vcc_core.simulate import VERSION as SIM_VERSION
from vcc_core.splits import split_perturbations
from vcc_core.summary import DatasetSummary, knockdown, summarize

PERT_COL_GUESSES = (PERT_COL, "condition", "perturbation", "gene", "target", "guide_target")
CONTROL_GUESSES = (CONTROL, "control", "ctrl", "NT", "non_targeting", "NTC")
VERSION = "1"
"""Bumped when opening the same input gives a different dataset (normalisation, split, ...): cached results go stale."""


@dataclass(frozen=True)
class Dataset:
    """Cells, their layout, pseudobulk profiles, split and per-target knockdown."""

    name: str
    adata: ad.AnnData
    space: Space
    pert_col: str
    control: str
    profiles: Profiles
    summary: DatasetSummary
    splits: pd.Series
    knockdown: pd.DataFrame
    fingerprint: str
    """Digest of what was opened and how (file stamp or preset, layout, seed): the key of cached results."""

    def __cache_fingerprint__(self) -> str:
        return self.fingerprint

    @property
    def truth(self) -> dict | None:
        """The simulator's ground truth, or None for real data."""
        return self.adata.uns.get(UNS_TRUTH)


def guess_layout(adata: ad.AnnData) -> tuple[str, str]:
    """Best guess of the perturbation column and control label (VCC names first)."""
    col = next((c for c in PERT_COL_GUESSES if c in adata.obs.columns), PERT_COL)
    labels = set(adata.obs[col].astype(str)) if col in adata.obs.columns else set()
    control = next((c for c in CONTROL_GUESSES if c in labels), CONTROL)
    return col, control


def open_dataset(
    source: str | Path | ad.AnnData,
    *,
    pert_col: str | None = None,
    control: str | None = None,
    context: tuple[str, str] | None = None,
    seed: int = 0,
) -> Dataset:
    """Load a built-in preset (``"small"``, ``"tiny"``, ``"vcc"``), an ``.h5ad`` path or an AnnData.

    ``context`` = ``(obs column, value)`` keeps one cell line or condition, for screens such as
    PerturBench whose controls are per cell line. Column and control default to a guess.
    """
    if isinstance(source, str) and source in PRESETS:
        adata, name = _preset(source, seed=seed), f"synthetic ({source})"
        content = {"preset": source, "simulator": SIM_VERSION}
    elif isinstance(source, ad.AnnData):
        adata, name = source, "in-memory data"
        content = {"anndata": fingerprint(adata)}
    else:
        adata, name = read_h5ad(source), Path(source).name
        content = {"file": fingerprint(Path(source))}
    layout = {"pert_col": pert_col, "control": control, "context": context, "seed": seed}
    key = fingerprint({**content, **layout, "version": VERSION})
    if context is not None:
        adata = _restrict(adata, *context)
    guessed_col, guessed_control = guess_layout(adata)
    pert_col, control = pert_col or guessed_col, control or guessed_control
    adata, space = load_dataset(adata, pert_col=pert_col, control=control)
    profiles = pseudobulk(adata, pert_col=pert_col, control=control, space=space)
    summary = summarize(adata, space=space, pert_col=pert_col, control=control)
    splits = split_perturbations(profiles.perts, effect=_effect_size(adata, profiles), seed=seed)
    return Dataset(name, adata, space, pert_col, control, profiles, summary, splits, knockdown(profiles), key)


def _preset(preset: str, *, seed: int) -> ad.AnnData:
    """A built-in screen: read from the cache folder when simulated before, else simulated (and stored)."""
    cache = default_cache()
    if not cache.enabled:
        return simulate(preset, seed=seed)
    return read_h5ad(preset_file(preset, seed=seed, folder=cache.root / "datasets"))


def _restrict(adata: ad.AnnData, column: str, value: str) -> ad.AnnData:
    if column not in adata.obs.columns:
        msg = f"context column {column!r} not in obs (columns: {', '.join(adata.obs.columns)})"
        raise ValueError(msg)
    keep = (adata.obs[column].astype(str) == value).to_numpy()
    if not keep.any():
        found = ", ".join(sorted(adata.obs[column].astype(str).unique())[:10])
        msg = f"no cells with {column} == {value!r} (values: {found})"
        raise ValueError(msg)
    return adata[keep].copy()


def _effect_size(adata: ad.AnnData, profiles: Profiles) -> np.ndarray:
    """True strength for simulated data, else the L2 norm of each pseudobulk delta."""
    truth = adata.uns.get(UNS_TRUTH)
    if truth is not None:
        strength = pd.Series(np.asarray(truth["strength"]), index=np.asarray(truth["perts"]).astype(str))
        return strength.reindex(profiles.perts.astype(str)).to_numpy()
    return np.linalg.norm(np.nan_to_num(profiles.delta), axis=1)
