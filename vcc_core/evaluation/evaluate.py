"""Score a prediction against real data the way ``cell-eval run`` does, from files or from precomputed parts.

Pipeline (cell-eval 0.8.2, ``_evaluator.py``): each AnnData is normalised on its own (counts -> total-normalised
to *its* median -> log1p; data already log1p is kept), pseudobulked per perturbation, tested for DE against its
own control cells (Wilcoxon, :mod:`~vcc_core.de.wilcoxon`), and every metric of the profile is computed per
perturbation by the one metric loop (:mod:`~vcc_core.evaluation.loop`). The results table has one row per
perturbation (sorted) and one column per metric in cell-eval's order; the aggregate table is polars' ``describe`` of
it (:func:`~vcc_core.evaluation.results.aggregate`). :func:`evaluate_profiles` starts from
:class:`~vcc_core.data.pseudobulk.Profiles` and :class:`~vcc_core.de.wilcoxon.DEResult` already computed.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from vcc_core.compiled import CoreShare, concurrent_launches, threads
from vcc_core.data.cells import read_cells
from vcc_core.data.io import is_path, load_dataset, load_predictions
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.pseudobulk import Profiles, group_codes, pseudobulk
from vcc_core.de.wilcoxon import DEResult, de_from_anndata
from vcc_core.device import gpu_device
from vcc_core.evaluation.embedding import embedded_pds, embedding_profiles
from vcc_core.evaluation.loop import check_pds, compute_metrics, metric_inputs
from vcc_core.evaluation.results import aggregate
from vcc_core.keys import CONTROL, CURRENT, LEGACY, PERT_COL, REFERENCES
from vcc_core.metrics import get_metric, profile_metrics
from vcc_core.metrics.cells import energy_distances
from vcc_core.progress import Say, sayer

if TYPE_CHECKING:
    import anndata as ad

NAMES = {CURRENT: "cell-eval 0.8.2 + pdex 0.3.0", LEGACY: "cell-eval 0.6.6 + pdex 0.1.27 (the VCC 2025 leaderboard's)"}
"""Each set of conventions as a caption names it."""


def check_conventions(name: str) -> str:
    """``name`` if it is one of :data:`REFERENCES`; otherwise a ``ValueError`` that lists them."""
    if name not in REFERENCES:
        msg = f"unknown reference {name!r}; choose one of {', '.join(REFERENCES)}"
        raise ValueError(msg)
    return name


def de_of_cells(adata: ad.AnnData, *, pert_col: str, control: str, conventions: str = CURRENT, device=None) -> DEResult:
    """The Wilcoxon DE table of log1p cells against their controls under ``conventions`` (:data:`REFERENCES`):
    pdex 0.3.0's (:func:`~vcc_core.de.wilcoxon.de_from_anndata`) or pdex 0.1.27's
    (:func:`~vcc_core.de.legacy.legacy_de`)."""
    if check_conventions(conventions) == LEGACY:
        from vcc_core.de.legacy import legacy_de  # scipy.special: imported only where the legacy tables are asked for

        return legacy_de(adata.X, adata.obs[pert_col], control=control, genes=adata.var_names, device=device)
    return de_from_anndata(adata, pert_col=pert_col, control=control, device=device)


def evaluate(
    real: ad.AnnData | str | Path,
    pred: ad.AnnData | str | Path,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    profile: str = "vcc",
    metrics: list[str] | None = None,
    epsilon: float = 0.0,
    embed_key: str | None = None,
    cpm_filter: float | None = None,
    reference: str = CURRENT,
    device=None,
    progress: Say | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-perturbation metrics and their aggregate for a prediction, as ``cell-eval run`` computes them.

    Parameters
    ----------
    real, pred
        AnnData or ``.h5ad`` paths in the VCC layout (raw counts or log1p values; control cells in both). A plain
        file (CSR ``X``, see :mod:`vcc_core.data.cells`) is read without anndata, unless ``embed_key`` needs its
        ``obsm``.
    pert_col, control
        Perturbation column of ``obs`` and its control label.
    profile
        ``"vcc"`` (DES, MAE, PDS), ``"full"`` (every metric of cell-eval's),
        ``"bulk"`` (``"full"`` but the two cell-level metrics), ``"extra"`` (our variants),
        ``"all"``, or cell-eval's ``"minimal"``, ``"de"``, ``"anndata"``, ``"pds"``.
    metrics
        Explicit metric names instead of a profile.
    epsilon
        Pseudocount of the DE fold changes (``cell-eval run --epsilon``; 0 as cell-eval pins it).
    embed_key
        ``obsm`` key of an embedding on both sides: the L2 and cosine PDS on it (:mod:`~.embedding`).
    cpm_filter
        pdex's pooled-CPM floor on both sides' DE (``cell-eval run --cpm-filter``; :mod:`vcc_core.de.cpm_filter`).
    reference
        The conventions followed (:data:`REFERENCES`): cell-eval 0.8.2's, or ``"cell-eval-0.6.6"``, those of the
        VCC 2025 leaderboard (pdex 0.1.27's DE, :mod:`vcc_core.de.legacy`, and 0.6.6's reading of the predicted
        FDR in the AUCs; any profile, without ``epsilon`` or ``cpm_filter``).
    device
        Torch device for the DE (default :func:`vcc_core.device.get_device`).
    progress
        Called with a short message as each step starts; the real and predicted sides' steps may be said from two
        threads at once (:class:`Sides`).

    Returns
    -------
    results, agg
        ``results``: index ``perturbation``, one nullable-float column per metric (``<NA>`` where cell-eval writes
        null, NaN where it writes NaN). ``agg``: :func:`aggregate` of ``results``.

    Raises
    ------
    ValueError
        Unreadable files, missing columns or control cells, different genes, perturbations on one side only, bad
        values (see :mod:`vcc_core.data.io`; the message starts with ``real data:`` or ``predictions``), or a PDS metric
        asked for with fewer than 2 perturbations.
    """
    names = metrics if metrics is not None else profile_metrics(profile)
    check_reference(reference, cpm_filter=cpm_filter, epsilon=epsilon)
    need_de = any(get_metric(n).kind == "de" for n in names)
    need_cells = any(get_metric(n).kind == "cells" for n in names)
    say = sayer(progress)
    owned = {"real": is_path(real), "pred": is_path(pred)}  # read here: normalised in place

    def cells(source):
        """A plain file read without anndata (:mod:`vcc_core.data.cells`); an embedding needs anndata's ``obsm``."""
        plain = is_path(source) and embed_key is None
        return (read_cells(source, pert_col=pert_col) if plain else None) or source

    try:
        real_ad, real_space = load_dataset(cells(real), pert_col=pert_col, control=control, drop_labels=())
    except ValueError as err:
        raise ValueError(f"real data: {err}") from err

    def side_parts(side: str, held: list, space: str, owned: bool, say: Say, stop: threading.Event):
        """One side's pseudobulk, DE and energy distances. ``held`` holds the side's AnnData, taken out so that
        this call holds the only reference: its counts are freed once normalised and its values once its DE is done
        (at VCC size each copy is several GB); ``owned`` (read here from a file) is normalised in place. ``stop``:
        leave between steps."""
        adata = held.pop()
        if space == "counts":
            go_on(stop)
            say(f"normalising {side} counts (median total of the {side} file, then log1p)")
            adata = log1p_normalize(adata, copy=not owned)
        go_on(stop)
        say(f"pseudobulk of {side}")
        profiles = pseudobulk(adata, pert_col=pert_col, control=control, space="log1p")
        de = None
        if need_de:
            go_on(stop)
            say(f"Wilcoxon DE of {side} ({profiles.perts.size} perturbations x {adata.n_vars} genes)")
            de = de_of_cells(adata, pert_col=pert_col, control=control, conventions=reference, device=device)
            if cpm_filter is not None:
                from vcc_core.de.cpm_filter import cpm_filtered

                de = cpm_filtered(de, adata.X, adata.obs[pert_col], threshold=cpm_filter, control=control)
        edistance = None
        if need_cells:
            go_on(stop)
            say(f"energy distances of {side} ({profiles.perts.size} perturbations from their control cells)")
            edistance = side_edistances(adata, profiles.perts, pert_col=pert_col, control=control)
        return profiles, de, value_dtype(adata.X), edistance

    sides = Sides(2, device=device)
    # Said once the inputs are known good, so that a refused input is the only line a user sees: the real side's
    # lines wait until the predictions are read and checked, which it overlaps where the sides run at once.
    real_say = HeldSay(say)
    sides.start("real", side_parts, "real", [real_ad], real_space, owned["real"], real_say)
    try:
        pred_ad, pred_space = load_predictions(cells(pred), real=real_ad, pert_col=pert_col, control=control)
        check_same_perturbations(real_ad, pred_ad, pert_col=pert_col)
        check_pds(names, len(set(real_ad.obs[pert_col].astype(str)) - {control}))
        embedded = {}
        if embed_key is not None:  # checked before the long work
            for side, adata in (("real data", real_ad), ("predictions", pred_ad)):
                embedded[side] = embedding_profiles(adata, embed_key, pert_col=pert_col, control=control, side=side)
    except BaseException:
        sides.abandon()
        raise
    say(f"loaded real data ({real_ad.n_obs:,} cells, {real_space}) and predictions ({pred_ad.n_obs:,}, {pred_space})")
    real_say.release()
    del real_ad
    sides.start("pred", side_parts, "pred", [pred_ad], pred_space, owned["pred"], say)
    del pred_ad
    sides = sides.results()
    say("metrics")
    (real_p, real_de, real_dt, real_e), (pred_p, pred_de, pred_dt, pred_e) = sides["real"], sides["pred"]
    results, agg = evaluate_profiles(
        real_p,
        pred_p,
        real_de=real_de,
        pred_de=pred_de,
        metrics=names,
        dtypes=(real_dt, pred_dt),
        edistances=(real_e, pred_e) if need_cells else None,
        epsilon=epsilon,
        conventions=reference,
    )
    if embed_key is None:
        return results, agg
    results = embedded_pds(results, *embedded["real data"], *embedded["predictions"])
    return results, aggregate(results)


