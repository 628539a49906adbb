"""Names shared by every module: columns, labels, layer and ``uns`` keys."""

PERT_COL = "target_gene"
"""Column of ``obs`` that names the perturbed gene of each cell."""

CONTROL = "non-targeting"
"""Label of control cells in :data:`PERT_COL`."""

SPLIT_COL = "split"
"""Column of a perturbation table holding ``train`` / ``val`` / ``test``."""

SPLITS = ("train", "val", "test")

COUNTS_LAYER = "counts"
"""Layer that keeps raw counts when ``X`` is replaced by normalised values."""

UNS_TRUTH = "vcc_truth"
"""``uns`` key of the simulator's ground truth (effect sizes, families, knockdown)."""

UNS_SPACE = "vcc_space"
"""``uns`` key recording whether ``X`` holds ``"counts"`` or ``"log1p"`` values."""

CURRENT, LEGACY = "cell-eval-0.8.2", "cell-eval-0.6.6"
REFERENCES = (CURRENT, LEGACY)
"""The conventions a run follows: cell-eval 0.8.2 with pdex 0.3.0 (default), or cell-eval 0.6.6 with pdex 0.1.27,
which computed the VCC 2025 leaderboard."""
