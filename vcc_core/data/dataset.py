"""A loaded dataset with everything the pages show about it, built once and shared.

:func:`open_dataset` reads (or simulates) the cells, decides the value space, pseudobulks, splits the
perturbations and measures the knockdown of each target; pages and the CLI take the :class:`Dataset`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.cache import cached, default_cache, fingerprint
from vcc_core.data.io import load_dataset, read_h5ad
from vcc_core.data.normalize import Space
from vcc_core.data.pseudobulk import Profiles, pseudobulk
from vcc_core.data.simulate import PRESETS, preset_file, simulate
from vcc_core.data.simulate import VERSION as SIM_VERSION
from vcc_core.data.splits import split_perturbations, splits_from_obs
from vcc_core.data.summary import DatasetSummary, knockdown, summarize
from vcc_core.keys import CONTROL, PERT_COL, SPLIT_COL, UNS_SPACE, UNS_TRUTH

PERT_COL_GUESSES = (PERT_COL, "condition", "perturbation", "gene", "target", "guide_target")
CONTROL_GUESSES = (CONTROL, "control", "ctrl", "NT", "non_targeting", "NTC")
VERSION = "2"
"""Bumped when opening the same input gives a different dataset (normalisation, split, ...): cached results go stale."""


@dataclass(frozen=True)
class Dataset:
    """Layout, pseudobulk profiles, split and per-target knockdown of a screen; its cells read on first use.

    Everything but the cells is stored in the disk cache under :attr:`fingerprint`, so reopening a dataset
    whose heavy results are cached does not read its matrix at all.
    """

    name: str
    space: Space
    pert_col: str
    control: str
    profiles: Profiles
    summary: DatasetSummary
    splits: pd.Series
    knockdown: pd.DataFrame
    fingerprint: str
    """Digest of what was opened and how (file stamp or preset, layout, seed): the key of cached results."""
    cells: _Cells = field(repr=False, compare=False)

    def __cache_fingerprint__(self) -> str:
        return self.fingerprint

    @property
    def adata(self) -> ad.AnnData:
        """The validated cells (read, and normalised labels, on first access)."""
        return self.cells.prepared(self.pert_col, self.control)

    @property
    def truth(self) -> dict | None:
        """The simulator's ground truth, or None for real data."""
        return self.adata.uns.get(UNS_TRUTH)


class _Cells:
    """Reads a dataset's cells once, when first needed, and keeps them (thread-safe)."""

    def __init__(self, read: Callable[[], ad.AnnData], context: tuple[str, str] | None):
        self._read, self._context = read, context
        self._raw = self._prepared = self.space = None
        self._lock = threading.RLock()

    def raw(self) -> ad.AnnData:
        with self._lock:
            if self._raw is None:
                adata = self._read()
                self._raw = adata if self._context is None else _restrict(adata, *self._context)
            return self._raw

    def prepared(self, pert_col: str, control: str) -> ad.AnnData:
        with self._lock:
            if self._prepared is None:
                self._prepared, self.space = load_dataset(self.raw(), pert_col=pert_col, control=control)
            return self._prepared


def split_perts(dataset: Dataset, name: str) -> list[str]:
    """Perturbations of one split (``train``, ``val``, ``test``) or ``all``."""
    if name == "all":
        return list(dataset.splits.index)
    if name not in set(dataset.splits):
        msg = f"unknown split {name!r}; use train, val, test or all"
        raise ValueError(msg)
    return list(dataset.splits.index[dataset.splits == name])


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
        name, content = f"synthetic ({source})", {"preset": source, "simulator": SIM_VERSION}
        read = functools.partial(_preset, source, seed=seed)
    elif isinstance(source, ad.AnnData):
        # The declared value space lives in uns, which the content fingerprint leaves out: without it a cached
        # dataset would stand in for the same cells declared otherwise, and skip that declaration's check.
        declared = source.uns.get(UNS_SPACE)
        content = {"anndata": fingerprint(source), "declared_space": None if declared is None else str(declared)}
        name, read = "in-memory data", lambda: source
    else:
        path = Path(source)
        if not path.is_file():
            read_h5ad(path)  # raises the precise error (missing, a folder, ...)
        name, content, read = path.name, {"file": fingerprint(path)}, functools.partial(read_h5ad, path)
    layout = {"pert_col": pert_col, "control": control, "context": context, "seed": seed}
    key = fingerprint({**content, **layout, "version": VERSION})
    cells = _Cells(read, context)
    parts = _derived(key, cells, pert_col=pert_col, control=control, seed=seed)
    profiles = Profiles(**{k.removeprefix("profile_"): v for k, v in parts.items() if k.startswith("profile_")})
    summary = DatasetSummary(**{k.removeprefix("summary_"): v for k, v in parts.items() if k.startswith("summary_")})
    return Dataset(
        name, parts["space"], parts["pert_col"], parts["control"], profiles, summary, parts["splits"],
        parts["knockdown"], key, cells,
    )  # fmt: skip


@cached("dataset", version=VERSION, ignore=("cells",))
def _derived(key: str, cells: _Cells, *, pert_col: str | None, control: str | None, seed: int) -> dict:
    """What the pages show about a dataset, flattened into storable parts (``key`` stands for the content)."""
    raw = cells.raw()
    guessed_col, guessed_control = guess_layout(raw)
    pert_col, control = pert_col or guessed_col, control or guessed_control
    adata = cells.prepared(pert_col, control)
    space = cells.space
    profiles = pseudobulk(adata, pert_col=pert_col, control=control, space=space)
    summary = summarize(adata, space=space, pert_col=pert_col, control=control)
    if SPLIT_COL in adata.obs.columns:
        splits = splits_from_obs(adata.obs, pert_col=pert_col, control=control, perts=profiles.perts)
    else:
        splits = split_perturbations(profiles.perts, effect=_effect_size(adata, profiles), seed=seed)
    return {
        "space": space,
        "pert_col": pert_col,
        "control": control,
        **{f"profile_{f.name}": getattr(profiles, f.name) for f in fields(profiles)},
        **{f"summary_{f.name}": getattr(summary, f.name) for f in fields(summary)},
        "splits": splits,
        "knockdown": knockdown(profiles),
    }


def _preset(preset: str, *, seed: int) -> ad.AnnData:
    """A built-in screen: read from the cache folder when simulated before, else simulated (and stored)."""
    cache = default_cache()
    if not cache.enabled or cache.problem:
        return simulate(preset, seed=seed)
    try:
        path = preset_file(preset, seed=seed, folder=cache.root / "datasets")
    except OSError as err:  # a full disk or an unusable cache folder: simulate it in memory instead
        cache.unusable(err)
        return simulate(preset, seed=seed)
    return read_h5ad(path)


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
