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
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from vcc_core.analyses.sweep import SCALES
from vcc_core.analyses.sweep2026 import scored_along as score_along_scale
from vcc_core.analyses.sweep2026 import source_expression_along
from vcc_core.analyses.sweep_runs import ModelSweep, source_des_sweep, source_sweep
from vcc_core.cache import default_cache
from vcc_core.data.dataset import Dataset, open_dataset
from vcc_core.data.predictions import SUFFIXES, file_genes
from vcc_core.data.registered import lost, register, registered
from vcc_core.data.simulate import DEFAULT_PRESET
from vcc_core.evaluation import vcc2026_sources
from vcc_core.evaluation.evaluate import NAMES as CONVENTION_NAMES
from vcc_core.evaluation.sources import PredictionSource, Scored, score_source
from vcc_core.keys import CURRENT, REFERENCES
from vcc_core.models import model_options
from vcc_core.plots.export import FORMATS, figure_bytes, figures_zip, static_export_problem
from vcc_core.progress import Progress

ROOT = Path(__file__).resolve().parent
BUILTIN = {
    "Synthetic screen (60 perturbations, 5,000 genes)": DEFAULT_PRESET,  # first: the default
    "Small synthetic (60 perturbations, 2,000 genes)": "small",
    "Tiny synthetic (12 perturbations)": "tiny",
}
CONVENTIONS = "conventions"  # session key of the VCC 2025 conventions the frame's picker chose
REGISTERED, SELECT = "registered_datasets", "select_dataset"  # session keys of datasets added by a page
CHOICE, PRIVATE = "dataset_choice", "private_predictions"  # session keys: the frame's choice, private uploads
FIGURES = "page_figures"  # session key: the figures the current page offers, by name


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


def conventions_picker() -> str:
    """The conventions of the VCC 2025 metrics' DE tables in the sidebar (drawn once per run, by the frame), kept in
    the URL when not the default (``?conventions=cell-eval-0.6.6``)."""
    wanted = st.query_params.get("conventions", CURRENT)
    choice = st.sidebar.selectbox(
        "VCC 2025 conventions",
        REFERENCES,
        index=REFERENCES.index(wanted) if wanted in REFERENCES else 0,
        format_func=CONVENTION_NAMES.get,
        key="conventions_choice",
        help="The DE behind DES and the other DE metrics: pdex 0.3.0 as cell-eval 0.8.2 runs it (one FDR per "
        "perturbation), or pdex 0.1.27 as cell-eval 0.6.6 ran it for the VCC 2025 leaderboard (one FDR over every "
        "perturbation and gene, fold changes clipped at 20). MAE and PDS are the same under both.",
    )
    if choice == CURRENT:
        st.query_params.pop("conventions", None)
    else:
        st.query_params["conventions"] = choice
    st.session_state[CONVENTIONS] = choice
    return choice


def conventions() -> str:
    """The conventions the frame's picker chose (a page run on its own draws the picker itself)."""
    return st.session_state.get(CONVENTIONS) or conventions_picker()


def conventions_caption() -> str:
    """A sentence for a table's caption: which conventions its DE-based numbers follow."""
    return f"DE tables (DES and the other DE metrics): {CONVENTION_NAMES[conventions()]}, set in the sidebar."


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
    st.session_state[FIGURES] = {}  # the figures this run of the page offers (download_page_figures)
    choice = st.session_state.get(CHOICE) or dataset_picker()
    try:
        return load(choice)
    except (ValueError, FileNotFoundError) as err:
        st.error(f"Could not load the dataset: {err}")
        if required:
            st.stop()
        return None


def cache_status() -> None:
    """One warning in the sidebar while the disk cache cannot be written (disk full, read-only, no folder)."""
    if problem := default_cache().problem:
        st.sidebar.warning(f"{problem[0].upper()}{problem[1:]}: results are computed without it, so pages are slower.")


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A progress bar for the work in the ``with`` block, as a ``progress(fraction, message)`` callable."""
    bar = st.progress(0.0, text="starting")
    try:
        yield lambda fraction, message: bar.progress(fraction, text=message)
    finally:
        bar.empty()


@st.cache_data(max_entries=256, show_spinner=False)
def _folder_source(path: str, stamp: tuple, fingerprint: str, _genes) -> PredictionSource | None:
    """The file at ``path`` as a prediction when its genes are the dataset's, else None: its header and its kind
    are read once per version of the file (``stamp``), not on every rerun."""
    try:
        return PredictionSource.file(path) if set(file_genes(path)) == set(map(str, _genes)) else None
    except (OSError, ValueError, KeyError):
        return None


def folder_predictions(data: Dataset) -> list[PredictionSource]:
    """Files in the data folders whose genes are the dataset's (its own file left out), offered by file name."""
    own = {str(Path(p).resolve()) for p in local_files().values() if Path(p).name == data.name}
    found = []
    for folder in data_dirs():
        for path in sorted(p for suffix in SUFFIXES for p in folder.glob(f"*{suffix}")):
            if str(path.resolve()) in own:
                continue
            stat = path.stat()
            stamp = (stat.st_size, stat.st_mtime_ns)
            if source := _folder_source(str(path), stamp, data.fingerprint, data.profiles.genes):
                found.append(source)
    return found


