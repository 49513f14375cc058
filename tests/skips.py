"""The one rule for skipping a test: say why, and never in CI, where `.ci/run` provides what is missing."""

from __future__ import annotations

import os

import pytest


def skip_unless_ci(reason: str, in_ci: str) -> None:
    """Skip with `reason` on a developer's machine; in CI (CI=true) fail instead, adding `in_ci`."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}. {in_ci}")
    pytest.skip(reason)
