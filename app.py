"""VCC Explorer: the frame. Page config, the sidebar's dataset and conventions pickers (drawn once, here) and
navigation.

The pages live in ``app_pages/``, not ``pages/``: Streamlit treats a ``pages/`` folder as the older multipage
layout and would serve a shared deep link such as ``/explorer`` without running this frame (its own navigation, no
titles), so links to a page would open a different-looking app. Each page's URL is its file name.
"""

import streamlit as st

import ui

st.set_page_config(page_title="VCC Explorer", page_icon="🧬", layout="wide")
st.logo("assets/logo.svg", icon_image="assets/icon.svg")  # the wide logo in the sidebar, the icon when it is closed

pages = [
    st.Page("app_pages/dataset.py", title="Dataset", icon=":material/dataset:", default=True),
    st.Page("app_pages/tour.py", title="Tour", icon=":material/tour:"),
    st.Page("app_pages/models.py", title="Models", icon=":material/model_training:"),
    st.Page("app_pages/explorer.py", title="Perturbation explorer", icon=":material/biotech:"),
    st.Page("app_pages/sweep.py", title="Scaling sweep", icon=":material/tune:"),
    st.Page("app_pages/ceiling.py", title="DES noise ceiling", icon=":material/vertical_align_top:"),
    st.Page("app_pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
    st.Page("app_pages/compare.py", title="A against B", icon=":material/compare_arrows:"),
    st.Page("app_pages/byo.py", title="Bring your own", icon=":material/upload_file:"),
]
navigation = st.navigation(pages)
ui.dataset_picker()
ui.conventions_picker()
st.sidebar.caption("VCC Explorer · perturbation-prediction metrics, visually")
navigation.run()
ui.download_page_figures(navigation.url_path or "dataset")
ui.cache_status()  # after the page: a cache that failed while it ran is said at once
