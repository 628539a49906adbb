"""VCC 2026 scoring of prediction sources: a file of count cells equals ``evaluate_vcc2026`` on it, a table equals
the model it came from, log1p data is refused with a message, and the scores put the replicate's ends in place."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from vcc_core.data.dataset import open_dataset
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.predictions import table_from_profiles
from vcc_core.evaluation.sources import PredictionSource
from vcc_core.evaluation.submission import to_submission
from vcc_core.evaluation.vcc2026 import evaluate_vcc2026
from vcc_core.evaluation.vcc2026_sources import (
    CELLS_PER_PERT,
    anchors,
    compare_2026,
    evaluate_source,
    real_counts,
)
from vcc_core.models.training import train_predict


@pytest.fixture(scope="module")
def dataset(tiny):
    return open_dataset(tiny)


@pytest.fixture(scope="module")
def files(dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources2026")
    ridge = train_predict(dataset, "ridge")
    to_submission(ridge, dataset, space="counts", cells_per_pert=CELLS_PER_PERT).write_h5ad(folder / "cells.h5ad")
    to_submission(ridge, dataset).write_h5ad(folder / "log1p.h5ad")
    table_from_profiles(ridge, folder / "table.csv")
    return folder


def test_a_file_of_count_cells_scores_as_evaluate_does(dataset, files):
    ours = evaluate_source(dataset, PredictionSource.file(files / "cells.h5ad")).results
    cells = ad.read_h5ad(files / "cells.h5ad")
    real = real_counts(dataset, ours.index)
    labels = cells.obs[dataset.pert_col].astype(str)
    direct = evaluate_vcc2026(real, cells[labels.isin([*ours.index, dataset.control]).to_numpy()].copy()).results
    pd.testing.assert_frame_equal(ours, direct, rtol=1e-12)


def test_a_table_scores_as_the_model_it_holds(dataset, files):
    table = evaluate_source(dataset, PredictionSource.file(files / "table.csv")).results
    model = evaluate_source(dataset, PredictionSource.model("ridge")).results
    pd.testing.assert_frame_equal(table, model, rtol=1e-6)


def test_log1p_inputs_are_refused(dataset, files, tiny):
    with pytest.raises(ValueError, match="fractional values"):
        evaluate_source(dataset, PredictionSource.file(files / "log1p.h5ad"))
    logged = open_dataset(log1p_normalize(tiny))
    with pytest.raises(ValueError, match="the VCC 2026 metrics are computed on raw counts"):
        evaluate_source(logged, PredictionSource.model("ridge"))


def test_compare_and_scores(dataset, files):
    sources = [PredictionSource.model(m) for m in ("mean_baseline", "ridge")]
    sources.append(PredictionSource.file(files / "log1p.h5ad"))
    means, scores, failed = compare_2026(dataset, sources)
    assert list(means.index) == ["mean_baseline", "ridge"]
    assert "fractional values" in failed["log1p.h5ad"]
    assert set(scores.columns) >= {"pds_cosine", "avg_score"}
    perts = tuple(sorted(evaluate_source(dataset, sources[1]).results.index))
    ends = anchors(dataset, perts)
    assert np.isfinite(ends.loc["pds_cosine"]).all()
    assert ends.loc["pds_cosine", "replicate"] > ends.loc["pds_cosine", "baseline"]
