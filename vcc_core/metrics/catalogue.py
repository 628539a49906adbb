"""Every registered metric, in one table: name, function, the arrays it reads, best value, description.

Registration order is the order of cell-eval's results columns within each kind (DE metrics are put first by
:func:`vcc_core.metrics.profiles.profile_metrics`). A new metric is a pure function in its family module and one
``register`` call here.
"""

from vcc_core.metrics.cells import clustering_agreement, pearson_edistance
from vcc_core.metrics.de_metrics import (
    auc_score,
    direction_match,
    expressed_overlap,
    nsig_counts,
    overlap_score,
    sig_genes_recall,
    spearman_lfc,
    spearman_nsig,
)
from vcc_core.metrics.discrimination import discrimination_score, expressed_score, norm_matched_score, sign_cosine_score
from vcc_core.metrics.pairwise import mean_absolute_error, mean_squared_error, pearson
from vcc_core.metrics.registry import register

# --------------------------------------------------------------------------- de_metrics

DE_ARRAYS = ("real_fdr", "pred_fdr", "real_lfc", "pred_lfc")
for _metric in ("overlap", "precision"):
    for _k in (None, 50, 100, 200, 500):
        register(
            f"{_metric}_at_{_k or 'N'}",
            overlap_score,
            needs=DE_ARRAYS,
            best="one",
            kind="de",
            description=f"{_metric.capitalize()} of the top {_k or 'N'} DE genes (by |log2FC|) of real and predicted",
            k=_k,
            metric=_metric,
        )
_SIDES, _LFC = ("real_fdr", "pred_fdr"), ("real_fdr", "real_lfc", "pred_lfc")
register("de_spearman_sig", spearman_nsig, needs=_SIDES, best="one", kind="de",
         description="Spearman correlation across perturbations of the number of DE genes")  # fmt: skip
register("de_direction_match", direction_match, needs=_LFC, best="one", kind="de",
         description="Share of real DE genes whose predicted log2FC has the same sign")  # fmt: skip
register("de_spearman_lfc_sig", spearman_lfc, needs=_LFC, best="one", kind="de",
         description="Spearman correlation of real vs predicted log2FC over real DE genes")  # fmt: skip
register("de_sig_genes_recall", sig_genes_recall, needs=_SIDES, best="one", kind="de",
         description="Share of real DE genes also called DE in the prediction")  # fmt: skip
register("de_nsig_counts", nsig_counts, needs=_SIDES, best="none", kind="de",
         description="Number of DE genes (FDR < 0.05) in real and predicted")  # fmt: skip
register("pr_auc", auc_score, needs=_SIDES, keywords=("conventions",), best="one", kind="de", method="pr",
         description="Average precision of real DE genes scored by -log10 predicted FDR")  # fmt: skip
register("roc_auc", auc_score, needs=_SIDES, keywords=("conventions",), best="one", kind="de", method="roc",
         description="ROC AUC of real DE genes scored by -log10 predicted FDR")  # fmt: skip
register("overlap_at_N_expressed", expressed_overlap, needs=(*DE_ARRAYS, "real_control"), best="one", kind="de",
         reference=False, description="DES over genes with real control mean (log1p) above 0.1")  # fmt: skip


# --------------------------------------------------------------------------- discrimination

_NEEDS = ("real_delta", "pred_delta")
for _m in ("l1", "l2", "cosine"):
    register(
        f"discrimination_score_{_m}",
        discrimination_score,
        needs=_NEEDS,
        keywords=("target_cols",),
        best="one",
        kind="pair",
        description=f"PDS: normalised rank of the true perturbation among real deltas by {_m} distance",
        metric=_m,
    )
register(
    "discrimination_score_sign_cosine",
    sign_cosine_score,
    needs=_NEEDS,
    keywords=("target_cols",),
    best="one",
    kind="pair",
    description="PDS by cosine distance between the signs of predicted and real deltas",
    reference=False,
)
register(
    "discrimination_score_l1_norm_matched",
    norm_matched_score,
    needs=_NEEDS,
    keywords=("target_cols",),
    best="one",
    kind="pair",
    description="L1 PDS after scaling each predicted delta to the L1 norm of its real delta",
    reference=False,
)
register(
    "discrimination_score_l1_expressed",
    expressed_score,
    needs=(*_NEEDS, "real_control"),
    keywords=("target_cols",),
    best="one",
    kind="pair",
    description="L1 PDS over genes with real control mean (log1p) above 0.1",
    reference=False,
)


# --------------------------------------------------------------------------- pairwise

_MEANS = ("pred_means", "real_means")
_DELTAS = ("pred_delta", "real_delta")

register(
    "pearson_delta",
    pearson,
    needs=_DELTAS,
    best="one",
    kind="pair",
    description="Pearson correlation over genes between predicted and real deltas from control",
)
register(
    "mse",
    mean_squared_error,
    needs=_MEANS,
    best="zero",
    kind="pair",
    description="Mean squared error between predicted and real pseudobulk means",
)
register(
    "mae",
    mean_absolute_error,
    needs=_MEANS,
    best="zero",
    kind="pair",
    description="Mean absolute error between predicted and real pseudobulk means",
)
register(
    "mse_delta",
    mean_squared_error,
    needs=_DELTAS,
    best="zero",
    kind="pair",
    description="Mean squared error between predicted and real deltas from control",
)
register(
    "mae_delta",
    mean_absolute_error,
    needs=_DELTAS,
    best="zero",
    kind="pair",
    description="Mean absolute error between predicted and real deltas from control",
)


# --------------------------------------------------------------------------- cells

register(
    "pearson_edistance",
    pearson_edistance,
    needs=("real_edistance", "pred_edistance"),
    best="one",
    kind="cells",
    description="Pearson correlation over perturbations of real and predicted energy distances from control",
)
register(
    "clustering_agreement",
    clustering_agreement,
    needs=("perts", "real_means", "pred_means"),
    best="one",
    kind="pair",
    description="Best adjusted mutual information of the Leiden clusters of real and predicted means",
)