def prediction_sources(data: Dataset) -> dict[str, PredictionSource]:
    """Every prediction the pickers offer, by name: the built-in models, the files registered for the dataset (kept
    on disk for every session), this session's private uploads and the matching files of the data folders."""
    files = [PredictionSource.file(e.path, kind=e.kind, name=e.name) for e in registered(data.fingerprint)]
    for message in lost(data.fingerprint):  # a damaged file, removed: said once, to whoever listed it
        st.warning(message)
    files += st.session_state.get(PRIVATE, {}).get(data.fingerprint, [])
    files += folder_predictions(data)
    out = {m: PredictionSource.model(m) for m in model_options()}
    for source in files:
        name = source.name if source.name not in out else f"{source.name} ({Path(source.location).parent.name})"
        out.setdefault(name, PredictionSource(name, source.kind, source.location))
    return out


def prediction_picker(data: Dataset, *, key: str, default: str = "ridge", url: str | None = None) -> PredictionSource:
    """One prediction (a model or a file) picked in a selectbox; with ``url``, kept in that query parameter."""
    sources = prediction_sources(data)
    names = list(sources)
    wanted = st.query_params.get(url, default) if url else default
    index = names.index(wanted) if wanted in names else names.index(default) if default in names else 0
    name = st.selectbox("Prediction", names, index=index, key=key, format_func=lambda n: sources[n].label)
    if url:
        st.query_params[url] = name
    return sources[name]


def predictions_picker(data: Dataset, *, key: str, default: list[str]) -> list[PredictionSource]:
    """Several predictions (models and files) picked in a multiselect; files are offered beside the models."""
    sources = prediction_sources(data)
    chosen = st.multiselect(
        "Predictions", list(sources), default=[d for d in default if d in sources], key=key,
        format_func=lambda n: sources[n].label,
    )  # fmt: skip
    return [sources[n] for n in chosen]


def keep_private(data: Dataset, source: PredictionSource) -> None:
    """Offer ``source`` (a file in this session's private folder) to this session only."""
    kept = st.session_state.setdefault(PRIVATE, {}).setdefault(data.fingerprint, [])
    kept[:] = [s for s in kept if s.name != source.name] + [source]


def add_prediction(data: Dataset, path: Path, *, shared: bool) -> tuple[PredictionSource, int]:
    """Check the prediction file at ``path`` against ``data`` (its sides are computed and cached on disk), then keep
    it: registered for every session (copied into the managed folder), or for this session only.

    Returns the source and the number of perturbations it is scored on; raises ``ValueError`` (nothing kept) when
    the file does not fit the data.
    """
    source = PredictionSource.file(path)
    n_perts = len(scored(data, source).metrics)
    if shared:
        entry = register(path, name=source.name, kind=source.kind, dataset_key=data.fingerprint)
        source = PredictionSource.file(entry.path, kind=entry.kind, name=entry.name)
    else:
        keep_private(data, source)
    return source, n_perts


@st.cache_resource(
    show_spinner="Sides of the prediction: expanding to cells, DE of both sides (cached)…", max_entries=16
)
def _scored(fingerprint: str, source: PredictionSource, stamp: tuple, conventions: str, _data: Dataset) -> Scored:
    return score_source(_data, source, conventions=conventions)


def scored(data: Dataset, source: PredictionSource) -> Scored:
    """:class:`Scored` of ``source`` on ``data`` under the sidebar's :func:`conventions`, held once per process (and
    its sides on disk)."""
    return _scored(data.fingerprint, source, source.stamp, conventions(), data)


def scored_or_stop(data: Dataset, source: PredictionSource) -> Scored:
    """:func:`scored`, or an ``st.error`` saying why ``source`` cannot be scored, and the page stops there."""
    try:
        return scored(data, source)
    except ValueError as err:
        st.error(f"Could not score {source.name}: {err}")
        st.stop()


@st.cache_resource(show_spinner="Sweeping the output scale…", max_entries=32)
def _swept(fingerprint: str, source: PredictionSource, stamp: tuple, _data: Dataset) -> ModelSweep:
    return source_sweep(_data, source, scales=SCALES)


