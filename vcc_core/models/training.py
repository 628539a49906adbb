"""Train a registered model on a dataset's training perturbations and predict the others, cached on disk.

The key is the dataset's content, the model name and its parameters, so a second visit, another
session or a restarted server gets the predictions without training again.
"""

from __future__ import annotations

import time

import numpy as np

from vcc_core.cache import cached
from vcc_core.data.dataset import Dataset, split_perts
from vcc_core.data.pseudobulk import Profiles
from vcc_core.models import TrainingData, make_model
from vcc_core.progress import Progress, reporter


@cached("train_predict", version="1", ignore=("progress",), decode=lambda parts: Profiles(**parts))
def train_predict(
    dataset: Dataset, model: str, *, predict: str = "test", params: dict | None = None, progress: Progress | None = None
) -> Profiles:
    """Fit ``model`` on the train split (early stopping on val) and predict the ``predict`` split.

    ``progress`` is an optional ``callable(fraction, message)``.
    """
    report = reporter(progress)
    report(0.0, f"fitting {model}")
    start = time.perf_counter()
    fitted = make_model(model, **(params or {})).fit(
        TrainingData(dataset), split_perts(dataset, "train"), split_perts(dataset, "val")
    )
    report(0.9, f"fitted {model} in {time.perf_counter() - start:.1f} s; predicting")
    pred = fitted.predict(split_perts(dataset, predict))
    report(1.0, "done")
    return Profiles(pred.means, pred.control, np.asarray(pred.perts, dtype=object), pred.genes, pred.n_cells)
