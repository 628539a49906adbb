"""Prediction sources: a built-in model, a file of predicted cells (a VCC submission) or a pseudobulk table, each
turned into the two sides of an evaluation over the perturbations it predicts that the real data has.

A built-in model predicts the dataset's test split (:mod:`~vcc_core.evaluation.sides`). A file is scored on the
perturbations it holds: predicted cells are checked (:func:`~vcc_core.data.io.load_predictions`), cut to those
perturbations and the controls and normalised on their own, as ``evaluate`` does; a table is expanded to cells
(:func:`~vcc_core.evaluation.submission.to_submission`, real control cells plus the predicted delta) for its DE.
The real side is the data's cells of the same perturbations with its controls, normalised on their own. Both are
cached on disk under the file's content, so a second visit reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from vcc_core.cache import cached
from vcc_core.cache.digest import file_digest
from vcc_core.data.dataset import Dataset, split_perts
from vcc_core.data.io import load_predictions
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.predictions import prediction_kind, read_table
from vcc_core.data.pseudobulk import Profiles
from vcc_core.evaluation.evaluate import value_dtype
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.sides import (
    ORACLE,
    Side,
    inputs_of,
    oracle_sides,
    predicted_side,
    real_side,
    real_side_of,
    side_of_cells,
)
from vcc_core.evaluation.submission import to_submission
from vcc_core.keys import CURRENT
from vcc_core.metrics import MetricInputs
from vcc_core.models.training import train_predict

SourceKind = Literal["model", "cells", "table"]


@dataclass(frozen=True)
class PredictionSource:
    """Where a prediction comes from: a built-in model's name, or a file (predicted cells or a pseudobulk table).

    ``name`` is what the pages show: the model's name, or the file's name.
    """

    name: str
    kind: SourceKind
    location: str

    @classmethod
    def model(cls, name: str) -> PredictionSource:
        return cls(name, "model", name)

    @classmethod
    def file(cls, path: str | Path, *, kind: SourceKind | None = None, name: str | None = None) -> PredictionSource:
        """A file source; ``kind`` is read from the file when not given (:func:`prediction_kind`; a file that
        cannot be read is taken as cells, whose reader then says what is wrong with it)."""
        path = Path(path)
        if kind is None:
            try:
                kind = prediction_kind(path)
            except (OSError, ValueError):
                if path.suffix.lower() != ".h5ad":
                    raise
                kind = "cells"
        return cls(name or path.name, kind, str(path))

    @property
    def is_model(self) -> bool:
        return self.kind == "model"

    @property
    def stamp(self) -> tuple:
        """What identifies the content in this process: a file's size and modification time (a model: nothing)."""
        if self.is_model:
            return ()
        stat = Path(self.location).stat()
        return (stat.st_size, stat.st_mtime_ns)

    @property
    def label(self) -> str:
        """``name`` with what it is: ``ridge (model)``, ``mine.h5ad (predicted cells)``."""
        what = {"model": "model", "cells": "predicted cells", "table": "pseudobulk table"}[self.kind]
        return f"{self.name} ({what})"


def _absent(source_name: str, perts, dataset: Dataset) -> None:
    absent = sorted(set(map(str, perts)) - set(map(str, dataset.profiles.perts)))
    if absent:
        msg = (
            f"{source_name} predicts {len(absent)} perturbation(s) the data lacks: {', '.join(absent[:10])}; "
            "predict only perturbations of the data (or pick the dataset they come from)"
        )
        raise ValueError(msg)


def evaluated_perturbations(dataset: Dataset, source: PredictionSource) -> list[str]:
    """The perturbations a source is scored on: a model's, the test split; a file's, those it predicts (sorted).

    Raises ``ValueError`` when the file does not fit the data (its perturbations, genes or values).
    """
    if source.is_model:
        return split_perts(dataset, "test")
    _, pred = sides(dataset, source)
    return sorted(map(str, pred.profiles.perts))


def content_key(path: str | Path) -> str:
    """A key of a file's bytes, not of its name or time: a registered copy reads the cache of the original."""
    path = Path(path)
    size = path.stat().st_size
    return f"{size}:{file_digest(path, size)}"


