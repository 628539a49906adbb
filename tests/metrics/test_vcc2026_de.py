"""The DE members of VCC 2026 on tiny tables, computed by hand (cell-eval2 agreement: tests/evaluation)."""

import numpy as np
import pytest

from vcc_core.metrics.vcc2026_de import direction_fidelity_yield, direction_reach, lfc_nmae, sig_jaccard

NO_OWN = np.zeros((1, 4), dtype=bool)


def row(*values, dtype=float):
    return np.array([values], dtype=dtype)


def test_sig_jaccard():
    real, pred = row(1, 1, 0, 0, dtype=bool), row(0, 1, 1, 0, dtype=bool)
    assert sig_jaccard(real, pred, own=NO_OWN)[0] == pytest.approx(1 / 3)
    assert sig_jaccard(real & False, pred & False, own=NO_OWN)[0] == 1.0  # both empty
    own = row(1, 0, 0, 0, dtype=bool)  # the perturbation's own gene does not count
    assert sig_jaccard(real, pred, own=own)[0] == pytest.approx(1 / 2)


def test_lfc_nmae_needs_ten_genes_and_reads_missing_as_zero():
    real_sig = np.ones((1, 12), dtype=bool)
    real = np.full((1, 12), 2.0)
    pred = np.full((1, 12), 1.0)
    pred[0, 0] = np.nan  # a missing prediction counts as 0: error 2 there
    own = np.zeros((1, 12), dtype=bool)
    assert lfc_nmae(real_sig, real, pred, own=own)[0] == pytest.approx((11 * 1 + 2) / (12 * 2))
    own[0, :3] = True  # 9 genes left: no value
    assert np.isnan(lfc_nmae(real_sig, real, pred, own=own)[0])
    assert lfc_nmae(real_sig, real, real, own=np.zeros((1, 12), dtype=bool))[0] == 0.0  # perfect


def test_direction_fidelity_yield():
    real_lfc, pred_lfc = row(1.0, -1.0, 0.0, 2.0), row(2.0, 1.0, 3.0, np.nan)
    real_sig = row(1, 1, 0, 0, dtype=bool)
    pred_sig = row(1, 1, 1, 1, dtype=bool)
    # adjudicable: genes 0, 1, 3 (gene 2's real change is 0); called among them: 0, 1, 3; matches: gene 0 only
    # (gene 1 has the wrong sign, gene 3 no predicted change): 1 / max(3, 2)
    assert direction_fidelity_yield(real_sig, pred_sig, real_lfc, pred_lfc, own=NO_OWN)[0] == pytest.approx(1 / 3)
    nothing = row(0, 0, 0, 0, dtype=bool)
    assert np.isnan(direction_fidelity_yield(nothing, nothing, real_lfc, pred_lfc, own=NO_OWN)[0])


def test_direction_reach_walks_the_predicted_ranking():
    names = np.array(["a", "b", "c", "d"])
    real_lfc = row(1.0, 1.0, 1.0, 1.0)
    pred_lfc = row(1.0, -1.0, 1.0, 1.0)
    real_sig = row(1, 1, 1, 1, dtype=bool)
    pred_sig = row(1, 1, 0, 0, dtype=bool)
    p_adj = row(0.01, 0.02, 0.5, 0.6)
    pvalue = row(0.001, 0.002, 0.1, 0.2)
    # ranking a, b, c, d: purity 1/1, 1/2, 2/3, 3/4: the deepest prefix at >= 0.9 is 1: reach 1/4
    args = (real_sig, pred_sig, p_adj, pvalue, real_lfc, pred_lfc)
    assert direction_reach(*args, own=NO_OWN, names=names)[0] == pytest.approx(1 / 4)
    # with b ranked last (not significant, largest p): a, c, d all match, purity 1 at depth 3: 3/4
    late = (real_sig, row(1, 0, 0, 0, dtype=bool), row(0.01, 0.9, 0.5, 0.6), row(0.001, 0.9, 0.1, 0.2))
    assert direction_reach(*late, real_lfc, pred_lfc, own=NO_OWN, names=names)[0] == pytest.approx(3 / 4)
    assert np.isnan(direction_reach(real_sig & False, *args[1:], own=NO_OWN, names=names)[0])  # no real DE
    perfect = (real_sig, pred_sig, p_adj, pvalue, real_lfc, real_lfc)
    assert direction_reach(*perfect, own=NO_OWN, names=names)[0] == 1.0
