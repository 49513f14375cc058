"""Helper process for the crash test: saves runs into a store, one after another, until it is killed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from factories import make_training_result

from core.runs.store import RunStore

store = RunStore(sys.argv[1])
result = make_training_result(0)
print("ready", flush=True)
while True:
    store.save(result, "crash test")
