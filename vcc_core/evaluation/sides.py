"""The two sides a metric compares: the cells of the real data or of one prediction source, normalised once, with
their pseudobulk and their Wilcoxon DE against their own control cells.

A built-in model is scored exactly as a VCC submission would be: its pseudobulk prediction is expanded to predicted
cells (:func:`~vcc_core.evaluation.submission.to_submission`), and DE is run on those cells against their own
controls. The real side is one split's real cells with the real controls, normalised on their own (to their median
total, then log1p). Both sides are cached on disk; :func:`model_inputs` aligns them by name.

The oracle replicate is no model: :func:`oracle_sides` splits the split's real cells (controls included) into two
disjoint halves (:func:`half_sides`, the split-half replicate of :mod:`vcc_core.analyses.ceiling`, seed 0), and half
B's real cells are its submission, scored against half A as the real data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import anndata as ad
import numpy as np
import pandas as pd

from vcc_core.cache import cached
from vcc_core.data.dataset import Dataset, split_perts
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.pseudobulk import Profiles, pseudobulk
from vcc_core.de.wilcoxon import DEResult
from vcc_core.evaluation.evaluate import de_of_cells, value_dtype
from vcc_core.evaluation.loop import metric_inputs
from vcc_core.evaluation.submission import to_submission
from vcc_core.keys import CONTROL, CURRENT, PERT_COL
from vcc_core.metrics import MetricInputs
from vcc_core.models.oracle import half_split
from vcc_core.models.training import train_predict

ORACLE = "oracle_replicate"
"""The built-in model name whose sides are the split-half replicate's (:func:`oracle_sides`)."""
ORACLE_SEED = 0

_DE_PREFIX = "de_"


@dataclass(frozen=True)
class Side:
    """One side of an evaluation: pseudobulk profiles (log1p) and DE of the same normalised cells.

    ``dtype`` is the float type the metrics hold the means in: cell-eval keeps the data's type (float32 data gives
    float32 means), which a user's file is scored with; the built-in models' sides keep float64. ``conventions``:
    those the DE follows (:data:`~vcc_core.keys.REFERENCES`).
    """

    profiles: Profiles
    de: DEResult
    dtype: str = "float64"
    conventions: str = CURRENT

    def parts(self) -> dict:
        """Flat ``{name: array}`` for the disk cache (profile fields, then DE fields prefixed ``de_``)."""
        profile = {f.name: getattr(self.profiles, f.name) for f in fields(Profiles)}
        de = {_DE_PREFIX + f.name: getattr(self.de, f.name) for f in fields(DEResult)}
        return profile | de | {"dtype": self.dtype, "conventions": self.conventions}

    @classmethod
    def from_parts(cls, parts: dict) -> Side:
        """Rebuild a side from :meth:`parts`."""
        profile = {f.name: parts[f.name] for f in fields(Profiles)}
        de = {f.name: parts[_DE_PREFIX + f.name] for f in fields(DEResult)}
        return cls(Profiles(**profile), DEResult(**de), str(parts["dtype"]), str(parts["conventions"]))


def side_of_cells(
    cells: ad.AnnData,
    *,
    pert_col: str = PERT_COL,
    control: str = CONTROL,
    device=None,
    dtype: str = "float64",
    conventions: str = CURRENT,
) -> Side:
    """Pseudobulk and DE of log1p-normalised ``cells`` (perturbations and their controls), the DE under
    ``conventions`` (:func:`~vcc_core.evaluation.evaluate.de_of_cells`)."""
    profiles = pseudobulk(cells, pert_col=pert_col, control=control, space="log1p")
    de = de_of_cells(cells, pert_col=pert_col, control=control, conventions=conventions, device=device)
    return Side(profiles, de, dtype, conventions)


def inputs_of(real: Side, pred: Side) -> MetricInputs:
    """The metric arrays of two sides, rows and genes aligned by name on the real side's, under the conventions
    both sides' DE follows (``ValueError`` if they differ)."""
    if real.conventions != pred.conventions:
        msg = f"the real side's DE follows {real.conventions}, the predicted side's {pred.conventions}"
        raise ValueError(msg)
    dtypes = (np.dtype(real.dtype), np.dtype(pred.dtype))
    de = {"real_de": real.de, "pred_de": pred.de}
    return metric_inputs(real.profiles, pred.profiles, **de, dtypes=dtypes, conventions=real.conventions)


def real_cells(dataset: Dataset, perts) -> ad.AnnData:
    """The cells of ``perts`` and the control cells, normalised on their own (to their median, log1p), in a new
    AnnData; the dataset's cells are left as they are. One copy of the chosen cells is held at a time."""
    adata = dataset.adata
    keep = adata.obs[dataset.pert_col].astype(str).isin([dataset.control, *map(str, perts)]).to_numpy()
    if dataset.space != "counts":
        return adata[keep].copy()
    rows = np.flatnonzero(keep)
    obs = adata.obs.iloc[rows].copy()
    for column in obs.columns[[isinstance(t, pd.CategoricalDtype) for t in obs.dtypes]]:
        obs[column] = obs[column].cat.remove_unused_categories()  # as AnnData's own subsetting does
    if rows.size == adata.n_obs:  # every cell: normalising makes the one new matrix
        return log1p_normalize(ad.AnnData(X=adata.X, obs=obs, var=adata.var.copy()))
    return log1p_normalize(ad.AnnData(X=adata.X[rows], obs=obs, var=adata.var.copy()), copy=False)


