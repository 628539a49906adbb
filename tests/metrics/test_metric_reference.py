"""Golden agreement with cell-eval 0.8.2: our metrics fed with pdex's own DE tables and our pseudobulks.

Fixtures: ``tests/fixtures/metrics`` (see ``tests/fixtures/README.md``). The end-to-end check with our DE is in
``tests/test_evaluate.py``; here the DE inputs are pdex's, so the metric code alone is compared.
"""

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from tests.conftest import FIXTURES
from vcc_core.data.io import detect_space
from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.de.wilcoxon import DEResult
from vcc_core.evaluation.loop import compute_metrics, metric_inputs

DATA = FIXTURES / "metrics"
RUNS = [("synthetic", "full"), ("synthetic", "base_full"), ("papalexi", "full"), ("papalexi", "base_full")]


def read_cell_eval(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Values (float) and the null mask of a cell-eval CSV (null is an empty field, NaN is written ``NaN``)."""
    raw = pd.read_csv(path, index_col=0, keep_default_na=False, dtype=str)
    return raw.replace("", "nan").astype(float), raw == ""


def pdex_table(path: Path, perts, genes) -> DEResult:
    table = pd.read_csv(path, dtype={"target": str, "feature": str})
    wide = {c: table.pivot(index="target", columns="feature", values=c).loc[perts, genes].to_numpy() for c in (
        "fdr", "log2_fold_change", "p_value", "statistic")}  # fmt: skip
    n_p, n_g = len(perts), len(genes)
    return DEResult(
        np.asarray(perts), np.asarray(genes), wide["statistic"], wide["p_value"], wide["fdr"],
        wide["log2_fold_change"], np.zeros((n_p, n_g)), np.zeros((n_p, n_g)), np.zeros(n_g), np.zeros(n_p), 0,
    )  # fmt: skip


def normalised(path: Path) -> ad.AnnData:
    adata = ad.read_h5ad(path)
    return log1p_normalize(adata) if detect_space(adata.X) == "counts" else adata


@pytest.mark.reference
@pytest.mark.parametrize(("case", "run"), RUNS)
def test_metrics_on_pdex_tables_equal_cell_eval(case, run):
    real = normalised(DATA / case / "real.h5ad")
    pred = normalised(DATA / case / ("base.h5ad" if run.startswith("base") else "pred.h5ad"))
    real_pb, pred_pb = pseudobulk(real, space="log1p"), pseudobulk(pred, space="log1p")
    real_de = pdex_table(DATA / case / "cell_eval" / "full" / "real_de.csv.gz", real_pb.perts, real_pb.genes)
    pred_de = pdex_table(DATA / case / "cell_eval" / run / "pred_de.csv.gz", real_pb.perts, real_pb.genes)
    inputs = metric_inputs(real_pb, pred_pb, real_de=real_de, pred_de=pred_de, dtypes=(real.X.dtype, pred.X.dtype))
    expected, null = read_cell_eval(DATA / case / "cell_eval" / run / "results.csv")
    names = [c for c in expected.columns if c != "pearson_edistance"]  # reads the cells: tests/metrics/test_cells.py
    names = [n.removesuffix("_real") for n in names if not n.endswith("_pred")]
    ours = compute_metrics(inputs, names)
    assert list(ours.index) == list(expected.index)
    for column in ours.columns:
        np.testing.assert_array_equal(ours[column].isna(), null[column], err_msg=f"null cells of {column}")
        values = ours[column].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_allclose(values, expected[column], rtol=1e-6, atol=0, err_msg=column)
