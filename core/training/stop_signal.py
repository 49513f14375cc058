"""`StopSignal`: the event that stops a training run, and whether the run is still scored on the test set."""

from __future__ import annotations

import threading


class StopSignal(threading.Event):
    """Set to stop training within one batch; `score` says whether the stopped model is then scored.

    A run stopped from the Train page is scored as a finished one is. A pruned sweep trial is not: the
    sweep has ruled it out, and scoring it on the test and drawn sets would cost seconds of each trial.
    """

    def __init__(self) -> None:
        super().__init__()
        self.score = True

    def request(self, *, score: bool = True) -> None:
        """Stop; the first request decides whether the model is scored."""
        if not self.is_set():
            self.score = score
        self.set()
