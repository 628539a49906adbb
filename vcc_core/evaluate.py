"""Score a prediction against real data the way ``cell-eval run`` does, from files or from precomputed parts.

Pipeline (cell-eval 0.8.2, ``_evaluator.py``): each AnnData is normalised on its own (counts -> total-normalised
to *its* median -> log1p; data already log1p is kept), pseudobulked per perturbation, tested for DE against its
own control cells (Wilcoxon, :mod:`vcc_core.de`), and every metric of the profile is computed per perturbation.
The results table has one row per perturbation (sorted) and one column per metric in cell-eval's order; the
aggregate table is polars' ``describe`` of it (:func:`aggregate`). :func:`evaluate_profiles` starts from
:class:`~vcc_core.pseudobulk.Profiles` and :class:`~vcc_core.de.DEResult` already computed (the dashboard's path).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.de import DEResult, de_from_anndata
from vcc_core.io import load_dataset, load_predictions
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.metrics import MetricInputs, get_metric, profile_metrics
from vcc_core.normalize import log1p_normalize
from vcc_core.pseudobulk import Profiles, pseudobulk

Progress = Callable[[str], None]
STATISTICS = ["count", "null_count", "mean", "std", "min", "25%", "50%", "75%", "max"]


def evaluate(
    real: ad.AnnData | str | Path,
    pred: ad.AnnData | str | Path,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    profile: str = "vcc",
    metrics: list[str] | None = None,
    device=None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-perturbation metrics and their aggregate for a prediction, as ``cell-eval run`` computes them.

    Parameters
    ----------
    real, pred
        AnnData or ``.h5ad`` paths in the VCC layout (raw counts or log1p values; control cells in both).
    pert_col, control
        Perturbation column of ``obs`` and its control label.
    profile
        ``"vcc"`` (DES, MAE, PDS), ``"full"`` (every cell-eval metric computed here), ``"extra"`` (our variants),
        ``"all"``, or cell-eval's ``"minimal"``, ``"de"``, ``"anndata"``, ``"pds"``.
    metrics
        Explicit metric names instead of a profile.
    device
        Torch device for the DE (default :func:`vcc_core.device.get_device`).
    progress
        Called with a short message as each step starts.

    Returns
    -------
    results, agg
        ``results``: index ``perturbation``, one nullable-float column per metric (``<NA>`` where cell-eval writes
        null, NaN where it writes NaN). ``agg``: :func:`aggregate` of ``results``.

    Raises
    ------
    ValueError
        Unreadable files, missing columns or control cells, different genes, perturbations on one side only, bad
        values (see :mod:`vcc_core.io`; the message starts with ``real data:`` or ``predictions``), or a PDS metric
        asked for with fewer than 2 perturbations.
    """
    names = metrics if metrics is not None else profile_metrics(profile)
    need_de = any(get_metric(n).kind == "de" for n in names)
    say = progress or (lambda _msg: None)
    try:
        real_ad, real_space = load_dataset(real, pert_col=pert_col, control=control, drop_labels=())
    except ValueError as err:
        raise ValueError(f"real data: {err}") from err
    pred_ad, pred_space = load_predictions(pred, real=real_ad, pert_col=pert_col, control=control)
    _check_same_perturbations(real_ad, pred_ad, pert_col=pert_col)
    _check_pds(names, len(set(real_ad.obs[pert_col].astype(str)) - {control}))
    # Said once the inputs are known good, so that a refused input is the only line a user sees.
    say(f"loaded real data ({real_ad.n_obs:,} cells, {real_space}) and predictions ({pred_ad.n_obs:,}, {pred_space})")
    # One side at a time, each holding the only reference to its data, so that a side's counts are freed once
    # normalised and its values once its DE is done (at VCC size each copy is several GB).
    # Data read here from a file is ours to normalise in place; an AnnData passed in is left as it is.
    loaded = {
        "real": (real_ad, real_space, not isinstance(real, ad.AnnData)),
        "pred": (pred_ad, pred_space, not isinstance(pred, ad.AnnData)),
    }
    del real_ad, pred_ad
    sides = {}
    for side in ("real", "pred"):
        adata, space, owned = loaded.pop(side)
        if space == "counts":
            say(f"normalising {side} counts (median total of the {side} file, then log1p)")
            adata = log1p_normalize(adata, copy=not owned)
        say(f"pseudobulk of {side}")
        profiles = pseudobulk(adata, pert_col=pert_col, control=control, space="log1p")
        de = None
        if need_de:
            say(f"Wilcoxon DE of {side} ({profiles.perts.size} perturbations x {adata.n_vars} genes)")
            de = de_from_anndata(adata, pert_col=pert_col, control=control, device=device)
        sides[side] = (profiles, de, _value_dtype(adata.X))
    say("metrics")
    (real_p, real_de, real_dt), (pred_p, pred_de, pred_dt) = sides["real"], sides["pred"]
    return evaluate_profiles(real_p, pred_p, real_de=real_de, pred_de=pred_de, metrics=names, dtypes=(real_dt, pred_dt))


