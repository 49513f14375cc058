"""CNN Model Explorer: page config, navigation and the sidebar every page shares."""

from pathlib import Path

import streamlit as st

from app_pages.access_gate import require_sign_in, signed_in
from app_pages.server_hygiene import keep_keras_state_between_runs
from app_pages.sidebar import render_sidebar

PAGES_DIR = Path(__file__).parent / "app_pages"

keep_keras_state_between_runs()
st.set_page_config(page_title="CNN Model Explorer", page_icon=":material/neurology:", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES_DIR / "data.py", title="Data", icon=":material/grid_view:", default=True),
        st.Page(PAGES_DIR / "train.py", title="Train", icon=":material/model_training:"),
        st.Page(PAGES_DIR / "runs.py", title="Runs", icon=":material/table_chart:"),
        st.Page(PAGES_DIR / "evaluate.py", title="Evaluate", icon=":material/fact_check:"),
        st.Page(PAGES_DIR / "predict.py", title="Predict", icon=":material/draw:"),
        st.Page(PAGES_DIR / "inside.py", title="Inside the model", icon=":material/neurology:"),
        st.Page(PAGES_DIR / "sweep.py", title="Sweeps", icon=":material/tune:"),
        st.Page(PAGES_DIR / "your_data.py", title="Your data", icon=":material/add_photo_alternate:"),
    ],
    # Named before signing in, so the page a visitor opened is the page they land on; hidden till then.
    position="sidebar" if signed_in() else "hidden",
)
# Served to others, nothing below runs until the visitor has signed in.
require_sign_in()
render_sidebar()
navigation.run()
