"""DE agreement metrics on hand-made FDR / log2FC tables; scikit-learn as the AUC oracle."""

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, roc_curve

from vcc_core.keys import LEGACY
from vcc_core.metrics.de_metrics import (
    auc_score,
    direction_match,
    expressed_overlap,
    nsig_counts,
    overlap_score,
    sig_genes_recall,
    significance_ranks,
    significant,
    spearman_lfc,
    spearman_nsig,
)

# Perturbation 0: real DE genes 0, 2, 3 (|LFC| order 2, 0, 3); predicted DE genes 1, 2, 3, 4 (order 1, 2, 4, 3).
# Perturbation 1: no real DE gene; every gene predicted DE.
REAL_FDR = np.array([[0.01, 0.2, 0.04, 0.001, 0.5], [0.9] * 5])
REAL_LFC = np.array([[1.0, 3.0, -2.0, 0.5, 4.0], [0.1] * 5])
PRED_FDR = np.array([[0.5, 0.01, 0.01, 0.03, 0.02], [0.01] * 5])
PRED_LFC = np.array([[-1.0, 5.0, -1.0, -0.1, 0.2], [1.0] * 5])
TABLES = (REAL_FDR, PRED_FDR, REAL_LFC, PRED_LFC)


def test_overlap_and_precision_by_hand():
    # DES: k = 3 real DE genes; top 3 real {2, 0, 3} vs top 3 predicted {1, 2, 4} share gene 2.
    np.testing.assert_allclose(overlap_score(*TABLES), [1 / 3, 0.0])
    np.testing.assert_allclose(overlap_score(*TABLES, k=2), [1 / 2, 0.0])  # {2, 0} vs {1, 2}
    # precision: k = 4 predicted DE genes; the real list is cut at 4 too: {2, 0, 3} vs {1, 2, 4, 3}
    np.testing.assert_allclose(overlap_score(*TABLES, metric="precision"), [2 / 4, 0.0])
    np.testing.assert_allclose(overlap_score(*TABLES, k=1, metric="precision"), [0.0, 0.0])  # {2} vs {1}


def test_direction_recall_and_counts_by_hand():
    match = direction_match(REAL_FDR, REAL_LFC, PRED_LFC)
    assert match[0] == pytest.approx(1 / 3)  # only gene 2 keeps its sign
    assert match.mask.tolist() == [False, True]  # no real DE gene: no value (null), not NaN
    recall = sig_genes_recall(REAL_FDR, PRED_FDR)
    assert recall[0] == pytest.approx(2 / 3)
    assert recall.mask.tolist() == [False, True]
    counts = nsig_counts(REAL_FDR, PRED_FDR)
    assert counts["real"].tolist() == [3, 0]
    assert counts["pred"].tolist() == [4, 5]


def test_spearman_lfc_by_hand():
    # real DE genes 0, 2, 3: real LFC ranks (3, 1, 2), predicted (-1, -1, -0.1) ranks (1.5, 1.5, 3) -> r = 0
    r = spearman_lfc(REAL_FDR, REAL_LFC, PRED_LFC)
    assert r[0] == pytest.approx(0.0, abs=1e-12)
    assert r.mask.tolist() == [False, True]
    one_gene = spearman_lfc(np.array([[0.01, 0.9]]), np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]))
    assert np.isnan(one_gene[0])
    assert not one_gene.mask[0]


def test_spearman_nsig_by_hand():
    real = np.array([[0.01] * 3 + [0.9], [0.01] * 1 + [0.9] * 3, [0.01] * 2 + [0.9] * 2, [0.9] * 4])
    pred = np.array([[0.01] * 2 + [0.9] * 2, [0.01] * 1 + [0.9] * 3, [0.01] * 4, [0.01] * 4])
    # perturbations with real DE genes: counts (3, 1, 2) vs (2, 1, 4) -> ranks (3, 1, 2) vs (2, 1, 3): r = 0.5
    assert spearman_nsig(real, pred) == pytest.approx(0.5)
    assert spearman_nsig(np.full((2, 3), 0.9), pred[:2, :3]) == 1.0  # nothing real is DE
    assert np.isnan(spearman_nsig(real[:1], pred[:1]))  # a single perturbation


