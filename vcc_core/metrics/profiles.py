"""The metric profiles of cell-eval (and our own): which metrics a run computes, in results-column order."""

from vcc_core.metrics import catalogue  # noqa: F401 (registers every metric before the lists below read them)
from vcc_core.metrics.registry import get_metric, list_metrics

VCC_METRICS = ["overlap_at_N", "mae", "discrimination_score_l1"]
"""The three metrics of the VCC 2025 score: DES, MAE and PDS."""

MINIMAL_METRICS = [
    "overlap_at_N",
    "precision_at_N",
    "de_nsig_counts",
    "pearson_delta",
    "mse",
    "mae",
    "discrimination_score_l1",
]

ANNDATA_METRICS = [
    "pearson_delta",
    "mse",
    "mae",
    "mse_delta",
    "mae_delta",
    "discrimination_score_l1",
    "discrimination_score_l2",
    "discrimination_score_cosine",
    "pearson_edistance",
    "clustering_agreement",
]
"""cell-eval's profile "anndata" in its registration order (the order of the results columns)."""

CELL_LEVEL = ("pearson_edistance", "clustering_agreement")
"""The metrics of cell-eval's "full" profile that the dashboard leaves out: the energy distance reads every cell,
the clustering imports scanpy's neighbour graph (seconds); profile "bulk" is "full" without them."""

PROFILES: dict[str, list[str]] = {
    "vcc": VCC_METRICS,
    "minimal": MINIMAL_METRICS,
    "pds": ["discrimination_score_l1"],
    "de": list_metrics(kind="de", reference=True),
    "anndata": ANNDATA_METRICS,
    "full": list_metrics(kind="de", reference=True) + ANNDATA_METRICS,
    "bulk": list_metrics(kind="de", reference=True) + [n for n in ANNDATA_METRICS if n not in CELL_LEVEL],
    "extra": list_metrics(reference=False),
}
PROFILES["all"] = PROFILES["full"] + PROFILES["extra"]


def profile_metrics(profile: str) -> list[str]:
    """Metric names of ``profile`` in results-column order (DE metrics first, as cell-eval computes them).

    Raises ``ValueError`` naming the known profiles.
    """
    if profile not in PROFILES:
        msg = f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}"
        raise ValueError(msg)
    names = PROFILES[profile]
    return [n for n in names if get_metric(n).kind == "de"] + [n for n in names if get_metric(n).kind != "de"]
