"""VCC metrics as pure array functions, in one registry (name, function, best value, description).

Using any name of the package registers every metric (:mod:`~vcc_core.metrics.catalogue`, the one table of them).
Families of pure functions: :mod:`~vcc_core.metrics.pairwise` (MAE, MSE, Pearson on means or deltas),
:mod:`~vcc_core.metrics.discrimination` (PDS and our variants) and :mod:`~vcc_core.metrics.de_metrics` (DES,
precision, DE agreement, AUCs). :mod:`~vcc_core.metrics.profiles` lists the metrics of each cell-eval profile; the
results columns follow cell-eval's order (DE metrics first, then the others).
"""

import importlib

_MODULES = {"catalogue", "de_metrics", "discrimination", "pairwise"}
_NAMES = {
    "ANNDATA_METRICS": "profiles",
    "MINIMAL_METRICS": "profiles",
    "PROFILES": "profiles",
    "CELL_LEVEL": "profiles",
    "VCC_METRICS": "profiles",
    "profile_metrics": "profiles",
    "REGISTRY": "registry",
    "MetricInfo": "registry",
    "MetricInputs": "registry",
    "best_value": "registry",
    "get_metric": "registry",
    "list_metrics": "registry",
    "register": "registry",
    "target_columns": "registry",
}


def __getattr__(name: str):
    """Load on first use (the catalogue pulls in torch, which a command that does not use it should not pay for);
    any name of the registry comes with every metric registered."""
    if name in _MODULES:
        return importlib.import_module(f"vcc_core.metrics.{name}")
    if name in _NAMES:
        importlib.import_module("vcc_core.metrics.catalogue")
        return getattr(importlib.import_module(f"vcc_core.metrics.{_NAMES[name]}"), name)
    msg = f"module 'vcc_core.metrics' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "ANNDATA_METRICS",
    "CELL_LEVEL",
    "MINIMAL_METRICS",
    "PROFILES",
    "REGISTRY",
    "VCC_METRICS",
    "MetricInfo",
    "MetricInputs",
    "best_value",
    "catalogue",
    "de_metrics",
    "discrimination",
    "get_metric",
    "list_metrics",
    "pairwise",
    "profile_metrics",
    "register",
    "target_columns",
]
