"""The guided tour: the challenge's story told on the current dataset, one step per lesson.

Each step is computed from results the pages compute anyway (a scored model, a sweep, the split-half ceiling, the
leaderboard tables) and returns a :class:`Step`: a title, two or three sentences whose numbers all come from those
results, the figures that show them, and the page that tells the whole of it. Nothing here knows Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from vcc_core.analyses.ceiling import Ceiling
from vcc_core.analyses.perturbation import de_status, target_knockdown
from vcc_core.analyses.sweep_runs import ModelSweep
from vcc_core.metrics import MetricInputs
from vcc_core.metrics.discrimination import distance_matrix
from vcc_core.plots import ceiling as ceiling_plots
from vcc_core.plots import explorer as explorer_plots
from vcc_core.plots import leaderboard as leaderboard_plots
from vcc_core.plots import tour as plots

PDS, MAE, DES = "discrimination_score_l1", "mae", "overlap_at_N"


@dataclass(frozen=True)
class Step:
    """One stop of the tour: ``text`` is markdown, ``page`` the file of the page that shows the whole of it."""

    title: str
    text: str
    figures: tuple[go.Figure, ...]
    page: str
    link: str


def showcase(inputs: MetricInputs) -> int:
    """Row of the perturbation the tour follows: the largest real effect (‖Δ‖₂) among those whose target is measured
    (any row when none is)."""
    effect = np.linalg.norm(np.asarray(inputs.real_delta, np.float64), axis=1)
    measured = inputs.target_cols >= 0
    return int(np.argmax(np.where(measured, effect, -1.0) if measured.any() else effect))


def effect_step(inputs: MetricInputs, model: str) -> Step:
    """A perturbation's real effect (its target's knockdown, the genes it moves) and a model's prediction of it."""
    r = showcase(inputs)
    pert, real, pred = str(inputs.perts[r]), inputs.real_delta[r], inputs.pred_delta[r]
    n_de = int((inputs.real_fdr[r] < 0.05).sum())
    knock = target_knockdown(inputs, [pert]).iloc[0]
    kept = f"{2 ** knock['real']:.0%}" if np.isfinite(knock["real"]) else "an unmeasured level"
    r_pred = float(np.corrcoef(real, pred)[0, 1]) if np.std(pred) > 0 else float("nan")
    text = (
        f"In **{pert}** cells, CRISPRi silenced the gene {pert}: it keeps {kept} of its control expression, and "
        f"{n_de:,} genes change significantly (Wilcoxon test against the control cells, FDR < 0.05). A model never "
        f"sees these cells; **{model}**, trained on other perturbations, predicts each gene's change (Δ, log1p "
        f"expression minus control): its prediction correlates with the real one at Pearson r = {r_pred:.2f}."
    )
    scatter = explorer_plots.delta_scatter(
        real, pred, genes=inputs.genes, target=pert, title=f"{pert}: predicted vs real Δ per gene",
        de_status=de_status(inputs.real_fdr[r], inputs.pred_fdr[r]), height=480, square=True,
    )  # fmt: skip
    knockdown = explorer_plots.knockdown_pair(target_knockdown(inputs, [pert]))
    return Step("A perturbation's effect", text, (scatter, knockdown), "app_pages/explorer.py", "Perturbation explorer")


def pds_step(inputs: MetricInputs, metrics: pd.DataFrame, model: str, baseline: float) -> Step:
    """How PDS reads a prediction: its distance to every real effect, and the rank of its own."""
    r = showcase(inputs)
    pert, n = str(inputs.perts[r]), len(inputs.perts)
    dist = distance_matrix(inputs.real_delta, inputs.pred_delta, target_cols=inputs.target_cols, metric="l1")[:, r]
    rank = int((dist < dist[r]).sum())
    text = (
        f"PDS asks whether a prediction is closer to its own real effect than to the others'. {model}'s prediction "
        f"for {pert} has {rank} of the {n - 1} other real effects closer than its own (L1 distance over all genes but "
        f"the target), so its PDS is 1 − {rank}/{n} = {1 - rank / n:.2f}. Averaged over the {n} test perturbations "
        f"{model} scores {metrics[PDS].mean():.3f}; the mean baseline, the same prediction for all, {baseline:.3f} "
        "(about 0.5 is chance)."
    )
    fig = plots.distance_bars(
        dist, [str(p) for p in inputs.perts], truth=r, title=f"L1 distance from {pert}'s prediction"
    )
    return Step("How PDS reads a prediction", text, (fig,), "app_pages/leaderboard.py", "Leaderboard")


def des_mae_step(inputs: MetricInputs, metrics: pd.DataFrame, model: str) -> Step:
    """DES (overlap of the DE gene sets) and MAE on the followed perturbation."""
    r = showcase(inputs)
    pert = str(inputs.perts[r])
    status = de_status(inputs.real_fdr[r], inputs.pred_fdr[r])
    counts = {k: int((status == k).sum()) for k in ("both", "real only", "predicted only")}
    text = (
        f"DES compares gene lists: of the {counts['both'] + counts['real only']} genes DE in the real {pert} cells, "
        f"{model}'s predicted cells call {counts['both']} (and {counts['predicted only']} others); its DES here is "
        f"{metrics.loc[pert, DES]:.2f}, {metrics[DES].mean():.3f} on average. MAE is the mean absolute error of the "
        f"expression over all genes: {metrics.loc[pert, MAE]:.4f} here, {metrics[MAE].mean():.4f} on average."
    )
    fig = plots.de_sets(counts, title=f"{pert}: DE genes, real and predicted")
    return Step("DES and MAE", text, (fig,), "app_pages/explorer.py", "Perturbation explorer")


