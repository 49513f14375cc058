"""The comparison table of an export: the Keras model and each format, kept as JSON beside the files.

Scoring a full test set takes a while, so it is done once per export and saved (atomically) in
`exports/comparison.json`; the Runs page and the command line read it back instead of recomputing.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.export.formats import FLOAT32, FORMATS, FULL_INT8
from core.runs.folder import write_json_atomically
from core.runs.summary import mean_drawn_accuracy

COMPARISON_FILE = "comparison.json"
KERAS_KEY = "keras"
# 2: drawn accuracy read steadily (core.steady_reading); rows of a version-1 table were read plainly.
TABLE_VERSION = 2
# Latencies within 5 % of each other are "about as fast": closer than a shared machine measures.
SAME_SPEED = 0.05


@dataclass(frozen=True)
class FormatResult:
    """How one format of the model does: its size, accuracy, agreement with Keras and speed."""

    key: str  # "keras" or an ExportFormat key
    label: str
    file_name: str
    size_bytes: int
    test_accuracy: float
    agreement: float  # share of test images whose top-1 answer is the Keras model's
    latency_p50_ms: float
    drawn_accuracy: dict[str, float] = field(default_factory=dict)  # drawing style -> accuracy
    sha256: str = ""  # of the file, so a changed file is never served under this row's numbers
    input_dtype: str = "float32"

    @property
    def mean_drawn_accuracy(self) -> float | None:
        return mean_drawn_accuracy(self.drawn_accuracy)


@dataclass(frozen=True)
class Comparison:
    """Every format of one run's model, measured on the same images in one go."""

    run_id: str
    model_sha256: str
    dataset: str
    dataset_source: str
    test_images: int
    drawn_images: int
    num_threads: int
    latency_repeats: int
    rows: tuple[FormatResult, ...]
    created_utc: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))

    def row(self, key: str) -> FormatResult | None:
        return next((row for row in self.rows if row.key == key), None)

    @property
    def keras(self) -> FormatResult | None:
        return self.row(KERAS_KEY)

    @property
    def formats(self) -> tuple[FormatResult, ...]:
        """The exported formats, without the Keras reference."""
        return tuple(row for row in self.rows if row.key != KERAS_KEY)

    def to_json(self) -> dict[str, Any]:
        return {"version": TABLE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> Comparison:
        if content.get("version") != TABLE_VERSION:  # measured another way: redone, not mixed with new rows
            raise ValueError(f"comparison table version {content.get('version')}")
        fields = {key: value for key, value in content.items() if key != "version"}
        rows = tuple(FormatResult(**row) for row in fields.pop("rows"))
        return cls(**fields, rows=rows)

    def merged_into(self, earlier: Comparison | None) -> Comparison:
        """This comparison plus the rows of an earlier export of the same model on the same data it did not redo.

        Rows come in catalogue order (the Keras model first), however the formats were exported over time.
        """
        if earlier is None or not self.measured_like(earlier):
            return self
        redone = {row.key for row in self.rows}
        kept = tuple(row for row in earlier.rows if row.key not in redone and row.key in FORMATS)
        order = [KERAS_KEY, *FORMATS]
        return replace(self, rows=tuple(sorted(self.rows + kept, key=lambda row: order.index(row.key))))

    def measured_like(self, other: Comparison) -> bool:
        """Whether two comparisons measured the same model on the same images, so their rows compare."""
        same = ("model_sha256", "dataset", "dataset_source", "test_images", "drawn_images", "num_threads")
        return all(getattr(self, name) == getattr(other, name) for name in same)


def save_comparison(exports: Path, comparison: Comparison) -> Path:
    path = exports / COMPARISON_FILE
    write_json_atomically(path, comparison.to_json())
    return path


def load_comparison(exports: Path) -> Comparison | None:
    """The saved comparison, or None if there is none or it cannot be read (then it is simply redone)."""
    try:
        return Comparison.from_json(json.loads((exports / COMPARISON_FILE).read_text()))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def shipping_sentence(comparison: Comparison) -> str:
    """One plain sentence on what shipping small costs, e.g. "… full INT8 is 3.9x smaller … and loses 0.2 points"."""
    keras, formats = comparison.keras, comparison.formats
    if keras is None or not formats:
        return "Export a format to see what it costs in size, accuracy and speed."
    # Full INT8 is the one a device-minded reader asks about; otherwise the smallest file exported.
    smallest = comparison.row(FULL_INT8.key) or min(formats, key=lambda row: row.size_bytes)
    reference = (comparison.row(FLOAT32.key) if smallest.key != FLOAT32.key else None) or keras
    ratio = reference.size_bytes / max(smallest.size_bytes, 1)
    points = 100 * (keras.test_accuracy - smallest.test_accuracy)
    # Two decimals for a loss under a tenth of a point: "loses 0.0 points" would hide a real 0.04.
    amount = f"{abs(points):.2f}" if abs(points) < 0.1 else f"{abs(points):.1f}"
    if abs(points) < 0.005:
        cost = "keeps the Keras model's test accuracy"
    elif points > 0:
        cost = f"loses {amount} points of test accuracy"
    else:
        cost = f"gains {amount} points of test accuracy"
    speed = smallest.latency_p50_ms / max(reference.latency_p50_ms, 1e-9)
    if abs(speed - 1) < SAME_SPEED:
        pace = "about as fast"
    else:
        pace = f"{1 / speed:.1f}x as fast" if speed < 1 else f"{speed:.1f}x as slow"
    return (
        f"{smallest.label} is {ratio:.1f}x smaller than {reference.label} and {cost} "
        f"({100 * smallest.test_accuracy:.2f} % against {100 * keras.test_accuracy:.2f} %); it gives the Keras "
        f"model's answer on {100 * smallest.agreement:.1f} % of test images and is {pace} per image "
        f"({smallest.latency_p50_ms:.2f} ms against {reference.latency_p50_ms:.2f} ms)."
    )
