"""What each VCC 2026 metric measures, in words a biologist can read (shown by the pages next to the numbers)."""

from __future__ import annotations

LABELS = {
    "pds_cosine": "PDS (cosine, whole panel)",
    "expr_mse_unbiased_capped_norm": "Expression error (normalised)",
    "de_wilcoxon_lfc_nmae": "Fold-change error (lfc NMAE)",
    "de_wilcoxon_direction_fidelity_yield_raw": "Direction fidelity yield",
    "de_wilcoxon_direction_reach_raw": "Direction reach",
    "de_wilcoxon_sig_jaccard": "DE gene overlap (Jaccard)",
    "expr_mse_unbiased": "Expression error (unbiased)",
    "expr_mse_unbiased_capped": "Expression error (capped)",
    "expr_distance_unbiased": "Real effect size",
    "expr_real_mass_ratio": "Real mass ratio (check)",
}
"""Short names for tables and axes, the scored six first."""

LOWER_IS_BETTER = {
    "expr_mse_unbiased_capped_norm",
    "de_wilcoxon_lfc_nmae",
    "expr_mse_unbiased",
    "expr_mse_unbiased_capped",
}

EXPLANATIONS = {
    "pds_cosine": (
        "Can the prediction tell this knockdown apart from the others? Each predicted effect (predicted profile "
        "minus the real control profile, over every measured gene except the panel's targets) is compared by "
        "direction (cosine) with every real effect. 1 means its own real effect is the closest; 0.5 is what a "
        "random guess scores. Only the direction counts, so scaling a prediction up or down cannot change it: the "
        "2025 artifact where inflating predictions raised PDS is gone."
    ),
    "expr_mse_unbiased_capped_norm": (
        "How far the predicted expression profiles are from the real ones, gene by gene (squared error of "
        "log-normalised pseudobulks), after taking off the sampling noise of each side (estimated by leaving one "
        "cell out at a time), summed over perturbations and divided by the size of the real effects. 0 is a "
        "perfect prediction; 1 is as far off as predicting no effect. The noise credit a prediction may claim is "
        "capped by how much its own profiles vary across perturbations, so a flat prediction gains nothing from "
        "being noisy. Unlike 2025's MAE it is not clipped away: exaggerated predictions pay for it."
    ),
    "de_wilcoxon_lfc_nmae": (
        "For the genes the real data calls differentially expressed (Wilcoxon test on counts per million, genes "
        "expressed above 5 CPM in control), how far the predicted log fold changes are from the real ones, "
        "relative to the real fold changes. 0 is perfect; 1 is as far off as predicting no change. Perturbations "
        "with fewer than 10 real DE genes are left out."
    ),
    "de_wilcoxon_direction_fidelity_yield_raw": (
        "Of the genes the prediction calls differentially expressed, how many move in the same direction as in the "
        "real data, divided by the larger of the two DE gene counts. A prediction scores high only by calling "
        "about as many genes as the data does and getting their directions right: calling every gene, or only a "
        "few safe ones, is penalised."
    ),
    "de_wilcoxon_direction_reach_raw": (
        "Walk down the real DE genes in the order the prediction ranks them (its most significant first): how far "
        "can you go while at least 90% of the genes seen so far move in the predicted direction? Reported as a "
        "share of the real DE genes. It rewards a prediction whose confident calls come first and are right."
    ),
    "de_wilcoxon_sig_jaccard": (
        "Overlap of the two sets of DE genes (adjusted p < 0.05): shared genes divided by all genes in either set. "
        "The successor of 2025's DES, now on counts per million with lowly expressed genes gated out, which "
        "removes most spurious calls that capped DES."
    ),
    "expr_mse_unbiased": "The expression error with the full noise correction on both sides (not capped).",
    "expr_mse_unbiased_capped": "The expression error per perturbation with the capped noise credit (its sum over "
    "perturbations divided by the real effects' sum is the scored, normalised error).",
    "expr_distance_unbiased": "How far the real perturbation moves expression from control, noise removed: the "
    "denominator of the normalised expression error. Near 0 for knockdowns with no detectable effect.",
    "expr_real_mass_ratio": "A check of the real profiles' normalisation (always 1).",
}

SCORES_TEXT = (
    "VCC 2026 scores each metric on a scale set by the data itself: 0 is a generic-response baseline (every "
    "perturbation predicted by the same average response, built from control cells) and 1 is a technical "
    "replicate (half of each perturbation's real cells predicting the other half, 5 random splits). Scores above 1 "
    "beat the replicate; below 0 the baseline wins. Nothing is clipped. The score is the mean of the six."
)

SWEEP_TEXT = (
    "Left: the predicted effect (against the real control) multiplied by s in the 2026 expression space, its noise "
    "by s². Cosine PDS reads only the effect's direction, so no scale changes it: the 2025 gain from inflating "
    "predictions is gone. The normalised expression error is not clipped: it has an optimum and grows without "
    "bound as s grows. The toggle scores each scaled prediction in full (expanded to count cells, DE on CPM, "
    "baseline and replicate of the same cells) on a coarse grid, for models and pseudobulk tables."
)
