"""The bad-input catalogue in the app: every bad upload or path on the Bring-your-own page shows one exact
``st.error`` and leaves what was loaded before in place (the selected dataset, the predictions in use).

The files are the ones :mod:`tests.test_bad_input` builds; the page shows ``Could not use this file: `` and the
library's message (without the ``real data:`` prefix, which only ``evaluate`` adds).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui
from tests.app.apptest import run_page
from tests.evaluation.test_bad_input import CATALOGUE, build_case, data_side, write_h5ad
from vcc_core.data.uploads import MB, check_upload_size

TINY = "Tiny synthetic (12 perturbations)"
PREFIX = "Could not use this file: "

DATASET_ENTRIES = {
    case: data_side(pattern)
    for case, (build, pattern) in CATALOGUE.items()
    if data_side(pattern) and case not in ("no-perturbation-column", "control-label-absent")  # options the page lacks
}
PREDICTION_ENTRIES = {
    case: pattern
    for case, (_, pattern) in CATALOGUE.items()
    if pattern.startswith(("^predictions", "^" + re.escape("predictions")))
}


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """The only allowed data folder, with a good file, and a secret file beside it."""
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.h5ad").write_bytes(b"x")
    (data / "link_out.h5ad").symlink_to(tmp_path / "secret.h5ad")
    monkeypatch.setenv("VCC_DATA_DIRS", str(data))
    return data


def _byo() -> AppTest:
    return run_page("byo.py")


def _upload(at: AppTest, kind: str, path: Path) -> AppTest:
    at.file_uploader(key=f"{kind}_upload").upload(path.name, path.read_bytes())
    if kind == "predictions":  # kept in this session only: other tests register files for the same dataset
        at.radio(key="predictions_scope").set_value(at.radio(key="predictions_scope").options[1])
    return at.button[0 if kind == "dataset" else 1].click().run()


def _type(at: AppTest, kind: str, path: str) -> AppTest:
    at.text_input(key=f"{kind}_path").input(path)
    return at.button[0 if kind == "dataset" else 1].click().run()


def _shown(at: AppTest, pattern: str) -> None:
    """Exactly one error, ``Could not use this file:`` and the message ``pattern`` matches; no exception."""
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert re.match("^" + re.escape(PREFIX) + pattern.removeprefix("^"), errors[0]), errors[0]


def _as_path(side, path: Path) -> Path:
    return side if isinstance(side, Path) else write_h5ad(side, path)


@pytest.mark.parametrize("case", list(DATASET_ENTRIES))
def test_bad_dataset_upload_shows_the_message_and_keeps_the_dataset(case, tiny, tmp_path, folder):
    real, _, _, _ = build_case(case, tiny, tmp_path)
    at = _upload(_byo(), "dataset", _as_path(real, tmp_path / "real.h5ad"))
    _shown(at, DATASET_ENTRIES[case])
    assert at.sidebar.selectbox(key="dataset_label").value == TINY


@pytest.mark.parametrize("case", list(PREDICTION_ENTRIES))
def test_bad_predictions_upload_shows_the_message_and_keeps_the_predictions(case, tiny, tmp_path, folder):
    _, pred, _, pattern = build_case(case, tiny, tmp_path)
    at = _upload(_byo(), "predictions", write_h5ad(tiny, tmp_path / "good.h5ad"))
    assert not at.error
    at = _upload(at, "predictions", _as_path(pred, tmp_path / "pred.h5ad"))
    _shown(at, pattern)
    assert [s.name for kept in at.session_state[ui.PRIVATE].values() for s in kept] == ["good.h5ad"]


def test_oversized_upload_is_refused_before_it_is_written(tiny, tmp_path, folder, monkeypatch):
    monkeypatch.setenv("VCC_MAX_UPLOAD_MB", "0.01")
    path = write_h5ad(tiny, tmp_path / "real.h5ad")
    with pytest.raises(ValueError, match=r"over the limit of 0\.01 MB") as refused:
        check_upload_size(path.stat().st_size)
    at = _upload(_byo(), "dataset", path)
    _shown(at, "^" + re.escape(str(refused.value)) + "$")
    assert f"{path.stat().st_size / MB:.3g} MB" in str(refused.value)
    assert "tmpdir" not in at.session_state  # nothing was written: the session folder was never needed
    assert at.sidebar.selectbox(key="dataset_label").value == TINY


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("{data}/../secret.h5ad", "{typed!r} is outside the allowed data folders"),
        ("{data}/link_out.h5ad", "{typed!r} is outside the allowed data folders"),
        ("{data}/../../../../../../etc/passwd", "{typed!r} is outside the allowed data folders"),
        ("{data}/nope.h5ad", "file not found: {data}/nope.h5ad"),
    ],
)
def test_typed_paths_outside_or_missing_are_refused(typed, message, folder):
    typed = typed.format(data=folder)
    text = message.format(typed=typed, data=folder)
    if message.endswith("outside the allowed data folders"):
        text += "; choose a file in them or add its folder to VCC_DATA_DIRS"
    at = _type(_byo(), "dataset", typed)
    _shown(at, "^" + re.escape(text) + "$")
    assert at.sidebar.selectbox(key="dataset_label").value == TINY


def test_a_path_with_a_nul_byte_is_refused(folder):
    at = _type(_byo(), "dataset", f"{folder}/a\x00.h5ad")
    _shown(at, r"^'.*' is not a usable path \(embedded null byte\); choose a file in the data folders$")