class Sides:
    """The real and predicted sides' work, at once where the compiled kernels can be launched from two threads
    (:func:`~vcc_core.compiled.concurrent_launches`) and there are cores to share, each in its own thread on its
    share of the cores (:class:`~vcc_core.compiled.CoreShare`: the side still at work takes all of them); else one
    after the other, here, when :meth:`results` is asked for. Each side's numbers are the same either way.

    A side's steps between kernels (reading, numpy, scipy) run on one core; side by side, they overlap the other
    side's kernels instead of leaving a core idle, and the first side starts while the second is being read.
    """

    def __init__(self, n: int, *, device=None):
        self._stop = threading.Event()
        together = concurrent_launches() and threads() >= n and gpu_device(device) is None
        self._pool = ThreadPoolExecutor(n) if together else None
        self._share = CoreShare(n)
        self._work: dict = {}

    def start(self, side: str, work, *args) -> None:
        """Begin ``work(*args, stop)`` for ``side`` (``stop``: an event set when the evaluation is abandoned)."""
        if self._pool is None:
            self._work[side] = functools.partial(work, *args, self._stop)
        else:
            self._work[side] = self._pool.submit(self._shared, work, *args, self._stop)

    def _shared(self, work, *args):
        with self._share.member():
            return work(*args)

    def results(self) -> dict:
        """``{side: result}``, once every side is done; a side's error stops the others at their next step."""
        try:
            return {side: w.result() if isinstance(w, Future) else w() for side, w in self._work.items()}
        except BaseException:
            self._stop.set()
            raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False)

    def abandon(self) -> None:
        """Stop the sides at their next step and leave without waiting for them."""
        self._stop.set()
        self._work.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class Abandoned(Exception):
    """Raised in a side whose evaluation was abandoned (nobody reads it: the evaluation has already failed)."""