def scaling_step(run: ModelSweep, model: str) -> Step:
    """Scaling a prediction's deltas up raises L1-PDS while MAE explodes."""
    curve = run.sweep.curves()
    one = curve.index[np.argmin(np.abs(np.log(curve.index)))]
    best = float(curve[PDS].idxmax())
    text = (
        f"Multiply {model}'s predicted changes by s. At s = {best:.3g} its L1-PDS rises from {curve.loc[one, PDS]:.3f} "
        f"to {curve.loc[best, PDS]:.3f} while its MAE grows {curve.loc[best, MAE] / curve.loc[one, MAE]:.1f}-fold "
        f"({curve.loc[one, MAE]:.4f} → {curve.loc[best, MAE]:.4f}): larger predictions stand out from each other "
        "without being any closer to the truth. In VCC 2025 top entries did exactly this."
    )
    fig = plots.tradeoff(curve, pds=PDS, mae=MAE, title=f"{model}: L1-PDS and MAE against the output scale s")
    return Step("Scaling up a prediction", text, (fig,), "app_pages/sweep.py", "Scaling sweep")


def ceiling_step(result: Ceiling) -> Step:
    """The split-half DES ceiling, the lowly expressed genes behind it, and the CPM floor that lifts it."""
    des = result.replicate_values()[DES]
    genes = result.one_half_share()
    low = genes["control_mean"] < genes["control_mean"].median()
    share = genes.loc[low, "de_one_half"].sum() / max(genes["de_one_half"].sum(), 1)
    cpm = result.cpm_curve()["overlap_at_N"]
    lifted = f"; with pdex's floor of 5 CPM on both halves it is {cpm.loc[5.0]:.2f}" if 5.0 in cpm.index else ""
    text = (
        f"Split the real cells of each perturbation into two random halves and score one against the other: a "
        f"perfect replicate reaches a DES of only {des:.2f} ({result.n_seeds} splits). {share:.0%} of the genes "
        f"called in one half only are among the less expressed half of the called genes: noise on low counts gives "
        f"spurious DE calls{lifted}. No model can beat this ceiling."
    )
    return Step("The DES ceiling", text, (ceiling_plots.cpm_curve(result.cpm_curve()),), "app_pages/ceiling.py",
                "DES noise ceiling")  # fmt: skip


def clipping_step(per_metric: pd.DataFrame, scores: pd.DataFrame, note: str) -> Step:
    """What clipping at 0 hid: a model below the baseline on MAE counts as 0 there."""
    gap = scores["vcc2025"] - scores["vcc2025_unclipped"]
    model = str(gap.idxmax())
    text = (
        f"VCC 2025 scored each metric against the mean baseline and clipped scores below 0 to 0. {note} "
        f"**{model}** gets {scores.loc[model, 'vcc2025']:.3f} clipped, {scores.loc[model, 'vcc2025_unclipped']:.3f} "
        "unclipped: its worse MAE cost it nothing."
    )
    return Step("What clipping hid", text, (leaderboard_plots.clipping_bars(per_metric),), "app_pages/leaderboard.py",
                "Leaderboard")  # fmt: skip


def models_step(table: pd.DataFrame, *, baseline: str, oracle: str) -> Step:
    """How far simple pseudobulk models get, against the baseline and the oracle replicate."""
    models = table.drop(index=[oracle], errors="ignore")
    best = str(models[PDS].drop(index=[baseline], errors="ignore").idxmax())
    text = (
        f"The models here predict one mean change per perturbation (a pseudobulk) from what is known of its target. "
        f"The best on L1-PDS is **{best}** ({table.loc[best, PDS]:.3f}, the baseline {table.loc[baseline, PDS]:.3f}); "
        f"the oracle replicate, real cells of the same perturbation, reaches {table.loc[oracle, PDS]:.3f} and a "
        f"DES of {table.loc[oracle, DES]:.2f}. In VCC 2025 such simple models rivalled deep ones: the metrics reward "
        "the mean shift, which a pseudobulk captures."
    )
    return Step("Simple models, close to the top", text, (plots.model_bars(table, metrics=(PDS, DES, MAE)),),
                "app_pages/models.py", "Models")  # fmt: skip


def vcc2026_step(scores: pd.DataFrame) -> Step:
    """What the VCC 2026 metrics change: rankings by the 2025 (clipped) and 2026 scores side by side.

    Raises ``ValueError`` when fewer than two models have both scores (a score undefined on a small dataset)."""
    scores = scores.dropna(subset=["vcc2025", "vcc2026"])
    if len(scores) < 2:
        msg = "fewer than two models have a VCC 2026 score here (a metric is undefined on so few perturbations)"
        raise ValueError(msg)
    rank25 = scores["vcc2025"].rank(ascending=False)
    rank26 = scores["vcc2026"].rank(ascending=False)
    moved = (rank26 - rank25).idxmax()
    text = (
        "VCC 2026 scores cosine PDS over the whole panel (blind to scale), an unbiased expression error, DE on CPM "
        "with an expression gate, and places each metric between a baseline (0) and a technical replicate (1), "
        f"without clipping. **{moved}** ranks {int(rank25[moved])} by the 2025 score and {int(rank26[moved])} by the "
        f"2026 one ({scores.loc[moved, 'vcc2025']:.3f} → {scores.loc[moved, 'vcc2026']:.3f})."
    )
    return Step("What VCC 2026 changes", text, (plots.two_scores(scores),), "app_pages/leaderboard.py", "Leaderboard")
