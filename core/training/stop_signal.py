"""`StopSignal`: the event that stops a training run, and whether the stopped model is still scored."""

from __future__ import annotations

import threading


class StopSignal(threading.Event):
    """Set to stop training within one batch; `score_after` says whether the stopped model is then scored."""

    def __init__(self) -> None:
        super().__init__()
        self.score_after = True
        self._first = threading.Lock()

    def request(self, *, score_after: bool = True) -> None:
        """Stop; the first request decides whether the model is scored on the test and drawn sets."""
        with self._first:
            if not self.is_set():
                self.score_after = score_after
                self.set()
