"""VCC metrics as pure array functions, in one registry (name, function, best value, description).

Importing the package registers every metric (:mod:`~vcc_core.metrics.catalogue`, the one table of them). Families
of pure functions: :mod:`~vcc_core.metrics.pairwise` (MAE, MSE, Pearson on means or deltas),
:mod:`~vcc_core.metrics.discrimination` (PDS and our variants) and :mod:`~vcc_core.metrics.de_metrics` (DES,
precision, DE agreement, AUCs). :mod:`~vcc_core.metrics.profiles` lists the metrics of each cell-eval profile; the
results columns follow cell-eval's order (DE metrics first, then the others).
"""

from vcc_core.metrics import catalogue, de_metrics, discrimination, pairwise
from vcc_core.metrics.profiles import (
    ANNDATA_METRICS,
    MINIMAL_METRICS,
    PROFILES,
    REFERENCE_ONLY,
    VCC_METRICS,
    profile_metrics,
)
from vcc_core.metrics.registry import (
    REGISTRY,
    MetricInfo,
    MetricInputs,
    best_value,
    get_metric,
    list_metrics,
    register,
    target_columns,
)

__all__ = [
    "ANNDATA_METRICS",
    "MINIMAL_METRICS",
    "PROFILES",
    "REFERENCE_ONLY",
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
