"""VCC Explorer: the frame. Page config and navigation over ``views/`` (each page draws the dataset picker).

The pages live in ``views/``, not ``pages/``: Streamlit treats a ``pages/`` folder as the older multipage layout
and would serve a shared deep link such as ``/explorer`` without running this frame (its own navigation, no
titles), so links to a page would open a different-looking app.
"""

import streamlit as st

st.set_page_config(page_title="VCC Explorer", page_icon="🧬", layout="wide")

pages = [
    st.Page("views/dataset.py", title="Dataset", icon=":material/dataset:", default=True),
    st.Page("views/models.py", title="Models", icon=":material/model_training:"),
    st.Page("views/explorer.py", title="Perturbation explorer", icon=":material/biotech:"),
    st.Page("views/sweep.py", title="Scaling sweep", icon=":material/tune:"),
    st.Page("views/ceiling.py", title="DES noise ceiling", icon=":material/vertical_align_top:"),
    st.Page("views/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
    st.Page("views/byo.py", title="Bring your own", icon=":material/upload_file:"),
]
st.sidebar.caption("VCC Explorer · perturbation-prediction metrics, visually")
st.navigation(pages).run()