def evaluate_profiles(
    real: Profiles,
    pred: Profiles,
    *,
    real_de: DEResult | None = None,
    pred_de: DEResult | None = None,
    profile: str = "vcc",
    metrics: list[str] | None = None,
    dtypes: tuple[np.dtype, np.dtype] = (np.dtype(np.float64), np.dtype(np.float64)),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`evaluate` from pseudobulks (log1p space) and DE results computed beforehand.

    DE metrics need both ``real_de`` and ``pred_de``; ask for a profile without them (or ``metrics=``) otherwise.
    ``dtypes``: see :func:`metric_inputs` (pass the data's float32 to reproduce cell-eval's rounding exactly).
    """
    names = metrics if metrics is not None else profile_metrics(profile)
    inputs = metric_inputs(real, pred, real_de=real_de, pred_de=pred_de, dtypes=dtypes)
    results = compute_metrics(inputs, names)
    return results, aggregate(results)


def metric_inputs(
    real: Profiles,
    pred: Profiles,
    *,
    real_de: DEResult | None = None,
    pred_de: DEResult | None = None,
    dtypes: tuple[np.dtype, np.dtype] = (np.dtype(np.float64), np.dtype(np.float64)),
) -> MetricInputs:
    """Align two sides on the real perturbations and genes.

    ``dtypes`` are the float types the means are held in, side by side: cell-eval's pseudobulk keeps the data's
    type, so float32 data gives float32 means and deltas, and matching it needs the same rounding.

    Raises
    ------
    ValueError
        A perturbation or gene of the real side missing from the prediction or a DE result.
    """
    perts, genes = real.perts, real.genes
    pred = _reindex_profiles(pred, perts, genes)
    de = {}
    for side, result in (("real", real_de), ("pred", pred_de)):
        if result is not None:
            rows, cols = _positions(result.perts, perts, f"{side} DE"), _positions(result.genes, genes, f"{side} DE")
            de[f"{side}_fdr"] = result.fdr[np.ix_(rows, cols)]
            de[f"{side}_lfc"] = result.log2fc[np.ix_(rows, cols)]
    real_dt, pred_dt = dtypes
    return MetricInputs(
        perts=np.asarray(perts),
        genes=np.asarray(genes),
        real_means=real.means.astype(real_dt),
        pred_means=pred.means.astype(pred_dt),
        real_control=real.control.astype(real_dt),
        pred_control=pred.control.astype(pred_dt),
        **de,
    )


def compute_metrics(inputs: MetricInputs, names: list[str]) -> pd.DataFrame:
    """One nullable-float column per metric (sub-metrics expanded), index ``perturbation``.

    Raises ``ValueError`` when a PDS metric is asked for with fewer than 2 perturbations (no ranking exists).
    """
    _check_pds(names, inputs.perts.size)
    columns = {}
    for name in names:
        for column, values in get_metric(name).compute(inputs).items():
            columns[column] = pd.arrays.FloatingArray(values.data.astype(np.float64), values.mask.copy())
    frame = pd.DataFrame(columns, index=pd.Index(inputs.perts.astype(str), name="perturbation"))
    return frame.sort_index()


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """polars ``DataFrame.describe()`` of ``results``, as cell-eval writes ``agg_results.csv``.

    Rows ``count`` (non-null values, NaN included), ``null_count``, ``mean`` and ``std`` (ddof 1; NaN if any
    value is NaN), ``min``/``max`` (NaN ignored), and the 25/50/75% quantiles by polars' "nearest" rule (index
    ``floor(q (n - 1) + 1/2)`` of the sorted non-null values, NaN sorted last). Empty statistics are ``<NA>``.
    """
    table = {}
    for column in results.columns:
        stats = _describe(results[column])
        values = np.array([np.nan if v is None else v for v in stats], dtype=np.float64)
        table[column] = pd.arrays.FloatingArray(values, np.array([v is None for v in stats]))
    return pd.DataFrame(table, index=pd.Index(STATISTICS, name="statistic"))


def _describe(column: pd.Series) -> list[float | None]:
    present = ~column.isna().to_numpy()
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)[present]
    n = values.size
    if n == 0:
        return [0.0, float((~present).sum())] + [None] * 7
    finite = values[~np.isnan(values)]
    has_nan = finite.size < n
    mean = np.nan if has_nan else float(values.mean())
    std = None if n < 2 else (np.nan if has_nan else float(values.std(ddof=1)))
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (np.nan, np.nan)
    ordered = np.concatenate([np.sort(finite), np.full(n - finite.size, np.nan)])
    quantiles = [float(ordered[int(np.floor(q * (n - 1) + 0.5))]) for q in (0.25, 0.5, 0.75)]
    return [float(n), float((~present).sum()), mean, std, lo, *quantiles, hi]


def to_long(results: pd.DataFrame) -> pd.DataFrame:
    """Long table ``perturbation, metric, value`` (float, NaN where there is no value)."""
    long = results.astype("float64").reset_index().melt(id_vars="perturbation", var_name="metric")
    return long.reset_index(drop=True)


def _value_dtype(x) -> np.dtype:
    dtype = np.dtype(x.dtype)
    return dtype if dtype.kind == "f" and dtype.itemsize >= 4 else np.dtype(np.float32)


def _check_pds(names: list[str], n_perts: int) -> None:
    if n_perts < 2 and any(n.startswith("discrimination_score") for n in names):
        msg = (
            f"PDS ranks perturbations against each other and needs at least 2 (got {n_perts}); "
            "add perturbations or leave out the discrimination_score metrics (e.g. profile 'de')"
        )
        raise ValueError(msg)


def _check_same_perturbations(real: ad.AnnData, pred: ad.AnnData, *, pert_col: str) -> None:
    missing = sorted(set(real.obs[pert_col].astype(str)) - set(pred.obs[pert_col].astype(str)))
    if missing:
        msg = (
            f"the prediction has no cells for {len(missing)} perturbation(s) of the data: {', '.join(missing[:10])}; "
            "predict cells for every perturbation"
        )
        raise ValueError(msg)


def _positions(have, want, what: str) -> np.ndarray:
    index = pd.Index(np.asarray(have).astype(str))
    pos = index.get_indexer(np.asarray(want).astype(str))
    if (pos < 0).any():
        absent = np.asarray(want)[pos < 0]
        msg = f"{what} lacks {absent.size} name(s) of the real data: {', '.join(map(str, absent[:10]))}"
        raise ValueError(msg)
    return pos


def _reindex_profiles(pred: Profiles, perts, genes) -> Profiles:
    rows, cols = _positions(pred.perts, perts, "prediction"), _positions(pred.genes, genes, "prediction")
    return Profiles(
        pred.means[np.ix_(rows, cols)], pred.control[cols], pred.perts[rows], pred.genes[cols], pred.n_cells[rows]
    )


def write_results(results: pd.DataFrame, agg: pd.DataFrame, outdir: str | Path) -> tuple[Path, Path]:
    """Write ``results.csv`` and ``agg_results.csv`` into ``outdir`` as cell-eval does (polars' CSV style).

    Floats are written in their shortest round-trip form, NaN as ``NaN`` and missing values as empty fields.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = (outdir / "results.csv", outdir / "agg_results.csv")
    for frame, path in zip((results, agg), paths, strict=True):
        header = [frame.index.name, *map(str, frame.columns)]
        lines = [",".join(header)]
        for key, row in zip(frame.index, frame.itertuples(index=False), strict=True):
            lines.append(",".join([_csv_field(str(key)), *(_csv_number(v) for v in row)]))
        path.write_text("\n".join(lines) + "\n")
    return paths


def _csv_number(value) -> str:
    if value is pd.NA or value is None:
        return ""
    value = float(value)
    return "NaN" if np.isnan(value) else repr(value)


def _csv_field(text: str) -> str:
    return f'"{text.replace(chr(34), 2 * chr(34))}"' if any(c in text for c in ',"\n') else text
