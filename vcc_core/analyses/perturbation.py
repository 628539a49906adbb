"""One perturbation seen gene by gene: which genes each side calls DE, the genes with the largest real effect, and
the knockdown of each target on both sides."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcc_core.metrics import MetricInputs, best_value


def de_status(real_fdr: np.ndarray, pred_fdr: np.ndarray, *, alpha: float = 0.05) -> np.ndarray:
    """Per gene: ``"both"``, ``"real only"``, ``"predicted only"`` or ``"neither"`` significant (``fdr < alpha``)."""
    real, pred = np.asarray(real_fdr) < alpha, np.asarray(pred_fdr) < alpha
    return np.select([real & pred, real, pred], ["both", "real only", "predicted only"], default="neither")


def top_genes(
    genes, real: np.ndarray, pred: np.ndarray, *, n: int = 50, real_fdr=None, pred_fdr=None, exclude: str | None = None
) -> pd.DataFrame:
    """The ``n`` genes with the largest ``|real Δ|`` (``exclude``: a gene left out, e.g. the target), both effects."""
    frame = pd.DataFrame({"gene": np.asarray(genes).astype(str), "real_delta": real, "pred_delta": pred})
    if real_fdr is not None and pred_fdr is not None:
        frame["real_fdr"], frame["pred_fdr"] = real_fdr, pred_fdr
    if exclude is not None:
        frame = frame[frame["gene"] != str(exclude)]
    return frame.reindex(frame["real_delta"].abs().sort_values(ascending=False).index).head(n).reset_index(drop=True)


def target_knockdown(inputs: MetricInputs, perts) -> pd.DataFrame:
    """Real and predicted log2 fold change of the target gene of each of ``perts`` (NaN where it is not measured)."""
    rows = {str(p): i for i, p in enumerate(inputs.perts)}
    targets = inputs.target_cols

    def lfc(side: np.ndarray, row: int) -> float:
        return float(side[row, targets[row]]) if targets[row] >= 0 else np.nan

    return pd.DataFrame(
        {
            "perturbation": list(perts),
            "real": [lfc(inputs.real_lfc, rows[p]) for p in perts],
            "predicted": [lfc(inputs.pred_lfc, rows[p]) for p in perts],
        }
    )


def overview(inputs: MetricInputs, metrics: pd.DataFrame, *, metric: str) -> pd.DataFrame:
    """Every evaluated perturbation ranked by ``metric`` (best first, by the registry's best value), with its real
    effect size ``effect_l2`` (‖Δ‖₂ over genes) and the real and predicted log2 fold change of its target."""
    knock = target_knockdown(inputs, [str(p) for p in inputs.perts]).set_index("perturbation")
    frame = pd.DataFrame(
        {
            "perturbation": [str(p) for p in inputs.perts],
            metric: metrics.loc[[str(p) for p in inputs.perts], metric].to_numpy(np.float64),
            "effect_l2": np.linalg.norm(np.asarray(inputs.real_delta, np.float64), axis=1),
            "target_log2fc_real": knock["real"].to_numpy(),
            "target_log2fc_pred": knock["predicted"].to_numpy(),
        }
    )
    ascending = best_value(metric) == "zero"
    return frame.sort_values(metric, ascending=ascending, kind="stable", na_position="last").reset_index(drop=True)


def unmeasured_targets(inputs: MetricInputs, perts) -> list[str]:
    """The perturbations among ``perts`` whose target gene is not among the measured genes."""
    rows = {str(p): i for i, p in enumerate(inputs.perts)}
    return [str(p) for p in perts if inputs.target_cols[rows[str(p)]] < 0]
