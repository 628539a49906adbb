"""A small torch network from target-gene features to the delta, early-stopped on validation perturbations."""

from __future__ import annotations

import numpy as np

from vcc_core.data.pseudobulk import Profiles
from vcc_core.device import get_device, to_numpy
from vcc_core.models.base import TrainingData, as_profiles, target_features, training_deltas


class MLPModel:
    """delta(p) = mean training delta + f(x(p)), f a two-layer perceptron, x(p) the target's PCA loadings.

    Full-batch Adam with weight decay; stops when the validation perturbations' mean squared error has
    not improved for ``patience`` epochs and keeps the best weights. Deterministic under ``seed`` on a
    given device. Trains on the GPU when one is present (see :func:`vcc_core.device.get_device`).
    """

    def __init__(
        self,
        hidden: int = 256,
        epochs: int = 400,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        patience: int = 30,
        seed: int = 0,
        device: str | None = None,
    ):
        self.hidden, self.epochs, self.lr, self.weight_decay = hidden, epochs, lr, weight_decay
        self.patience, self.seed, self.device = patience, seed, device

    def fit(self, data: TrainingData, train, val=None) -> MLPModel:
        self.base_ = data.profiles
        features = data.gene_features()
        self.features_ = features / max(float(features.to_numpy().std()), 1e-12)  # unit scale for Adam
        y = training_deltas(data, train)
        self.mean_delta_ = y.mean(axis=0)
        import torch  # here, not at the top: the registry (and every page) imports this module, few train it
        from torch import nn

        dev = get_device(self.device)
        torch.manual_seed(self.seed)
        self.net_ = nn.Sequential(
            nn.Linear(self.features_.shape[1], self.hidden), nn.GELU(), nn.Linear(self.hidden, y.shape[1])
        ).to(dev)
        x_tr, y_tr = self._xy(train, y, dev)
        val = list(val) if val is not None and len(val) else list(train)
        x_va, y_va = self._xy(val, training_deltas(data, val), dev)
        self.history_ = self._train(x_tr, y_tr, x_va, y_va)
        return self

    def _xy(self, perts, y, dev):
        import torch

        x = torch.as_tensor(target_features(self.features_, perts), dtype=torch.float32, device=dev)
        return x, torch.as_tensor(y - self.mean_delta_, dtype=torch.float32, device=dev)

    def _train(self, x_tr, y_tr, x_va, y_va) -> list[float]:
        import torch
        from torch import nn

        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_state, history, wait = np.inf, None, [], 0
        for _ in range(self.epochs):
            opt.zero_grad()
            nn.functional.mse_loss(self.net_(x_tr), y_tr).backward()
            opt.step()
            with torch.no_grad():
                loss = float(nn.functional.mse_loss(self.net_(x_va), y_va))
            history.append(loss)
            if loss < best - 1e-9:
                best, wait = loss, 0
                best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            elif (wait := wait + 1) >= self.patience:
                break
        self.net_.load_state_dict(best_state)
        self.epochs_run_ = len(history)
        return history

    def predict(self, perts) -> Profiles:
        import torch

        dev = next(self.net_.parameters()).device
        x = torch.as_tensor(target_features(self.features_, perts), dtype=torch.float32, device=dev)
        with torch.no_grad():
            delta = self.mean_delta_ + to_numpy(self.net_(x)).astype(np.float64)
        return as_profiles(np.atleast_2d(delta), perts, self.base_)