def table_profiles(dataset: Dataset, path: Path) -> Profiles:
    """A pseudobulk table read against ``dataset``, its control row or else the dataset's control mean as control.

    Raises ``ValueError`` as :func:`~vcc_core.data.predictions.read_table`, or for perturbations the data lacks.
    """
    table, has_control = read_table(path, genes=dataset.profiles.genes, pert_col=dataset.pert_col,
                                    control=dataset.control)  # fmt: skip
    _absent(path.name, table.perts, dataset)
    control = table.control if has_control else dataset.profiles.control
    return Profiles(table.means, control, table.perts, table.genes, table.n_cells)


@cached("file_side", version="2", ignore=("file",))
def _file_side_parts(
    dataset: Dataset, content: str, file: Path, kind: str, cells_per_pert: int, conventions: str = CURRENT
) -> dict:
    options = {"pert_col": dataset.pert_col, "control": dataset.control, "conventions": conventions}
    if kind == "table":
        cells = to_submission(table_profiles(dataset, file), dataset, cells_per_pert=cells_per_pert)
        return side_of_cells(cells, **options).parts()
    cells, space = load_predictions(file, real=dataset.adata, pert_col=dataset.pert_col, control=dataset.control)
    cells = log1p_normalize(cells, copy=False) if space == "counts" else cells
    return side_of_cells(cells, dtype=str(value_dtype(cells.X)), **options).parts()


def sides(
    dataset: Dataset, source: PredictionSource, *, cells_per_pert: int = 100, conventions: str = CURRENT
) -> tuple[Side, Side]:
    """The real and the predicted side of ``source`` (each cached on disk), their DE under ``conventions``
    (:data:`~vcc_core.keys.REFERENCES`); the oracle replicate's are the split-half replicate's
    (:func:`~vcc_core.evaluation.sides.oracle_sides`)."""
    if source.is_model and source.location == ORACLE:
        return oracle_sides(dataset, conventions=conventions)
    if source.is_model:
        real = real_side(dataset, conventions=conventions)
        return real, predicted_side(dataset, source.location, cells_per_pert, conventions=conventions)
    path = Path(source.location)
    try:
        key = content_key(path)
    except OSError as err:
        msg = f"{path.name} cannot be read ({err.strerror or err}); register it again"
        raise ValueError(msg) from err
    pred = Side.from_parts(_file_side_parts(dataset, key, path, source.kind, cells_per_pert, conventions))
    real = real_side_of(dataset, pred.profiles.perts, conventions=conventions)
    # Predicted cells are scored in their data's float type, as cell-eval scores a submission; a table, like the
    # built-in models whose pseudobulks it holds, in float64.
    return (real, pred) if source.kind == "cells" else (replace(real, dtype=pred.dtype), pred)


def source_inputs(dataset: Dataset, source: PredictionSource, *, conventions: str = CURRENT) -> MetricInputs:
    """The metric arrays of ``source`` against the real data, DE included (under ``conventions``), rows aligned by
    name."""
    return inputs_of(*sides(dataset, source, conventions=conventions))


@dataclass(frozen=True)
class Scored:
    """A prediction's aligned real and predicted arrays (DE included), every metric per perturbation, and the
    predicted cells behind each perturbation (a table's or a model's: the cells it is expanded to)."""

    inputs: MetricInputs
    metrics: pd.DataFrame
    cells: pd.Series


def score_source(dataset: Dataset, source: PredictionSource, *, conventions: str = CURRENT) -> Scored:
    """:class:`Scored` of ``source`` on ``dataset`` (``profile="bulk"``), the DE under ``conventions``."""
    real, pred = sides(dataset, source, conventions=conventions)
    inputs = inputs_of(real, pred)
    cells = pd.Series(pred.profiles.n_cells, index=pred.profiles.perts.astype(str), name="cells")
    return Scored(inputs, per_perturbation(inputs, profile="bulk"), cells)


def sweep_profiles(dataset: Dataset, source: PredictionSource) -> tuple[Profiles, Profiles]:
    """Real and predicted pseudobulks (log1p) for the output-scale sweep, rows of the evaluated perturbations.

    A model's prediction is its pseudobulk against the dataset's profiles; a file's, the pseudobulk of its side
    (a table: as given, its control row or the real control) against the real side's.
    """
    if source.is_model:
        real = dataset.profiles.subset(split_perts(dataset, "test"))
        return real, train_predict(dataset, source.location)
    real, pred = sides(dataset, source)
    return real.profiles, (table_profiles(dataset, Path(source.location)) if source.kind == "table" else pred.profiles)
