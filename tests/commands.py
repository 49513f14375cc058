"""A `python -m core.*` command's `main`, run in this test process: no TensorFlow import per one-line answer."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Callable
from unittest import mock


def run_main(main: Callable[[list[str]], int], *args: str) -> subprocess.CompletedProcess:
    """The command's exit code and what it printed, as a subprocess would give them."""
    out, err = io.StringIO(), io.StringIO()
    # A command may set environment variables for its own child processes: undone after.
    with mock.patch.dict(os.environ), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as leaving:  # how argparse answers --help and reports an error
            code = leaving.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
