"""VCC Explorer: the frame. Page config and navigation over ``pages/`` (each page draws the dataset picker)."""

import streamlit as st

st.set_page_config(page_title="VCC Explorer", page_icon="🧬", layout="wide")

pages = [
    st.Page("pages/dataset.py", title="Dataset", icon="📊", default=True),
    st.Page("pages/models.py", title="Models", icon="🏁"),
    st.Page("pages/explorer.py", title="Perturbation explorer", icon="🔬"),
    st.Page("pages/sweep.py", title="Scaling sweep", icon="📈"),
    st.Page("pages/ceiling.py", title="DES noise ceiling", icon="🎯"),
    st.Page("pages/leaderboard.py", title="Leaderboard", icon="🏆"),
    st.Page("pages/byo.py", title="Bring your own", icon="📤"),
]
st.sidebar.caption("VCC Explorer · perturbation-prediction metrics, visually")
st.navigation(pages).run()
