"""Bring your own: a dataset for every page, and predictions for the Leaderboard."""

from pathlib import Path

import streamlit as st

import ui
from vcc_core.data.io import load_predictions
from vcc_core.data.uploads import MB, check_upload_size, confine_path, max_upload_bytes
from vcc_core.evaluation.sides import predicted_test_cells


def chosen_file(upload, typed: str) -> Path | None:
    """The upload written to this session's private folder, or the typed path if it lies in a data folder."""
    if upload is not None:
        check_upload_size(upload.size)
        path = ui.temp_file(upload.name)
        path.write_bytes(upload.getbuffer())
        return path
    return confine_path(typed.strip(), ui.data_dirs()) if typed.strip() else None


def file_form(kind: str, help_text: str) -> tuple[Path | None, bool]:
    """Upload box, path box and submit button in one form: the submitted file's path and whether it was uploaded."""
    with st.form(f"{kind}_form"):
        upload = st.file_uploader(f"{kind.capitalize()} (.h5ad)", type=["h5ad"], key=f"{kind}_upload", help=help_text)
        typed = st.text_input("…or the path of a file in a data folder", key=f"{kind}_path")
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
st.caption(f"Predicted cells of the test perturbations of **{data.name}**, control cells included, the same genes.")
try:
    path, _ = file_form("predictions", "Scored on the Leaderboard page against the real test cells")
    if path is not None:
        pred, space = load_predictions(path, real=data.adata, pert_col=data.pert_col, control=data.control)
        pred = predicted_test_cells(data, pred)
        st.session_state[ui.PREDICTIONS] = ui.Predictions(path.name, data.fingerprint, pred)
        st.success(f"Loaded {path.name}: {pred.n_obs:,} cells ({space}). See the Leaderboard page.")
except (ValueError, FileNotFoundError) as err:
    st.error(f"Could not use this file: {err}")

if byo := st.session_state.get(ui.PREDICTIONS):
    st.write(f"Predictions in use: `{byo.name}`, {byo.adata.n_obs:,} cells.")
    st.page_link("app_pages/leaderboard.py", label="Open the Leaderboard", icon=":material/leaderboard:")