def test_auc_by_hand_and_against_scikit_learn():
    # ascending predicted FDR: {1, 2} tied, 4, 3, 0; labels 0/1, 0, 1, 1: AP = (1/2 + 2/4 + 3/5) / 3
    pr = auc_score(REAL_FDR, PRED_FDR, method="pr")
    assert pr[0] == pytest.approx((0.5 + 0.5 + 0.6) / 3)
    roc = auc_score(REAL_FDR, PRED_FDR, method="roc")
    assert roc[0] == pytest.approx(1.5 / 6)  # one tied pair counts 1/2, one pair ordered right
    assert np.isnan(pr[1])
    assert np.isnan(roc[1])
    rng = np.random.default_rng(0)
    real, pred = rng.uniform(0, 0.2, (5, 200)), np.round(rng.uniform(0, 0.3, (5, 200)), 2)  # many ties
    for p in range(5):
        labels, scores = real[p] < 0.05, -np.log10(np.clip(pred[p].astype(np.float32), 1e-10, 1))
        fpr, tpr, _ = roc_curve(labels, scores)
        assert auc_score(real, pred, method="pr")[p] == pytest.approx(average_precision_score(labels, scores))
        assert auc_score(real, pred, method="roc")[p] == pytest.approx(auc(fpr, tpr))


def test_auc_under_cell_eval_066_keeps_the_order_of_the_smallest_fdrs():
    # cell-eval 0.8.2 clips predicted FDRs at 1e-10, so 1e-30 (a real DE gene) and 1e-20 (not one) tie; 0.6.6 reads
    # only an FDR of 0 as 1e-10 and ranks 1e-30 first
    real = np.array([[0.5, 0.5, 0.01]])
    pred = np.array([[1e-30, 1e-20, 0.0]])
    assert auc_score(real, pred, method="roc")[0] == pytest.approx(0.5)  # all three tie at 1e-10
    assert auc_score(real, pred, method="roc", conventions=LEGACY)[0] == 0.0  # 0 read as 1e-10: after both others
    real = np.array([[0.01, 0.5, 0.5]])
    pred = np.array([[1e-30, 1e-20, 0.3]])
    assert auc_score(real, pred, method="roc")[0] == pytest.approx(0.75)
    assert auc_score(real, pred, method="roc", conventions=LEGACY)[0] == 1.0
    assert auc_score(real, pred, method="pr")[0] == pytest.approx(0.5)  # precision 1/2 at the end of the tie
    assert auc_score(real, pred, method="pr", conventions=LEGACY)[0] == 1.0


def test_significance_is_decided_in_float32():
    # 0.04999999999 < 0.05 in float64, but cell-eval casts FDRs to float32 first, where it rounds to 0.05
    assert not significant(np.array([0.04999999999]))[0]
    assert significant(np.array([0.0499999]))[0]
    assert not significant(np.array([np.nan]))[0]


def test_ranking_ties_keep_gene_order_and_nan_comes_first():
    fdr = np.zeros((1, 5))
    lfc = np.array([[np.inf, 1.0, -np.inf, np.nan, -1.0]])
    _, ranks = significance_ranks(fdr, lfc)
    assert ranks.tolist() == [[1, 3, 2, 0, 4]]


def test_expressed_overlap_drops_low_genes():
    control = np.array([0.0, 1.0, 1.0, 1.0, 1.0])  # gene 0 (real DE) is not expressed
    # real DE {2, 3} vs top-2 predicted {1, 2}: 1 / 2
    assert expressed_overlap(*TABLES, control)[0] == pytest.approx(0.5)


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="'overlap' or 'precision'"):
        overlap_score(*TABLES, metric="jaccard")
    with pytest.raises(ValueError, match="'pr' or 'roc'"):
        auc_score(REAL_FDR, PRED_FDR, method="f1")
