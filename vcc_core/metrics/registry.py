"""The metric registry and the arrays every metric reads.

A metric is a pure function on arrays. Its :class:`MetricInfo` names the arrays it takes (attributes of
:class:`MetricInputs`: ``needs`` passed positionally, ``keywords`` by their own name), the keyword arguments it
is registered with, the best value that drives baseline normalisation, and whether cell-eval computes it
(``reference``). A function returns one of

- a ``(P,)`` float array: one value per perturbation, NaN where the value is undefined;
- a ``(P,)`` masked array: masked entries have *no* value (cell-eval's ``null``, e.g. a DE metric for a
  perturbation without real DE genes), which aggregation skips, unlike NaN;
- a float: one value for the whole run, repeated on every perturbation (cell-eval does the same);
- a dict of the above: sub-metrics, reported as columns ``f"{name}_{key}"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

from vcc_core.keys import CURRENT

BestValue = Literal["zero", "one", "none"]
Kind = Literal["pair", "de", "cells"]


def target_columns(perts, genes) -> np.ndarray:
    """``(P,)`` column of the gene named like each perturbation (its target), -1 when there is none."""
    col = {str(g): i for i, g in enumerate(genes)}
    return np.array([col.get(str(p), -1) for p in perts], dtype=np.int64)


@dataclass(frozen=True)
class MetricInputs:
    """Row-aligned arrays for one evaluation: ``P`` perturbations x ``G`` genes, real and predicted.

    Means and controls stay in the float type they are given in (cell-eval holds float32 pseudobulks when the data
    is float32; deltas are taken in that type). DE arrays are ``None`` when DE was not computed.
    """

    perts: np.ndarray
    genes: np.ndarray
    real_means: np.ndarray
    pred_means: np.ndarray
    real_control: np.ndarray
    pred_control: np.ndarray
    real_fdr: np.ndarray | None = None
    pred_fdr: np.ndarray | None = None
    real_lfc: np.ndarray | None = None
    pred_lfc: np.ndarray | None = None
    targets: np.ndarray | None = None
    """``(P,)`` target gene columns when they are not the genes named like the perturbations (-1: none)."""
    conventions: str = CURRENT
    """The cell-eval version whose conventions the DE tables follow (:data:`~vcc_core.keys.REFERENCES`): the AUCs
    read the predicted FDR as that version did."""
    real_edistance: np.ndarray | None = None
    pred_edistance: np.ndarray | None = None
    """``(P,)`` each perturbation's energy distance from its side's control cells
    (:func:`~vcc_core.metrics.cells.energy_distances`): only where the cells were at hand."""

    def __post_init__(self) -> None:
        shape = (self.perts.size, self.genes.size)
        for name in ("real_means", "pred_means", "real_fdr", "pred_fdr", "real_lfc", "pred_lfc"):
            value = getattr(self, name)
            if value is not None and value.shape != shape:
                msg = f"{name} has shape {value.shape}; expected {shape} (perturbations x genes)"
                raise ValueError(msg)

    @property
    def real_delta(self) -> np.ndarray:
        """``(P, G)`` real perturbation means minus the real control mean."""
        return self.real_means - self.real_control[None, :]

    @property
    def pred_delta(self) -> np.ndarray:
        """``(P, G)`` predicted means minus the *predicted* control mean."""
        return self.pred_means - self.pred_control[None, :]

    @property
    def target_cols(self) -> np.ndarray:
        """``(P,)`` column of each perturbation's target gene, left out of PDS distances (-1 when none): the gene
        named like the perturbation, unless :attr:`targets` says otherwise."""
        return target_columns(self.perts, self.genes) if self.targets is None else np.asarray(self.targets)

    @property
    def has_de(self) -> bool:
        return all(getattr(self, n) is not None for n in ("real_fdr", "pred_fdr", "real_lfc", "pred_lfc"))


@dataclass(frozen=True)
class MetricInfo:
    """One registered metric: see the module docstring for what ``func`` returns."""

    name: str
    func: Callable
    needs: tuple[str, ...]
    keywords: tuple[str, ...]
    best: BestValue
    kind: Kind
    description: str
    reference: bool = True
    kwargs: Mapping = field(default_factory=dict)

    def compute(self, inputs: MetricInputs) -> dict[str, np.ma.MaskedArray]:
        """Column name -> ``(P,)`` masked float array (masked = no value) for ``inputs``."""
        if self.kind == "de" and not inputs.has_de:
            msg = f"metric {self.name!r} needs DE results for both sides; pass real_de and pred_de"
            raise ValueError(msg)
        if self.kind == "cells" and any(getattr(inputs, n) is None for n in self.needs):
            msg = f"metric {self.name!r} reads the cells of both sides: evaluate the .h5ad files, not pseudobulks"
            raise ValueError(msg)
        named = {k: getattr(inputs, k) for k in self.keywords}
        out = self.func(*(getattr(inputs, n) for n in self.needs), **named, **self.kwargs)
        parts = out if isinstance(out, dict) else {None: out}
        n = inputs.perts.size
        return {self.name if k is None else f"{self.name}_{k}": _column(v, n) for k, v in parts.items()}


def _column(value, n: int) -> np.ma.MaskedArray:
    if np.ndim(value) == 0:
        return np.ma.masked_array(np.full(n, float(value)), mask=np.zeros(n, bool))
    return np.ma.masked_array(np.ma.getdata(value).astype(np.float64), mask=np.ma.getmaskarray(value))


_REGISTRY: dict[str, MetricInfo] = {}
REGISTRY: Mapping[str, MetricInfo] = MappingProxyType(_REGISTRY)


def register(
    name: str,
    func: Callable,
    *,
    needs: tuple[str, ...],
    keywords: tuple[str, ...] = (),
    best: BestValue,
    kind: Kind,
    description: str,
    reference: bool = True,
    **kwargs,
) -> MetricInfo:
    """Add a metric; ``kwargs`` are passed to ``func`` on every call. Raises ``ValueError`` on a taken name."""
    if name in _REGISTRY:
        msg = f"metric {name!r} is already registered"
        raise ValueError(msg)
    unknown = {*needs, *keywords} - set(MetricInputs.__dataclass_fields__) - {"real_delta", "pred_delta", "target_cols"}
    if unknown:
        msg = f"metric {name!r} needs unknown inputs: {', '.join(sorted(unknown))}"
        raise ValueError(msg)
    frozen = MappingProxyType(dict(kwargs))
    info = MetricInfo(name, func, tuple(needs), tuple(keywords), best, kind, description, reference, frozen)
    _REGISTRY[name] = info
    return info


def get_metric(name: str) -> MetricInfo:
    """The registered metric ``name``; a ``KeyError`` lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        msg = f"unknown metric {name!r}; known: {', '.join(_REGISTRY)}"
        raise KeyError(msg) from None


def list_metrics(*, kind: Kind | None = None, reference: bool | None = None) -> list[str]:
    """Names in registration order, optionally only one kind, or only cell-eval's (or only our own) metrics."""
    return [
        m.name
        for m in _REGISTRY.values()
        if (kind is None or m.kind == kind) and (reference is None or m.reference == reference)
    ]


def best_value(column: str) -> BestValue | None:
    """Best value of a results column (a metric or one of its sub-metric columns); ``None`` if unknown."""
    if column in _REGISTRY:
        return _REGISTRY[column].best
    return None
