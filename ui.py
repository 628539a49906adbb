"""Streamlit glue shared by the pages: data folders, the dataset picker and cached loaders.

Only in-process handles live here (``st.cache_resource``), keyed by small hashable descriptions of
the source, never by big arrays. All computation is in ``vcc_core``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from vcc_core.dataset import Dataset, open_dataset

ROOT = Path(__file__).resolve().parent
BUILTIN = {"Synthetic screen (60 perturbations, 2,000 genes)": "small", "Tiny synthetic (12 perturbations)": "tiny"}
REGISTERED, SELECT = "registered_datasets", "select_dataset"  # session keys of datasets added by a page


def data_dirs() -> list[Path]:
    """Folders whose .h5ad files the picker offers: ``$VCC_DATA_DIRS`` (os.pathsep separated) or defaults."""
    env = os.environ.get("VCC_DATA_DIRS")
    dirs = [Path(p) for p in env.split(os.pathsep)] if env else [ROOT / "data", ROOT.parent / "shared" / "data"]
    return [d.resolve() for d in dirs if d.is_dir()]


def local_files() -> dict[str, str]:
    """``{label: path}`` of the .h5ad files in the data folders."""
    return {p.name: str(p) for d in data_dirs() for p in sorted(d.glob("*.h5ad"))}


@dataclass(frozen=True)
class Source:
    """What to load: a preset name or a file path, with its layout."""

    location: str
    pert_col: str | None = None
    control: str | None = None
    context_col: str | None = None
    context_value: str | None = None


@st.cache_resource(show_spinner="Loading dataset, normalising and pseudobulking…", max_entries=8)
def load(source: Source) -> Dataset:
    context = (source.context_col, source.context_value) if source.context_col and source.context_value else None
    return open_dataset(source.location, pert_col=source.pert_col, control=source.control, context=context)


def source_from_sidebar() -> Source:
    """Dataset picker in the sidebar; the choice is kept in the URL so a view can be shared.

    Datasets registered this session (:func:`register_dataset`) are offered too, and the latest is selected once.
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
        pert_col = st.text_input("Perturbation column", value="", placeholder="auto: target_gene", key="pert_col")
        control = st.text_input("Control label", value="", placeholder="auto: non-targeting", key="control")
        context_col = st.text_input("Keep only cells where column…", value="", placeholder="e.g. cell_type")
        context_value = st.text_input("…equals", value="", placeholder="e.g. k562")
    return Source(location, pert_col or None, control or None, context_col or None, context_value or None)


def register_dataset(label: str, path: Path) -> None:
    """Offer the file at ``path`` in this session's sidebar picker under ``label``, selected on the next run."""
    st.session_state.setdefault(REGISTERED, {})[label] = str(path)
    st.session_state[SELECT] = label


def current_dataset() -> Dataset | None:
    """Render the sidebar picker and return the chosen dataset, loaded once per process.

    Every page calls this first (rather than the frame), so a page also works when run on its own.
    Shows ``st.error`` and returns None when the data cannot be loaded.
    """
    source = source_from_sidebar()
    try:
        return load(source)
    except (ValueError, FileNotFoundError) as err:
        st.error(f"Could not load the dataset: {err}")
        return None


def temp_file(name: str) -> Path:
    """A path in this session's private temporary folder (mode 0700, created on first use)."""
    if "tmpdir" not in st.session_state:
        st.session_state["tmpdir"] = tempfile.mkdtemp(prefix="vcc-explorer-")
    return Path(st.session_state["tmpdir"]) / Path(name).name


def download_figure(fig, name: str, *, label: str = "Download figure (HTML)") -> None:
    """A download button for a plotly figure as standalone HTML (plotly.js from its CDN)."""
    st.download_button(label, fig.to_html(include_plotlyjs="cdn"), f"{name}.html", key=f"dl_{name}")
