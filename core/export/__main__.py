"""Export a run headless: `python -m core.export RUN_ID --formats float16,int8`.

Writes the same files as the Runs page into the run's `exports/` folder and prints the comparison
table (progress goes to stderr, the table to stdout; `--json` prints the table as JSON instead).
"""

from __future__ import annotations

import json
import sys

from core.access import LOCAL
from core.cli import OneLineParser
from core.datasets import DatasetError, load_dataset
from core.export.formats import FORMATS, ExportError, parse_formats
from core.export.measure import LATENCY_REPEATS
from core.export.runner import DEFAULT_THREADS
from core.export.table import Comparison, shipping_sentence


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="python -m core.export",
        description="Export a run as a SavedModel and TensorFlow Lite files, and compare them with the Keras model.",
        epilog="Formats: " + "; ".join(f"{key}: {fmt.description}" for key, fmt in FORMATS.items()),
    )
    parser.add_argument("run_id", help="the run's id, as the Runs page and `runs/` show it")
    parser.add_argument("--formats", default="all", help=f"comma-separated: {','.join(FORMATS)} or all (default)")
    parser.add_argument("--runs-dir", help="where the runs are (default: EXPLORER_RUNS_DIR or ./runs)")
    parser.add_argument("--data-dir", help="folder with the dataset files (default: EXPLORER_DATA_DIR)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="LiteRT threads (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=LATENCY_REPEATS, help="single-image calls timed per format")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    return parser


def table_text(comparison: Comparison) -> str:
    """The comparison as aligned plain-text columns, one row per format."""
    header = ("format", "size", "test acc.", "drawn acc.", "agreement", "p50 latency", "file")
    lines = [header]
    for row in comparison.rows:
        drawn = row.mean_drawn_accuracy
        lines.append(
            (
                row.label,
                f"{row.size_bytes / 1e6:.2f} MB",
                f"{100 * row.test_accuracy:.2f} %",
                "-" if drawn is None else f"{100 * drawn:.1f} %",
                f"{100 * row.agreement:.2f} %",
                f"{row.latency_p50_ms:.3f} ms",
                row.file_name,
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be at least 1")
    try:
        formats = parse_formats(args.formats)
    except ExportError as error:
        parser.error(str(error))

    from core.export.run_export import export_run  # TensorFlow loads here, after the arguments are checked
    from core.runs.store import RunStore, RunStoreError

    store = RunStore(args.runs_dir)
    try:
        dataset = load_dataset(store.get(args.run_id).dataset or "", args.data_dir)
    except (RunStoreError, DatasetError, KeyError, ValueError) as error:
        print(f"python -m core.export: error: {error}", file=sys.stderr)
        return 1
    print(f"Data: {dataset.source}", file=sys.stderr)

    def report(fraction: float, message: str) -> None:
        print(f"[{100 * fraction:3.0f} %] {message}", file=sys.stderr, flush=True)

    try:
        comparison = export_run(
            store, args.run_id, dataset, formats, by=LOCAL, progress=report,
            latency_repeats=args.repeats, num_threads=args.threads,
        )  # fmt: skip
    except (ExportError, OSError) as error:
        print(f"python -m core.export: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(comparison.to_json(), indent=2))
    else:
        print(table_text(comparison))
        print(shipping_sentence(comparison))
        print(f"Files in {store.root / args.run_id / 'exports'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