def go_on(stop: threading.Event) -> None:
    """Return, to start a side's next step; raise :class:`Abandoned` once ``stop`` is set."""
    if stop.is_set():
        raise Abandoned


class HeldSay:
    """A :data:`~vcc_core.progress.Say` whose messages are kept until :meth:`release`, then said in order (and later
    ones at once): a side's lines wait until the inputs are known good."""

    def __init__(self, say: Say):
        self._say, self._held, self._open, self._lock = say, [], False, threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            if not self._open:
                self._held.append(message)
                return
        self._say(message)

    def release(self) -> None:
        with self._lock:
            self._open, held, self._held = True, self._held, []
        for message in held:
            self._say(message)


def side_edistances(adata: ad.AnnData, perts, *, pert_col: str, control: str) -> pd.Series:
    """Each perturbation's energy distance from the control cells of ``adata`` (normalised), by name."""
    codes, groups = group_codes(adata.obs[pert_col], control=control)
    values = energy_distances(adata.X, codes, groups.size, control=0)
    return pd.Series(values[1:], index=pd.Index(groups[1:].astype(str))).reindex([str(p) for p in perts])


def evaluate_profiles(
    real: Profiles,
    pred: Profiles,
    *,
    real_de: DEResult | None = None,
    pred_de: DEResult | None = None,
    profile: str = "vcc",
    metrics: list[str] | None = None,
    dtypes: tuple[np.dtype, np.dtype] = (np.dtype(np.float64), np.dtype(np.float64)),
    edistances: tuple[pd.Series, pd.Series] | None = None,
    epsilon: float = 0.0,
    conventions: str = CURRENT,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`evaluate` from pseudobulks (log1p space) and DE results computed beforehand.

    DE metrics need both ``real_de`` and ``pred_de``; ask for a profile without them (or ``metrics=``) otherwise.
    ``dtypes``: see :func:`metric_inputs` (pass the data's float32 to reproduce cell-eval's rounding exactly).
    """
    names = metrics if metrics is not None else profile_metrics(profile)
    if epsilon:
        real_de, pred_de = (None if de is None else de.with_epsilon(epsilon) for de in (real_de, pred_de))
    inputs = metric_inputs(
        real, pred, real_de=real_de, pred_de=pred_de, dtypes=dtypes, edistances=edistances, conventions=conventions
    )
    check_pds(names, inputs.perts.size)
    results = compute_metrics(inputs, names)
    return results, aggregate(results)


def normalised_real(real: ad.AnnData | str | Path, *, pert_col: str, control: str) -> ad.AnnData:
    """The real data as :func:`evaluate` reads it: loaded and checked (errors start with ``real data:``), counts
    normalised to the file's median total then log1p (an AnnData passed in is left as it is)."""
    try:
        adata, space = load_dataset(real, pert_col=pert_col, control=control, drop_labels=())
    except ValueError as err:
        raise ValueError(f"real data: {err}") from err
    return log1p_normalize(adata, copy=not is_path(real)) if space == "counts" else adata


def check_reference(reference: str, *, cpm_filter, epsilon) -> None:
    """Refuse an unknown set of conventions, or the options cell-eval 0.6.6 did not have."""
    if check_conventions(reference) == LEGACY and (cpm_filter is not None or epsilon):
        msg = "the cell-eval 0.6.6 conventions have no --cpm-filter or --epsilon (cell-eval 0.6.6 had neither)"
        raise ValueError(msg)


def value_dtype(x) -> np.dtype:
    """The float type cell-eval holds pseudobulks of values ``x`` in: the data's, at least float32."""
    dtype = np.dtype(x.dtype)
    return dtype if dtype.kind == "f" and dtype.itemsize >= 4 else np.dtype(np.float32)


def check_same_perturbations(real: ad.AnnData, pred: ad.AnnData, *, pert_col: str) -> None:
    missing = sorted(set(real.obs[pert_col].astype(str)) - set(pred.obs[pert_col].astype(str)))
    if missing:
        msg = (
            f"the prediction has no cells for {len(missing)} perturbation(s) of the data: {', '.join(missing[:10])}; "
            "predict cells for every perturbation"
        )
        raise ValueError(msg)
