"""Datasets of your own from a terminal: `python -m core.datasets import NAME PATH_OR_ZIP`.

Builds the same dataset as the app's "Your data" page, into the same runs folder, so it appears in
the app's dataset picker and `python -m core.train --dataset NAME` trains on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.access import LOCAL, AccessDenied
from core.cli import OneLineParser
from core.datasets.custom import custom_dataset_names, custom_manifest
from core.datasets.registry import DrawingRecipe
from core.datasets.splits import DatasetError

# Problems listed one per line up to this many; the rest are counted.
MAX_PROBLEMS_SHOWN = 20


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m core.datasets", description="Datasets of your own classes.")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser(
        "import",
        help="make a dataset from a .zip or a folder of class folders (circle/001.png, square/001.png, ...)",
    )
    make.add_argument("name", help="the dataset's name, e.g. shapes (letters, digits, spaces, - and _)")
    make.add_argument("source", type=Path, help="a .zip or a folder holding one sub-folder per class")
    make.add_argument(
        "--recipe",
        choices=[recipe.value for recipe in DrawingRecipe],
        default=DrawingRecipe.DIGIT_BOX.value,
        help="digit_box: shapes and symbols centred in a 20x20 box, like MNIST (default); "
        "fill_frame: objects filling the 28x28 frame, like Fashion-MNIST",
    )
    make.add_argument("--replace", action="store_true", help="replace an existing dataset of this name")
    make.add_argument("--runs-dir", help="the runs folder (default: EXPLORER_RUNS_DIR or ./runs)")
    listing = commands.add_parser("list", help="list the datasets of your own")
    listing.add_argument("--runs-dir", help="the runs folder (default: EXPLORER_RUNS_DIR or ./runs)")
    return parser


def _progress(done: int, total: int) -> None:
    if sys.stdout.isatty():
        print(f"\rRead {done:,} of {total:,} images", end="" if done < total else "\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        for name in custom_dataset_names(args.runs_dir):
            manifest = custom_manifest(name, args.runs_dir)
            print(
                f"{name}: {', '.join(manifest.info.class_names)} ({sum(manifest.train_counts):,} train / "
                f"{sum(manifest.test_counts):,} test, {manifest.origin})"
            )
        return 0
    from core.datasets.custom_import import import_custom_dataset

    if not args.source.exists():
        parser.error(f"no file or folder at {args.source}")
    try:
        report = import_custom_dataset(
            args.name,
            args.source,
            DrawingRecipe(args.recipe),
            by=LOCAL,  # the person at the terminal
            replace=args.replace,
            progress=_progress,
            runs_folder=args.runs_dir,
        )
    except (DatasetError, AccessDenied) as error:
        print(f"python -m core.datasets: error: {error}", file=sys.stderr)
        return 1
    for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
        print(f"skipped {problem}")
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        print(f"... and {len(report.problems) - MAX_PROBLEMS_SHOWN:,} more files skipped")
    manifest = report.manifest
    counts = ", ".join(
        f"{name} {train + test}"
        for name, train, test in zip(
            manifest.info.class_names, manifest.train_counts, manifest.test_counts, strict=True
        )
    )
    print(
        f"Made {manifest.info.name!r}: {counts} images ({sum(manifest.train_counts):,} train / "
        f"{sum(manifest.test_counts):,} test)."
    )
    if report.build.duplicates_dropped:
        print(
            f"Dropped {report.build.duplicates_dropped:,} duplicate images (kept once, so none is in both train "
            "and test)."
        )
    print(f"Train on it: python -m core.train --dataset {manifest.info.name} --preset small_data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
