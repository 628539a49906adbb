"""What every model shares: the training view of a dataset, the contract, and feature helpers.

Models follow scikit-learn's contract: ``__init__`` stores hyperparameters only, ``fit(data, train)``
returns ``self`` and sets attributes ending in ``_``, ``predict(perts)`` returns pseudobulk
:class:`~vcc_core.data.pseudobulk.Profiles` in log1p space. Every model predicts *deltas* from the control
mean; the control profile passes through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.utils.extmath import randomized_svd

from vcc_core.data.dataset import Dataset
from vcc_core.data.normalize import median_target, normalize_block
from vcc_core.data.pseudobulk import Profiles


@dataclass
class TrainingData:
    """A dataset as models see it: real profiles, the control cells' gene features, an external screen."""

    dataset: Dataset
    external: pd.DataFrame | None = None  # perturbations x genes, log1p deltas from another context
    n_components: int = 32
    _features: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def profiles(self) -> Profiles:
        return self.dataset.profiles

    def gene_features(self) -> pd.DataFrame:
        """Genes x components: each gene's loadings in a PCA of control-cell expression (cached)."""
        if self._features is None:
            self._features = control_pca(self.dataset, n_components=self.n_components)
        return self._features

    def external_screen(self) -> pd.DataFrame:
        """The external screen (given, or the simulator's second context); a clear error when there is none."""
        if self.external is not None:
            return self.external
        uns = self.dataset.adata.uns.get("vcc_external")
        if uns is None:
            msg = "no external screen: kernel_ridge needs a perturbations x genes table of deltas from another context"
            raise ValueError(msg)
        return pd.DataFrame(
            np.asarray(uns["delta"]), index=np.asarray(uns["perts"]).astype(str), columns=self.profiles.genes
        )


def control_pca(dataset: Dataset, *, n_components: int = 32, max_cells: int = 5_000, seed: int = 0) -> pd.DataFrame:
    """Loadings of each gene on the top principal components of the control cells (log1p space).

    Genes that co-vary across control cells get similar loadings, so a perturbation is described by its
    target gene's loadings. Scaled by the singular values so strong components weigh more.
    """
    adata = dataset.adata
    is_control = (adata.obs[dataset.pert_col].astype(str) == dataset.control).to_numpy()
    rows = np.flatnonzero(is_control)
    rows = np.sort(np.random.default_rng(seed).choice(rows, size=min(max_cells, rows.size), replace=False))
    x = adata.X[rows]
    if dataset.space == "counts":
        x = normalize_block(x, target_sum=median_target(adata.X))
    dense = x.toarray() if hasattr(x, "toarray") else np.asarray(x)
    dense = dense - dense.mean(axis=0)
    k = min(n_components, min(dense.shape) - 1)
    _, s, vt = randomized_svd(dense.astype(np.float64), n_components=k, random_state=seed)
    loadings = vt.T * (s / s[0])
    return pd.DataFrame(loadings, index=dataset.profiles.genes, columns=[f"pc{i + 1}" for i in range(k)])


def target_features(features: pd.DataFrame, perts) -> np.ndarray:
    """Feature row of each perturbation's target gene; zeros for targets that are not measured."""
    rows = features.index.get_indexer(pd.Index(np.asarray(perts).astype(str)))
    out = np.zeros((rows.size, features.shape[1]))
    out[rows >= 0] = features.to_numpy()[rows[rows >= 0]]
    return out


def as_profiles(delta: np.ndarray, perts, base: Profiles) -> Profiles:
    """Pseudobulk prediction: control mean of ``base`` plus ``delta`` rows for ``perts``."""
    perts = np.asarray(perts, dtype=object)
    return Profiles(base.control[None, :] + delta, base.control, perts, base.genes, np.zeros(perts.size, dtype=int))


def training_deltas(data: TrainingData, train) -> np.ndarray:
    """Real deltas of the training perturbations, in the order given."""
    return data.profiles.subset(train).delta
