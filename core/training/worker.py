"""The training process's entry point: `python -m core.training.worker INBOX_FD OUTBOX_FD IDLE_SECONDS`."""

from __future__ import annotations

import contextlib
import os
import sys
from multiprocessing.connection import Connection

# Training yields the CPU to the server and its pages: on 2 cores a third visitor's page while two
# others train was usable in 65 s at nice 10 against 134 s at nice 0 (bench/load_under_training.py).
WORKER_NICENESS = 10
# Threads for training ops (all cores unless set): bench/load_under_training.py --worker-threads 1
# measures whether leaving a core free for the server is worth its cost in training speed.
WORKER_THREADS_ENV = "EXPLORER_WORKER_THREADS"


def main(argv: list[str]) -> None:
    os.nice(WORKER_NICENESS)
    if os.environ.get(WORKER_THREADS_ENV):
        # core.runtime.CPU_THREADS_ENV, spelled out: importing core.runtime would start TensorFlow first.
        os.environ["EXPLORER_CPU_THREADS"] = os.environ[WORKER_THREADS_ENV]
    # Importing this imports TensorFlow: the worker is warm before its job arrives.
    from core.training.isolated import serve_one

    inbox_fd, outbox_fd, idle_s = argv
    serve_one(Connection(int(inbox_fd), writable=False), Connection(int(outbox_fd), readable=False), float(idle_s))
    # The run is saved (every file closed) and the result sent. The interpreter's teardown with
    # TensorFlow loaded took 1.4 s, which the app waits for before the next job: a sweep's pruned
    # trial took 8 s in all. Only the standard streams are left to flush.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # closed or a broken pipe: nothing more to say anyway
            stream.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
