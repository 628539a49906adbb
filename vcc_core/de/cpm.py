"""Differential expression in the VCC 2026 space: per-cell CPM, a control-expression gate, BH per perturbation.

What cell-eval2 0.20.0 ``--preset vcc2026`` computes on the CPU with pdex 0.3.0 (``../shared/VCC2026_METRICS.md``
section 3; cell-eval2 ``de_compute.py``):

- every cell is scaled to counts per million, ``CPM = x / (L / 1e6)`` with ``L`` its total (an empty cell stays 0),
  in float64; the rank test sees ``log1p(CPM)``;
- a gene is tested only if its mean CPM over the **control** cells is above 5 (the gate: lowly expressed genes give
  spurious calls); the same genes for every perturbation;
- each perturbation's cells against the control cells: the two-sided Mann-Whitney test of
  :func:`vcc_core.de.wilcoxon.wilcoxon_de` (tie and continuity corrected), then Benjamini-Hochberg over the gated
  genes of that perturbation;
- ``log2_fold_change = log2((m_p + 1e-9) / (m_ctrl + 1e-9))`` of the arithmetic mean CPMs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from vcc_core.de.wilcoxon import benjamini_hochberg, wilcoxon_de
from vcc_core.keys import CONTROL

GATE_CPM = 5.0
EPSILON = 1e-9
TABLE_COUNTS = 64


@dataclass(frozen=True)
class GatedDE:
    """DE of ``P`` perturbations on the ``K`` gated genes.

    Attributes
    ----------
    perts
        ``(P,)`` perturbation names, sorted.
    genes
        ``(K,)`` column indices of the gated genes in the input matrix, ascending.
    pvalue, p_adj, lfc
        ``(P, K)`` float64: p-value, BH-adjusted p-value within the perturbation, log2 fold change of mean CPMs.
    """

    perts: np.ndarray
    genes: np.ndarray
    pvalue: np.ndarray
    p_adj: np.ndarray
    lfc: np.ndarray

    def on_genes(self, genes: np.ndarray) -> GatedDE:
        """The same DE on the columns ``genes`` (ascending, a superset of :attr:`genes`), NaN where untested."""
        where = np.searchsorted(genes, self.genes)
        fields = []
        for values in (self.pvalue, self.p_adj, self.lfc):
            wide = np.full((values.shape[0], genes.size), np.nan)
            wide[:, where] = values
            fields.append(wide)
        return GatedDE(self.perts, genes, *fields)


def cpm(counts) -> sparse.csr_matrix:
    """Per-cell counts per million of raw counts, float64 CSR (``x / (L / 1e6)``, empty cells left at 0)."""
    out = sparse.csr_matrix(counts, dtype=np.float64, copy=True)
    out.data /= np.repeat(_scales(out), np.diff(out.indptr))
    return out


def control_gate(control_cpm, *, threshold: float = GATE_CPM) -> np.ndarray:
    """``(G,)`` boolean: genes whose mean CPM over the control cells is above ``threshold``."""
    if control_cpm.shape[0] == 0:
        msg = "no control cells: the VCC 2026 DE gate is the control cells' mean CPM"
        raise ValueError(msg)
    return np.asarray(control_cpm.mean(axis=0)).ravel() > threshold


def gated_de(
    counts,
    labels,
    *,
    control: str = CONTROL,
    device=None,
    progress: Callable[[int, int], None] | None = None,
) -> GatedDE:
    """DE of every labelled group against ``control`` on the genes its control cells gate (module docstring).

    ``counts``: raw counts of the cells (cells x genes), control cells included; ``labels``: one per cell.
    """
    labels = np.asarray(labels).astype(str)
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    values = cpm(counts)
    genes = np.flatnonzero(control_gate(values[np.flatnonzero(labels == control)]))
    x = values[:, genes].tocsr()
    ranked = counts[:, genes].tocsr()
    ranked.data = rank_codes(ranked, np.log1p(x.data), _scales(counts))
    result = wilcoxon_de(ranked, labels, control=control, device=device, progress=progress)
    means = _group_means(x, labels, [control, *result.perts])
    with np.errstate(divide="ignore"):
        lfc = np.log2((means[1:] + EPSILON) / (means[0] + EPSILON))
    return GatedDE(result.perts, genes, result.pvalue, benjamini_hochberg(result.pvalue), lfc)


def rank_codes(counts: sparse.csr_matrix, logged: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Values that rank like ``logged`` (the entries' ``log1p(CPM)``, float64) and tie exactly where it ties.

    float32 cannot hold every float64 value, and sorting all of them to number the distinct ones is the slow part
    of the test. But an entry's value depends only on its cell and its count: the values of counts up to
    :data:`TABLE_COUNTS` are tabulated per cell (``log1p(k / s_i)``, the same operations), the distinct values
    numbered once, and each entry reads its number; other entries are numbered by search. Every number is checked
    to give back the entry's own value; the numbers (as float32, exact below 2^24) are returned, or ``logged``
    itself when they cannot be exact.
    """
    cells = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    k = counts.data
    small = (k <= TABLE_COUNTS) & (k == np.round(k))
    table = np.log1p(np.arange(TABLE_COUNTS + 1)[None, :] / scales[:, None])
    distinct = np.unique(np.concatenate([table[:, 1:].ravel(), logged[~small]]))
    if distinct.size >= 1 << 24:
        return logged
    codes = np.empty(k.size, dtype=np.int64)
    codes[small] = np.searchsorted(distinct, table)[cells[small], k[small].astype(np.int64)]
    codes[~small] = np.searchsorted(distinct, logged[~small])
    if not np.array_equal(distinct[codes], logged):
        return logged
    return (codes + 1).astype(np.float32)


def _scales(counts: sparse.csr_matrix) -> np.ndarray:
    scale = np.asarray(counts.sum(axis=1)).ravel() / 1e6
    scale[scale == 0] = 1.0
    return scale


def _group_means(x: sparse.csr_matrix, labels: np.ndarray, groups: list[str]) -> np.ndarray:
    """``(groups, K)`` arithmetic means of the rows of each group."""
    index = {name: k for k, name in enumerate(groups)}
    codes = np.array([index.get(label, -1) for label in labels])
    rows = np.flatnonzero(codes >= 0)
    sizes = np.bincount(codes[rows], minlength=len(groups)).astype(np.float64)
    indicator = sparse.csr_matrix((np.ones(rows.size), (codes[rows], rows)), shape=(len(groups), x.shape[0]))
    return (indicator @ x).toarray() / sizes[:, None]
