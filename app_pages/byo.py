"""Bring your own: a dataset for every page, and predictions (cells or a pseudobulk table) for every page."""

from pathlib import Path

import streamlit as st

import ui
from vcc_core.data.registered import registered, remove
from vcc_core.data.uploads import MB, check_upload_size, confine_path, max_upload_bytes


def chosen_file(upload, typed: str) -> Path | None:
    """The upload written to this session's private folder, or the typed path if it lies in a data folder."""
    if upload is not None:
        check_upload_size(upload.size)
        path = ui.temp_file(upload.name)
        path.write_bytes(upload.getbuffer())
        return path
    return confine_path(typed.strip(), ui.data_dirs()) if typed.strip() else None


def file_form(kind: str, help_text: str, types: tuple[str, ...] = ("h5ad",), extra=None) -> tuple[Path | None, bool]:
    """Upload box, path box and submit button in one form: the submitted file's path and whether it was uploaded."""
    with st.form(f"{kind}_form"):
        label = f"{kind.capitalize()} ({', '.join('.' + t for t in types)})"
        upload = st.file_uploader(label, type=list(types), key=f"{kind}_upload", help=help_text)
        typed = st.text_input("…or the path of a file in a data folder", key=f"{kind}_path")
        if extra is not None:
            extra()
        if not st.form_submit_button(f"Load {kind}"):
            return None, False
    path = chosen_file(upload, typed)
    if path is None:
        st.warning(f"Choose a {kind} file or type its path.")
    return path, upload is not None


data = ui.page("Bring your own", required=False)
folders = ", ".join(f"`{d}`" for d in ui.data_dirs()) or "none (set VCC_DATA_DIRS)"
st.caption(
    f"Files in the VCC layout: cells x genes, labels in `obs['target_gene']` with `non-targeting` controls, counts or "
    f"log1p values. Uploads (up to {max_upload_bytes() / MB:,.0f} MB) stay in this session's private folder; typed "
    f"paths must lie in a data folder: {folders}."
)
if note := st.session_state.pop("byo_note", None):
    st.success(note)

st.subheader("Dataset")
try:
    path, uploaded = file_form("dataset", "Shown on every page once loaded")
    if path is not None:
        loaded = ui.load(ui.DatasetChoice(str(path)))  # validated and cached here, so the sidebar's load is a hit
        label = path.name if ui.local_files().get(path.name) == str(path) else str(path)
        ui.register_dataset(f"{path.name} (uploaded)" if uploaded else label, path)
        st.session_state["byo_note"] = f"Loaded {loaded.name}: {loaded.summary.n_perts} perturbations, now selected."
        st.rerun()
except (ValueError, FileNotFoundError) as err:
    st.error(f"Could not use this file: {err}")

st.subheader("Predictions")
if data is None:
    st.info("Load a dataset first: predictions are checked against it.")
    st.stop()
st.caption(
    f"Predicted cells (a VCC submission: control cells included, counts or log1p) or a pseudobulk table "
    f"(perturbations x genes of log1p means, a `{data.control}` row optional) of perturbations of **{data.name}**, "
    "with its genes. Scored on the perturbations it predicts, on every page."
)
scopes = ["every session of this server (kept on disk)", "this session only (private)"]
try:
    path, uploaded = file_form(
        "predictions", "Browsable on every page once loaded", ("h5ad", "csv", "parquet"),
        extra=lambda: st.radio("Keep for", scopes, key="predictions_scope", horizontal=True),
    )  # fmt: skip
    if path is not None:
        shared = st.session_state.get("predictions_scope", scopes[0]) == scopes[0]
        with st.spinner(f"Checking {path.name} against {data.name}: reading, DE of both sides…"):
            source, n_perts = ui.add_prediction(data, path, shared=shared)
        where = "for every session of this server" if shared else "for this session only"
        st.success(f"Loaded {source.label}: {n_perts} perturbations, kept {where}. Pick it on any page.")
except (ValueError, OSError) as err:
    st.error(f"Could not use this file: {err}")

for entry in registered(data.fingerprint):
    left, right = st.columns([4, 1])
    left.write(f"`{entry.name}` ({entry.kind}, {entry.bytes / MB:,.1f} MB), kept for every session")
    if right.button("Remove", key=f"remove_{entry.name}"):
        remove(data.fingerprint, entry.name)
        st.rerun()
st.page_link("app_pages/explorer.py", label="Open the Perturbation explorer", icon=":material/biotech:")
