"""Pseudobulk tables and predicted-cell files: kinds, reading, and one message per bad table."""

import numpy as np
import pandas as pd
import pytest

from vcc_core.data.dataset import open_dataset
from vcc_core.data.predictions import as_anndata_table, prediction_kind, read_table, table_from_profiles
from vcc_core.data.pseudobulk import Profiles
from vcc_core.evaluation.submission import to_submission


@pytest.fixture(scope="module")
def dataset(tiny):
    return open_dataset(tiny)


@pytest.fixture(scope="module")
def profiles(dataset):
    return dataset.profiles.subset(dataset.profiles.perts[:4])


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".h5ad"])
def test_a_table_reads_back_as_written(profiles, dataset, tmp_path, suffix):
    path = tmp_path / f"table{suffix}"
    if suffix == ".h5ad":
        as_anndata_table(profiles).write_h5ad(path)
    else:
        table_from_profiles(profiles, path)
    assert prediction_kind(path) == "table"
    back, has_control = read_table(path, genes=dataset.profiles.genes)
    assert has_control
    rtol = 1e-6 if suffix == ".h5ad" else 0  # the .h5ad table holds float32
    np.testing.assert_allclose(back.means, profiles.means, rtol=rtol)
    np.testing.assert_allclose(back.control, profiles.control, rtol=rtol)
    assert list(back.perts) == [str(p) for p in profiles.perts]


def test_a_table_without_control_and_with_genes_reordered(profiles, dataset, tmp_path):
    frame = pd.DataFrame(profiles.means, index=profiles.perts.astype(str), columns=profiles.genes.astype(str))
    frame[frame.columns[::-1]].to_csv(tmp_path / "t.csv", float_format="%.17g")
    back, has_control = read_table(tmp_path / "t.csv", genes=dataset.profiles.genes)
    assert not has_control
    assert np.isnan(back.control).all()
    np.testing.assert_array_equal(back.means, profiles.means)


def test_predicted_cells_are_cells(dataset, tmp_path):
    cells = to_submission(dataset.profiles.subset(dataset.profiles.perts[:2]), dataset, cells_per_pert=5)
    cells.write_h5ad(tmp_path / "cells.h5ad")
    assert prediction_kind(tmp_path / "cells.h5ad") == "cells"


def _table(profiles: Profiles, tmp_path, change) -> str:
    frame = pd.DataFrame(profiles.means, index=profiles.perts.astype(str), columns=profiles.genes.astype(str))
    frame = change(frame)
    frame.to_csv(tmp_path / "bad.csv")
    return tmp_path / "bad.csv"


BAD_TABLES = {
    "duplicated": (lambda f: pd.concat([f, f.iloc[:1]]), r"1 perturbation\(s\) have more than one row \(G\w+\)"),
    "missing-gene": (lambda f: f.drop(columns=f.columns[0]), r"different genes: 1 missing from the table \(G00000\)"),
    "extra-gene": (lambda f: f.assign(EXTRA=1.0), r"different genes: 1 extra \(EXTRA\)"),
    "nan": (lambda f: f.replace(f.iloc[0, 0], np.nan), "NaN or infinite values"),
    "negative": (lambda f: f - 5, "negative values"),
    "counts": (lambda f: np.expm1(f) * 1e4 + 100, "counts rather than log1p means"),
    "text": (lambda f: f.astype(str).assign(G00001="x"), "columns G00001 are not numbers"),
}


@pytest.mark.parametrize("case", list(BAD_TABLES))
def test_bad_tables_are_refused_with_one_message(case, profiles, dataset, tmp_path):
    change, pattern = BAD_TABLES[case]
    path = _table(profiles, tmp_path, change)
    with pytest.raises(ValueError, match=pattern):
        read_table(path, genes=dataset.profiles.genes)


def test_other_file_types_are_refused(tmp_path):
    (tmp_path / "p.txt").write_text("x")
    with pytest.raises(ValueError, match=r"a \.h5ad of predicted cells or a \.csv / \.parquet / \.h5ad pseudobulk"):
        prediction_kind(tmp_path / "p.txt")
