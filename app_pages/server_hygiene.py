"""Undo what Streamlit 1.67 does after every script run that a shared TensorFlow server cannot afford.

After each run, fragment redraws included, Streamlit calls `keras.backend.clear_session()` from
`script_runner._clean_problem_modules`. That runs a full garbage collection (with a ~1 GB heap and
two live panels, about two a second, all holding the GIL: a third visitor waited 134 s for a page),
and it resets Keras' global state and TensorFlow's kernel cache under other sessions' models.
There is no option for it, so the function is replaced here (app.py does it on every run; the same
replacement again changes nothing). Streamlit is pinned
exactly in requirements.txt, and tests/app/test_server_hygiene.py fails if an upgrade brings the
call back. Its other post-run collector is off in .streamlit/config.toml (`runner.postScriptGC`).
"""

from __future__ import annotations

import sys

from streamlit.runtime.scriptrunner import script_runner


def _close_matplotlib_figures() -> None:
    """The rest of what `_clean_problem_modules` does: close pyplot figures a page left open."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit from clearing the Keras session after each script run, in this process."""
    script_runner._clean_problem_modules = _close_matplotlib_figures
