"""This test process's training workers, as the operating system sees them."""

from __future__ import annotations

import os
from pathlib import Path


def training_processes() -> list[int]:
    """Ids of this process's live training workers, read from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == os.getpid() and state != "Z" and b"core.training.worker" in command:
            pids.append(int(entry.name))
    return pids