def swept(data: Dataset, source: PredictionSource) -> ModelSweep:
    """:func:`~vcc_core.analyses.sweep_runs.source_sweep` over the dashboard's grid."""
    return _swept(data.fingerprint, source, source.stamp, data)


@st.cache_resource(show_spinner="Expanding to cells and running a Wilcoxon DE per scale…", max_entries=32)
def _des_along(fingerprint: str, source: PredictionSource, stamp: tuple, _data: Dataset, scales: tuple):
    return source_des_sweep(_data, source, scales=np.array(scales))


def des_along(data: Dataset, source: PredictionSource, scales: tuple):
    """:func:`~vcc_core.analyses.sweep_runs.source_des_sweep` of a model or a table at ``scales``."""
    return _des_along(data.fingerprint, source, source.stamp, data, scales)


@st.cache_resource(show_spinner="VCC 2026 metrics of the prediction (cached)…", max_entries=32)
def _evaluated_2026(fingerprint: str, source: PredictionSource, stamp: tuple, _data: Dataset) -> pd.DataFrame:
    return vcc2026_sources.evaluate_source(_data, source).results


def evaluated_2026(data: Dataset, source: PredictionSource) -> pd.DataFrame:
    """The VCC 2026 metrics of ``source`` per perturbation (``ValueError`` if the data or file is not counts)."""
    return _evaluated_2026(data.fingerprint, source, source.stamp, data)


@st.cache_resource(show_spinner="VCC 2026 expression metrics along the scale…", max_entries=32)
def _expression_along(fingerprint: str, source: PredictionSource, stamp: tuple, _data: Dataset) -> pd.DataFrame:
    return source_expression_along(_data, source, scales=SCALES)


def expression_along(data: Dataset, source: PredictionSource) -> pd.DataFrame:
    """:func:`~vcc_core.analyses.sweep2026.source_expression_along` over the dashboard's grid."""
    return _expression_along(data.fingerprint, source, source.stamp, data)


@st.cache_resource(show_spinner="Expanding to count cells and scoring each scale (VCC 2026)…", max_entries=32)
def _scored_along(fingerprint: str, source: PredictionSource, stamp: tuple, _data: Dataset, scales: tuple):
    return score_along_scale(_data, source, scales=np.array(scales))


def scored_along(data: Dataset, source: PredictionSource, scales: tuple) -> pd.DataFrame:
    """:func:`~vcc_core.analyses.sweep2026.scored_along` of a model or a table at ``scales``."""
    return _scored_along(data.fingerprint, source, source.stamp, data, scales)


@st.cache_resource(show_spinner=False, max_entries=64)
def _reach_walk(fingerprint: str, source: PredictionSource, stamp: tuple, pert: str, _data: Dataset) -> pd.DataFrame:
    return vcc2026_sources.reach_walk(_data, source, pert)


def reach_walk(data: Dataset, source: PredictionSource, pert: str) -> pd.DataFrame:
    """:func:`~vcc_core.evaluation.vcc2026_sources.reach_walk` of ``source`` for ``pert``."""
    return _reach_walk(data.fingerprint, source, source.stamp, pert, data)


def temp_file(name: str) -> Path:
    """A path in this session's private temporary folder (mode 0700, created on first use)."""
    if "tmpdir" not in st.session_state:
        st.session_state["tmpdir"] = tempfile.mkdtemp(prefix="vcc-explorer-")
    return Path(st.session_state["tmpdir"]) / Path(name).name


def download_figure(fig, name: str, *, label: str = "Download figure") -> None:
    """A menu of downloads for a plotly figure: PNG and SVG for slides (made when clicked:
    :mod:`vcc_core.plots.export`), standalone HTML; the figure also goes into the page's zip of figures."""
    st.session_state.setdefault(FIGURES, {})[name] = fig
    with st.popover(label, icon=":material/download:"):
        for fmt in ("png", "svg", "html"):
            if fmt != "html" and (reason := static_export_problem()):
                st.caption(reason)
                continue
            st.download_button(
                fmt.upper(),
                partial(figure_bytes, fig, fmt),
                f"{name}.{fmt}",
                FORMATS[fmt],
                key=f"dl_{name}_{fmt}",
                on_click="ignore",
            )


def download_page_figures(page_name: str) -> None:
    """One sidebar button with every figure the page offered, in PNG, SVG and HTML, as a zip (made when clicked)."""
    figures = dict(st.session_state.get(FIGURES, {}))
    if not figures:
        return
    formats = ("html",) if static_export_problem() else ("png", "svg", "html")
    st.sidebar.download_button(
        f"All {len(figures)} figures of this page (zip)",
        partial(figures_zip, figures, formats),
        f"{page_name}_figures.zip",
        "application/zip",
        key="dl_page_figures",
        on_click="ignore",
        icon=":material/folder_zip:",
    )
