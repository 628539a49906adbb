"""Fill the disk cache with everything the dashboard computes for a dataset, ahead of a demo.

The steps call the same cached functions with the same arguments as the pages, so afterwards every page
of every session opens from the cache: real DE and profiles, each model's training, predicted cells and
their DE, the DES scaling sweep, split-half ceilings and the scores of given prediction files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcc_core.ceiling import ceiling
from vcc_core.dataset import Dataset
from vcc_core.io import load_predictions
from vcc_core.leaderboard import predicted_side, prediction_metrics, real_de, real_profiles
from vcc_core.sweep import DES_SCALES, des_sweep
from vcc_core.training import train_predict

#: The models the dashboard shows first (the Models and Leaderboard pages' defaults).
DEFAULT_MODELS = ("mean_baseline", "ridge", "kernel_ridge", "oracle_replicate")


@dataclass(frozen=True)
class Step:
    label: str
    run: Callable[[], object]


def plan(
    dataset: Dataset,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    predictions: Sequence[str | Path] = (),
    ceiling_seeds: int = 3,
    des: bool = True,
) -> list[Step]:
    """The cached computations behind the pages, in the order a visitor would meet them."""
    steps = [
        Step("real test cells: pseudobulk", lambda: real_profiles(dataset)),
        Step("real test cells: Wilcoxon DE vs control", lambda: real_de(dataset)),
    ]
    for model in models:
        steps += [
            Step(f"{model}: train and predict", lambda m=model: train_predict(dataset, m)),
            Step(f"{model}: predicted cells and their DE", lambda m=model: predicted_side(dataset, m)),
        ]
    if des:
        steps.append(
            Step("mean_baseline: DES at s = 1", lambda: des_sweep(dataset, "mean_baseline", scales=np.array([1.0])))
        )
        for model in models:
            steps.append(Step(f"{model}: DES scaling sweep", lambda m=model: des_sweep(dataset, m, scales=DES_SCALES)))
    if ceiling_seeds:
        steps.append(
            Step(f"split-half ceilings ({ceiling_seeds} seeds)", lambda: ceiling(dataset, seeds=ceiling_seeds))
        )
    for path in predictions:
        steps.append(Step(f"predictions {Path(path).name}: metrics", lambda p=path: _score_file(dataset, p)))
    return steps


def _score_file(dataset: Dataset, path: str | Path):
    pred, _ = load_predictions(path, real=dataset.adata, pert_col=dataset.pert_col, control=dataset.control)
    return prediction_metrics(dataset, pred)


def run(steps: Sequence[Step], *, progress: Callable[[int, int, str, float], None] | None = None) -> list[float]:
    """Run ``steps`` in order; ``progress(done, total, label, seconds)`` after each. Returns the seconds taken."""
    seconds = []
    for i, step in enumerate(steps):
        start = time.perf_counter()
        step.run()
        seconds.append(time.perf_counter() - start)
        if progress is not None:
            progress(i + 1, len(steps), step.label, seconds[-1])
    return seconds


__all__ = ["DEFAULT_MODELS", "Step", "plan", "run"]
