"""The only Streamlit glue: data folders, the dataset picker and URL state, cached handles, progress, downloads.

Every ``st.cache_resource`` of the app lives here, keyed by small hashable descriptions (a dataset's fingerprint,
a model name), never by big arrays; the computation itself is in ``vcc_core``. The frame (``app.py``) draws the
dataset picker once per run; each page starts with :func:`page`, which loads the chosen dataset (or shows why it
cannot) and returns it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import streamlit as st

from vcc_core.analyses.sweep import SCALES
from vcc_core.analyses.sweep_runs import ModelSweep, des_sweep, model_sweep
from vcc_core.data.dataset import Dataset, open_dataset
from vcc_core.evaluation.loop import per_perturbation
from vcc_core.evaluation.sides import model_inputs
from vcc_core.metrics import MetricInputs
from vcc_core.progress import Progress

ROOT = Path(__file__).resolve().parent
BUILTIN = {"Synthetic screen (60 perturbations, 2,000 genes)": "small", "Tiny synthetic (12 perturbations)": "tiny"}
REGISTERED, SELECT = "registered_datasets", "select_dataset"  # session keys of datasets added by a page
CHOICE, PREDICTIONS = "dataset_choice", "byo_predictions"  # session keys: the frame's choice, uploaded predictions


def data_dirs() -> list[Path]:
    """Folders whose .h5ad files the picker offers: ``$VCC_DATA_DIRS`` (os.pathsep separated) or defaults."""
    env = os.environ.get("VCC_DATA_DIRS")
    dirs = [Path(p) for p in env.split(os.pathsep)] if env else [ROOT / "data", ROOT.parent / "shared" / "data"]
    return [d.resolve() for d in dirs if d.is_dir()]


def local_files() -> dict[str, str]:
    """``{label: path}`` of the .h5ad files in the data folders."""
    return {p.name: str(p) for d in data_dirs() for p in sorted(d.glob("*.h5ad"))}


@dataclass(frozen=True)
class DatasetChoice:
    """What to load: a preset name or a file path, with its layout."""

    location: str
    pert_col: str | None = None
    control: str | None = None
    context_col: str | None = None
    context_value: str | None = None


@st.cache_resource(show_spinner="Loading dataset, normalising and pseudobulking…", max_entries=8)
def load(choice: DatasetChoice) -> Dataset:
    context = (choice.context_col, choice.context_value) if choice.context_col and choice.context_value else None
    return open_dataset(choice.location, pert_col=choice.pert_col, control=choice.control, context=context)


def dataset_picker() -> DatasetChoice:
    """Dataset picker in the sidebar (drawn once per run, by the frame); the choice is kept in the URL so a view can
    be shared. Datasets registered this session (:func:`register_dataset`) are offered too, the latest selected once.
    """
    options = {**BUILTIN, **local_files(), **st.session_state.get(REGISTERED, {})}
    labels = list(options)
    wanted = st.query_params.get("data")
    if (picked := st.session_state.pop(SELECT, None)) in options:
        # Forget the widget's value so that its index (the new dataset) takes over.
        st.session_state.pop("dataset_label", None)
        wanted = picked
    index = next((i for i, lab in enumerate(labels) if options[lab] == wanted or lab == wanted), 0)
    label = st.sidebar.selectbox("Dataset", labels, index=index, key="dataset_label")
    location = options[label]
    st.query_params["data"] = location if location in BUILTIN.values() else label
    with st.sidebar.expander("Layout (column, control, context)"):
        pert_col = st.text_input(
            "Perturbation column", value="", placeholder="auto: target_gene", key="layout_pert_col"
        )
        control = st.text_input("Control label", value="", placeholder="auto: non-targeting", key="layout_control")
        context_col = st.text_input("Keep only cells where column…", value="", placeholder="e.g. cell_type")
        context_value = st.text_input("…equals", value="", placeholder="e.g. k562")
    choice = DatasetChoice(location, pert_col or None, control or None, context_col or None, context_value or None)
    st.session_state[CHOICE] = choice
    return choice


def register_dataset(label: str, path: Path) -> None:
    """Offer the file at ``path`` in this session's sidebar picker under ``label``, selected on the next run."""
    st.session_state.setdefault(REGISTERED, {})[label] = str(path)
    st.session_state[SELECT] = label


def page(title: str, *, required: bool = True) -> Dataset | None:
    """Draw the page's title and return the dataset the frame's picker chose, loaded once per process.

    When the data cannot be loaded, shows ``st.error`` and stops the page (returns None if not ``required``). A
    page run on its own (without the frame) draws the picker itself.
    """
    st.title(title)
    choice = st.session_state.get(CHOICE) or dataset_picker()
    try:
        return load(choice)
    except (ValueError, FileNotFoundError) as err:
        st.error(f"Could not load the dataset: {err}")
        if required:
            st.stop()
        return None


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A progress bar for the work in the ``with`` block, as a ``progress(fraction, message)`` callable."""
    bar = st.progress(0.0, text="starting")
    try:
        yield lambda fraction, message: bar.progress(fraction, text=message)
    finally:
        bar.empty()


@dataclass(frozen=True)
class Predictions:
    """A user's predicted cells, checked against one dataset and cut to its test perturbations and controls."""

    name: str
    dataset: str
    """Fingerprint of the dataset they were checked against."""
    adata: ad.AnnData


def predictions_for(data: Dataset) -> Predictions | None:
    """This session's uploaded predictions if they were checked against ``data``; None otherwise."""
    byo = st.session_state.get(PREDICTIONS)
    return byo if byo is not None and byo.dataset == data.fingerprint else None


@dataclass(frozen=True)
class Scored:
    """A model's aligned real and predicted arrays (DE included) and every metric per test perturbation."""

    inputs: MetricInputs
    metrics: pd.DataFrame


@st.cache_resource(show_spinner="Training (cached), expanding to cells, DE of both sides…", max_entries=16)
def scored_model(fingerprint: str, model: str, _data: Dataset) -> Scored:
    """:class:`Scored` of ``model`` on the dataset with ``fingerprint`` (``_data``: that dataset, not hashed)."""
    inputs = model_inputs(_data, model)
    return Scored(inputs, per_perturbation(inputs, profile="full"))


@st.cache_resource(show_spinner="Training (cached) and sweeping the scale…", max_entries=32)
def swept_model(fingerprint: str, model: str, _data: Dataset) -> ModelSweep:
    """:func:`~vcc_core.analyses.sweep_runs.model_sweep` over the dashboard's grid."""
    return model_sweep(_data, model, scales=SCALES)


@st.cache_resource(show_spinner="Expanding to cells and running a Wilcoxon DE per scale…", max_entries=32)
def des_along(fingerprint: str, model: str, _data: Dataset, scales: tuple):
    """:func:`~vcc_core.analyses.sweep_runs.des_sweep` at ``scales``."""
    return des_sweep(_data, model, scales=np.array(scales))


def temp_file(name: str) -> Path:
    """A path in this session's private temporary folder (mode 0700, created on first use)."""
    if "tmpdir" not in st.session_state:
        st.session_state["tmpdir"] = tempfile.mkdtemp(prefix="vcc-explorer-")
    return Path(st.session_state["tmpdir"]) / Path(name).name


def download_figure(fig, name: str, *, label: str = "Download figure (HTML)") -> None:
    """A download button for a plotly figure as standalone HTML (plotly.js from its CDN)."""
    st.download_button(label, fig.to_html(include_plotlyjs="cdn"), f"{name}.html", key=f"dl_{name}")
