"""Runs the real app.py for AppTest.

AppTest re-detects a `pages/` folder beside the main script on every run and then wraps the
script in Streamlit's legacy multipage mode, which drops the sidebar on reruns (the real server
does not). Starting from here, where no `pages/` folder is beside the script, avoids that.
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[2] / "app.py"), run_name="__main__")
