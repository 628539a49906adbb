"""Pseudobulk and Wilcoxon DE of ``.h5ad`` files on a Dask cluster, equal to the in-process path.

The client reads only ``obs`` and ``var``; every task opens the file and reads one range of rows of ``X``
(CSR or dense; :mod:`vcc_core.scale.h5ad_rows`). Counts are normalised as :mod:`vcc_core.data.normalize` does: a first
pass histograms the per-cell totals (histograms add up; the median is picked from the merged one by the rule of
:func:`vcc_core.data.normalize.median_target`), then each task normalises its rows with that target and returns,
per block of genes, its group sums (float64) and the histogram of its values (:mod:`vcc_core.de.histogram`).
Blocks are merged in trees of :data:`SPLIT_EVERY` and finished where they were merged, so no machine holds
more than one block of genes; the client assembles p-values and Benjamini-Hochberg FDR over all genes.

What equals the in-process path (:func:`vcc_core.data.pseudobulk.pseudobulk`, :func:`vcc_core.de.wilcoxon.wilcoxon_de`):

- the median target, the normalised values and the cell counts: bit for bit;
- pseudobulk means: the same float64 sums added in another order (within 1e-12);
- with ``mantissa_bits=23``, U statistics, tie terms, p-values and FDR: bit for bit for float32 data;
- DE means (``target_mean``, ``ref_mean``): float64 sums rounded to the data's float type, where the in-process
  path accumulates in that type; so they, and ``log2_fold_change``, may differ in the last bits.

With fewer ``mantissa_bits`` the DE is approximate, and only in one way: values closer than about ``2^-bits``
(relative) may share a bin and are then ranked as tied, which moves U by at most half the pairs between them and
adds their ties to the tie term. What the bins buy is fewer histogram entries to move and merge. Measured against
the exact path on the ``small`` simulated preset in the metric space (normalised log1p; 60 perturbations x 2,000
genes, 1,689 of 120,000 pairs with FDR < 0.05; ``bench/bench_distributed.py --data small.h5ad --accuracy``):

====  ===============  ===============  ====================  ================
bits  max |dU| / n1n2  max |d log10 p|  Jaccard of FDR<0.05   entries / values
====  ===============  ===============  ====================  ================
4     1.2e-2           1.34             0.988                 0.25
6     3.2e-3           0.47             0.995                 0.51
8     8.1e-4           0.083            0.999                 0.73
10    2.2e-4           0.023            1                     0.87
12    1.2e-4           0.0076           1                     0.96
16    1.6e-5           0.0016           1                     0.99
23    0                0                1                     0.99
====  ===============  ===============  ====================  ================

Requirements: the scheduler and every worker import ``vcc_core`` (the scheduler unpickles the graph), and the
workers read the files at the paths the client gives (a shared file system); paths are made absolute on the client.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dask
import numpy as np
import pandas as pd
from dask.delayed import delayed
from distributed import Client, LocalCluster
from scipy import sparse

from vcc_core.data.normalize import DEFAULT_CHUNK_ROWS, Space, median_target, normalize_block, row_totals
from vcc_core.data.pseudobulk import Profiles, group_sums
from vcc_core.data.row_reader import read_rows
from vcc_core.de import histogram as rh
from vcc_core.de.wilcoxon import DEResult
from vcc_core.evaluation.evaluate import evaluate_profiles
from vcc_core.evaluation.loop import refuse_cell_metrics
from vcc_core.keys import CONTROL, PERT_COL
from vcc_core.metrics import get_metric, profile_metrics
from vcc_core.progress import Say, sayer
from vcc_core.scale.h5ad_rows import Source, assemble, open_pair, open_source, value_dtype

SPLIT_EVERY = 8
GENES_PER_BLOCK = 1024
DEFAULT_MANTISSA_BITS = 23


@dataclass(frozen=True)
class Plan:
    """What every task of one file needs besides its rows."""

    target: float | None
    n_groups: int
    n_de_groups: int
    bounds: np.ndarray
    mantissa_bits: int
    de: bool


@dataclass(frozen=True)
class Part:
    """Group sums and value histogram of one block of genes over some rows."""

    sums: np.ndarray
    histogram: rh.Histogram | None


def profiles_and_de(
    sources: list[Source],
    *,
    de: bool = True,
    mantissa_bits: int = DEFAULT_MANTISSA_BITS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    genes_per_block: int = GENES_PER_BLOCK,
) -> list[tuple[Profiles, DEResult | None]]:
    """Pseudobulk (and DE against control when ``de``) of each source, computed with Dask.

    Runs on the current Dask scheduler: a ``distributed.Client`` when one is active (see :func:`connect`),
    else Dask's local threads. Two passes over the files that hold counts (totals, then values), one otherwise.
    """
    targets = median_targets(sources, chunk_rows=chunk_rows)
    graphs = []
    for source, target in zip(sources, targets, strict=True):
        rh.check_key_space(source.genes.size, source.de_perts.size + 1)
        bounds = np.unique(np.r_[np.arange(0, source.genes.size, genes_per_block), source.genes.size])
        plan = Plan(target, source.groups.size, source.de_perts.size + 1, bounds, mantissa_bits, de)
        graphs.append(_blocks(source, plan, chunk_rows=chunk_rows))
    computed = dask.compute(*graphs)
    return [_assemble(source, blocks, de=de) for source, blocks in zip(sources, computed, strict=True)]


def pseudobulk(
    path: str | Path, *, pert_col: str = PERT_COL, control: str = CONTROL, space: Space | None = None, **options
) -> Profiles:
    """:func:`~vcc_core.data.pseudobulk.pseudobulk` of an ``.h5ad`` file on Dask (``options``: :func:`profiles_and_de`).

    ``space`` None detects it; counts are normalised to the median total of the cells that have a label (the
    cells :func:`vcc_core.evaluation.evaluate.evaluate` keeps).
    """
    source = open_source(path, pert_col=pert_col, control=control, space=space)
    return profiles_and_de([source], de=False, **options)[0][0]


def wilcoxon_de(
    path: str | Path, *, pert_col: str = PERT_COL, control: str = CONTROL, space: Space | None = None, **options
) -> DEResult:
    """:func:`vcc_core.de.wilcoxon.wilcoxon_de` of an ``.h5ad`` file with Dask; ``options`` of :func:`profiles_and_de`.

    ``space`` None detects it and normalises counts, as :func:`~vcc_core.evaluation.evaluate.evaluate` does before its
    DE; ``"log1p"`` ranks the values as stored (raw integer counts included).
    """
    source = open_source(path, pert_col=pert_col, control=control, space=space)
    return profiles_and_de([source], de=True, **options)[0][1]


def _ranges(source: Source, chunk_rows: int) -> list[tuple[int, int]]:
    n = source.codes.size
    return [(start, min(start + chunk_rows, n)) for start in range(0, n, chunk_rows)]


def _tree(items: list, combine: Callable) -> object:
    """Delayed reduction of ``items`` in rounds of :data:`SPLIT_EVERY`."""
    while len(items) > 1:
        items = [delayed(combine)(*items[i : i + SPLIT_EVERY]) for i in range(0, len(items), SPLIT_EVERY)]
    return items[0]


def median_targets(sources: list[Source], *, chunk_rows: int) -> list[float | None]:
    """The normalisation target of each source that holds counts (None for the others), computed with Dask.

    Equals :func:`vcc_core.data.normalize.median_target` of the file's cells that have a label.
    """
    graphs = {}
    for i, source in enumerate(sources):
        if source.space == "counts":
            parts = [
                delayed(_chunk_totals)(source.path, start, stop, source.codes[start:stop] >= 0)
                for start, stop in _ranges(source, chunk_rows)
            ]
            graphs[i] = _tree(parts, _merge_totals)
    totals = dict(zip(graphs, dask.compute(*graphs.values()), strict=True))
    return [_median_from_histogram(s, *totals[i]) if i in totals else None for i, s in enumerate(sources)]


def _median_from_histogram(source: Source, values: np.ndarray, counts: np.ndarray) -> float:
    """:func:`vcc_core.data.normalize.median_target` of the totals whose distinct values and counts are given."""
    if not source.is_sparse:  # the dense rule of median_target: cells with a zero total do not count
        counts = np.where(values > 0, counts, 0)
    n = int(counts.sum())
    like = sparse.csr_matrix((0, 1), dtype=source.dtype) if source.is_sparse else np.empty((0, 1), source.dtype)
    if n == 0 or not values[counts > 0].any():  # no cell, or only empty ones: median_target's own message
        return median_target(like, totals=np.zeros(0))
    middle = values[np.searchsorted(np.cumsum(counts), [(n - 1) // 2, n // 2], side="right")]
    return median_target(like, totals=middle)  # the median of the two middle values is the median of all


def _blocks(source: Source, plan: Plan, *, chunk_rows: int) -> list:
    """Delayed ``(sums, statistic, tie)`` of each block of genes."""
    n_blocks = plan.bounds.size - 1
    parts = []
    for start, stop in _ranges(source, chunk_rows):
        rows = slice(start, stop)
        task = delayed(_chunk_parts, nout=n_blocks)
        parts.append(task(source.path, rows, source.columns, source.codes[rows], source.de_codes[rows], plan))
    sizes = np.bincount(source.de_codes[source.de_codes >= 0], minlength=plan.n_de_groups)
    return [delayed(_finish_block)(_tree([p[j] for p in parts], _merge_parts), plan, sizes, j) for j in range(n_blocks)]


def _chunk_totals(path: str, start: int, stop: int, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    totals = row_totals(read_rows(path, slice(start, stop), None), chunk_rows=stop - start)[keep]
    return np.unique(totals, return_counts=True)


def _merge_totals(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    values, inverse = np.unique(np.concatenate([v for v, _ in parts]), return_inverse=True)
    counts = np.bincount(inverse, np.concatenate([c for _, c in parts]), minlength=values.size)
    return values, counts.astype(np.int64)


def _chunk_parts(path: str, rows: slice, columns, codes: np.ndarray, de_codes: np.ndarray, plan: Plan) -> tuple:
    block = read_rows(path, rows, columns)
    if plan.target is not None:
        block = normalize_block(block, target_sum=plan.target)
    sums = group_sums(block, codes, plan.n_groups, chunk_rows=max(block.shape[0], 1))
    pieces = [None] * (plan.bounds.size - 1)
    if plan.de:
        hist = rh.entry_histogram(block, de_codes, n_groups=plan.n_de_groups, mantissa_bits=plan.mantissa_bits)
        pieces = rh.split_genes(hist, plan.bounds, n_groups=plan.n_de_groups)
    cuts = zip(plan.bounds[:-1], plan.bounds[1:], strict=True)
    return tuple(Part(sums[:, g0:g1], piece) for (g0, g1), piece in zip(cuts, pieces, strict=True))


def _merge_parts(*parts: Part) -> Part:
    sums = np.sum([p.sums for p in parts], axis=0)
    histogram = None if parts[0].histogram is None else rh.merge(*(p.histogram for p in parts))
    return Part(sums, histogram)


def _finish_block(part: Part, plan: Plan, sizes: np.ndarray, j: int) -> tuple:
    if part.histogram is None:
        return part.sums, None, None
    genes = (int(plan.bounds[j]), int(plan.bounds[j + 1]))
    stat, tie = rh.rank_statistics(part.histogram, sizes, genes, mantissa_bits=plan.mantissa_bits)
    return part.sums, stat, tie


def _assemble(source: Source, blocks: tuple, *, de: bool) -> tuple[Profiles, DEResult | None]:
    """Profiles and DE of one source from the finished blocks."""
    sums = np.hstack([b[0] for b in blocks])
    if not de:
        return assemble(source, sums)
    return assemble(source, sums, np.hstack([b[1] for b in blocks]), np.hstack([b[2] for b in blocks]))


@contextlib.contextmanager
def connect(address: str | None = None, **cluster_kwargs) -> Iterator[Client]:
    """A client of the Dask scheduler at ``address`` or, without one, of a new ``LocalCluster`` on this machine.

    While the block runs, Dask computations (those of :func:`profiles_and_de` included) go to that cluster.
    ``cluster_kwargs`` go to ``LocalCluster`` (``n_workers``, ``threads_per_worker``, ``processes``, ...).
    """
    if address:
        with Client(address) as client:
            yield client
        return
    with LocalCluster(dashboard_address=":0", **cluster_kwargs) as cluster, Client(cluster) as client:
        yield client


def evaluate(
    real: str | Path,
    pred: str | Path,
    *,
    address: str | None = None,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    profile: str = "vcc",
    metrics: list[str] | None = None,
    epsilon: float = 0.0,
    mantissa_bits: int = DEFAULT_MANTISSA_BITS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Say | None = None,
    cluster_kwargs: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`vcc_core.evaluation.evaluate.evaluate` of two ``.h5ad`` files, their pseudobulks and DE computed on Dask.

    ``address``: a running scheduler (``tcp://host:8786``); None starts a ``LocalCluster`` with
    ``cluster_kwargs``. ``mantissa_bits`` < 23 bins the values of the DE (see the module docstring). The metrics
    are computed on this machine by :func:`vcc_core.evaluation.evaluate.evaluate_profiles`.

    Raises
    ------
    ValueError
        Unreadable files, missing columns or control cells, different genes, or perturbations on one side only.
    """
    names = metrics if metrics is not None else profile_metrics(profile)
    refuse_cell_metrics(names, "dask")
    need_de = any(get_metric(n).kind == "de" for n in names)
    say = sayer(progress)
    say("reading obs and var of the real and predicted files")
    real_src, pred_src = open_pair(real, pred, pert_col=pert_col, control=control)
    say(f"connecting to {address}" if address else "starting a local Dask cluster")
    with connect(address, **(cluster_kwargs or {})) as client:
        workers = len(client.scheduler_info()["workers"])
        say(f"pseudobulk{' and Wilcoxon DE' if need_de else ''} of both files on {workers} Dask worker(s)")
        sides = profiles_and_de([real_src, pred_src], de=need_de, mantissa_bits=mantissa_bits, chunk_rows=chunk_rows)
    say("metrics")
    (real_p, real_de), (pred_p, pred_de) = sides
    dtypes = (value_dtype(real_src), value_dtype(pred_src))
    return evaluate_profiles(
        real_p, pred_p, real_de=real_de, pred_de=pred_de, metrics=names, dtypes=dtypes, epsilon=epsilon
    )
