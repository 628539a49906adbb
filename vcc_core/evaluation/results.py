"""Results tables as cell-eval writes them: the aggregate (polars' ``describe``), the long table and the CSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

STATISTICS = ["count", "null_count", "mean", "std", "min", "25%", "50%", "75%", "max"]


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


def write_results(
    results: pd.DataFrame,
    agg: pd.DataFrame,
    outdir: str | Path,
    *,
    basename: str = "results.csv",
    prefix: str | None = None,
) -> tuple[Path, Path]:
    """Write ``results.csv`` and ``agg_results.csv`` (``basename`` and ``agg_`` + ``basename``, each after
    ``prefix_`` when given, a ``/`` in it read as ``-``) into ``outdir`` as cell-eval does (polars' CSV style).

    Floats are written in their shortest round-trip form, NaN as ``NaN`` and missing values as empty fields. An
    ``agg`` whose index has no name (the data ceiling's one row) is written without its index.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    lead = f"{prefix.replace('/', '-')}_" if prefix else ""
    paths = (outdir / f"{lead}{basename}", outdir / f"{lead}agg_{basename}")
    for frame, path in zip((results, agg), paths, strict=True):
        keyed = frame.index.name is not None
        lines = [",".join([frame.index.name] * keyed + list(map(str, frame.columns)))]
        for key, row in zip(frame.index, frame.itertuples(index=False), strict=True):
            lines.append(",".join([_csv_field(str(key))] * keyed + [_csv_number(v) for v in row]))
        path.write_text("\n".join(lines) + "\n")
    return paths


def _csv_number(value) -> str:
    if value is pd.NA or value is None:
        return ""
    value = float(value)
    return "NaN" if np.isnan(value) else repr(value)


def _csv_field(text: str) -> str:
    return f'"{text.replace(chr(34), 2 * chr(34))}"' if any(c in text for c in ',"\n') else text
