"""The training process's entry point: `python -m core.training.worker INBOX_FD OUTBOX_FD IDLE_SECONDS`."""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

# Importing this imports TensorFlow: the worker is warm before its job arrives.
from core.training.isolated import serve_one


def main(argv: list[str]) -> None:
    inbox_fd, outbox_fd, idle_s = argv
    serve_one(Connection(int(inbox_fd), writable=False), Connection(int(outbox_fd), readable=False), float(idle_s))


if __name__ == "__main__":
    main(sys.argv[1:])