@cached("real_side", version="3")
def _real_side_parts(dataset: Dataset, perts: tuple[str, ...], conventions: str = CURRENT) -> dict:
    cells = real_cells(dataset, perts)
    dtype = str(value_dtype(cells.X))
    options = {"pert_col": dataset.pert_col, "control": dataset.control, "conventions": conventions}
    return side_of_cells(cells, dtype=dtype, **options).parts()


def real_side_of(dataset: Dataset, perts, *, conventions: str = CURRENT) -> Side:
    """The real cells of ``perts`` with the real controls, normalised once (cached on disk, one entry per set of
    perturbations whatever asks for it); ``dtype`` is the data's, as cell-eval scores a submission."""
    return Side.from_parts(_real_side_parts(dataset, tuple(sorted(map(str, perts))), conventions))


def real_side(dataset: Dataset, split: str = "test", *, conventions: str = CURRENT) -> Side:
    """:func:`real_side_of` the perturbations of ``split``, held in float64 as the built-in models are scored."""
    return replace(real_side_of(dataset, split_perts(dataset, split), conventions=conventions), dtype="float64")


@cached("predicted_side", version="2")
def _predicted_side_parts(dataset: Dataset, model: str, cells_per_pert: int, conventions: str = CURRENT) -> dict:
    cells = to_submission(train_predict(dataset, model), dataset, cells_per_pert=cells_per_pert)
    options = {"pert_col": dataset.pert_col, "control": dataset.control, "conventions": conventions}
    return side_of_cells(cells, **options).parts()


def predicted_side(dataset: Dataset, model: str, cells_per_pert: int = 100, *, conventions: str = CURRENT) -> Side:
    """``model``'s prediction of the test split as the cells a submission would hold (cached on disk)."""
    return Side.from_parts(_predicted_side_parts(dataset, model, cells_per_pert, conventions))


def model_inputs(dataset: Dataset, model: str, *, cells_per_pert: int = 100) -> MetricInputs:
    """Real and predicted arrays of ``model`` on the test split, DE included, rows aligned by name.

    Raises ``ValueError`` naming the test perturbations the prediction lacks.
    """
    return inputs_of(real_side(dataset), predicted_side(dataset, model, cells_per_pert))


def predicted_test_cells(dataset: Dataset, pred: ad.AnnData) -> ad.AnnData:
    """The control cells and the test-split cells of ``pred`` (the VCC layout, validated by ``load_predictions``).

    Raises ``ValueError`` naming the test perturbations ``pred`` lacks.
    """
    test = split_perts(dataset, "test")
    labels = pred.obs[dataset.pert_col].astype(str)
    missing = sorted(set(test) - set(labels))
    if missing:
        msg = f"predictions lack {len(missing)} of the {len(test)} test perturbations: {', '.join(missing[:10])}"
        raise ValueError(msg)
    return pred[labels.isin([*test, dataset.control]).to_numpy()].copy()


def half_sides(
    cells: ad.AnnData, *, seed: int, pert_col: str, control: str, device=None, conventions: str = CURRENT
) -> tuple[list, list]:
    """The two disjoint halves of ``cells`` (:func:`~vcc_core.models.oracle.half_split`) and their sides."""
    half = half_split(cells.obs[pert_col].to_numpy(), control=control, seed=seed)
    halves = [cells[half == h] for h in (0, 1)]
    options = {"pert_col": pert_col, "control": control, "device": device, "conventions": conventions}
    return halves, [side_of_cells(h, **options) for h in halves]


@cached("oracle_sides", version="2")
def _oracle_parts(dataset: Dataset, split: str, seed: int, conventions: str = CURRENT) -> dict:
    cells = real_cells(dataset, split_perts(dataset, split))
    options = {"pert_col": dataset.pert_col, "control": dataset.control, "conventions": conventions}
    _, halves = half_sides(cells, seed=seed, **options)
    return {
        f"{role}_{k}": v for role, side in zip(("real", "pred"), halves, strict=True) for k, v in side.parts().items()
    }


def oracle_sides(
    dataset: Dataset, split: str = "test", seed: int = ORACLE_SEED, *, conventions: str = CURRENT
) -> tuple[Side, Side]:
    """Half A of ``split``'s real cells in the real role and half B's real cells as the submission (cached on disk):
    the split-half replicate, whose metrics are the replicate values ``r`` of the replicate-scaled scores."""
    parts = _oracle_parts(dataset, split, seed, conventions)
    real, pred = ({k.removeprefix(f"{role}_"): v for k, v in parts.items() if k.startswith(f"{role}_")}
                  for role in ("real", "pred"))  # fmt: skip
    return Side.from_parts(real), Side.from_parts(pred)
