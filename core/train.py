"""Headless training into the run store: `python -m core.train --dataset fashion_mnist --arch compact`.

Runs made here (on a GPU server, say) open in the app like any other.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace

from core.access import LOCAL
from core.cli import OneLineParser
from core.datasets import DatasetError, load_dataset
from core.runs.folder import RUNS_DIR_ENV


def build_parser(architectures: dict, presets: dict, optimizers: dict, schedules: dict) -> OneLineParser:
    arch_help = "; ".join(f"{name}: {info.display_name}" for name, info in architectures.items())
    parser = OneLineParser(
        prog="python -m core.train",
        description="Train a CNN on MNIST, Fashion-MNIST or your own dataset and save it as a run the app can open.",
        epilog=f"Architectures: {arch_help}.",
    )
    parser.add_argument(
        "--dataset",
        default="fashion_mnist",
        help="mnist, fashion_mnist, or the name of a dataset of your own (python -m core.datasets list)",
    )
    parser.add_argument(
        "--preset", choices=list(presets), default="default", help="starting settings (default: default)"
    )
    parser.add_argument("--arch", choices=list(architectures), help="architecture (default: the preset's)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--optimizer", choices=list(optimizers))
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--schedule", choices=list(schedules))
    parser.add_argument("--dropout", type=float, help="dropout rate, 0 to below 1")
    parser.add_argument("--l2", type=float, help="L2 weight decay on kernels")
    parser.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--width", type=float, help="multiply every layer's channels or units (0.25-4)")
    parser.add_argument("--rotation", type=float, help="augmentation: random rotation up to this many degrees")
    parser.add_argument("--shift", type=float, help="augmentation: random shift up to this fraction of the size")
    parser.add_argument("--zoom", type=float, help="augmentation: random zoom up to this fraction")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None, help="random horizontal flips")
    parser.add_argument(
        "--drawings", type=float, metavar="SHARE", help="robust to drawings: share of training images redrawn (0-1)"
    )
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--early-stopping", type=int, metavar="PATIENCE", help="epochs without improvement")
    parser.add_argument("--validation-split", type=float)
    parser.add_argument("--train-size", type=int, help="train on a stratified subset of this many images")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--average-weights", action=argparse.BooleanOptionalAction, default=None,
        help="validate and keep a moving average of the weights (EMA) instead of the last step's",
    )  # fmt: skip
    parser.add_argument("--mixed-precision", action="store_true", help="float16 compute (GPU only)")
    parser.add_argument("--runs-dir", help="where to save the run (default: EXPLORER_RUNS_DIR or ./runs)")
    parser.add_argument("--data-dir", help="folder with the dataset files (default: EXPLORER_DATA_DIR)")
    return parser


def settings_from(args: argparse.Namespace, preset):
    """The preset's spec and config with every option the user gave applied on top."""
    preset = preset.for_dataset(args.dataset)
    spec, config = preset.spec, preset.config
    if args.arch and args.arch != spec.architecture:
        from core.architectures import default_spec

        spec = default_spec(args.arch, augmentation=spec.augmentation)
    augmentation = replace(
        spec.augmentation,
        **_given(
            rotation_degrees=args.rotation,
            shift_fraction=args.shift,
            zoom_fraction=args.zoom,
            horizontal_flip=args.flip,
            drawing_rate=args.drawings,
        ),
    )
    if augmentation.horizontal_flip and not augmentation.for_dataset(args.dataset).horizontal_flip:
        raise ValueError("Horizontal flips are for clothing only: a mirrored digit is a different symbol.")
    augmentation = augmentation.for_dataset(args.dataset)
    spec = replace(
        spec,
        augmentation=augmentation,
        **_given(dropout=args.dropout, l2=args.l2, batch_norm=args.batch_norm, width=args.width),
    )
    config = replace(
        config,
        **_given(
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            learning_rate=args.learning_rate,
            schedule=args.schedule,
            label_smoothing=args.label_smoothing,
            early_stopping_patience=args.early_stopping,
            validation_split=args.validation_split,
            train_size=args.train_size,
            seed=args.seed,
            average_weights=args.average_weights,
        ),
        mixed_precision=args.mixed_precision,
    )
    return spec, config


def _given(**options):
    return {name: value for name, value in options.items() if value is not None}


def progress_line(snapshot) -> str:
    width = 24
    filled = round(width * snapshot.fraction_done)
    loss = f"{snapshot.last_loss:.3f}" if snapshot.last_loss is not None else "-"
    eta = time.strftime("%M:%S", time.gmtime(snapshot.eta_s)) if snapshot.eta_s is not None else "--:--"
    return (
        f"epoch {snapshot.epoch + 1}/{snapshot.total_epochs} [{'#' * filled}{'.' * (width - filled)}] "
        f"{100 * snapshot.fraction_done:3.0f}%  loss {loss}  {snapshot.samples_per_second:,.0f} img/s  ETA {eta}"
    )


def main(argv: list[str] | None = None) -> int:
    # Imported after argument parsing would be nicer for --help speed, but the choices need the registries.
    from core.architectures import ARCHITECTURES
    from core.runs.store import RunStore
    from core.training import OPTIMIZERS, SCHEDULES, TrainingJob, TrainingScheduler
    from core.training.presets import PRESETS

    parser = build_parser(ARCHITECTURES, PRESETS, OPTIMIZERS, SCHEDULES)
    args = parser.parse_args(argv)
    if args.runs_dir:
        # Datasets of your own live in the runs folder: the one this run goes to (and the training child's).
        os.environ[RUNS_DIR_ENV] = args.runs_dir
    try:
        spec, config = settings_from(args, PRESETS[args.preset])
        dataset = load_dataset(args.dataset, args.data_dir)
    except (ValueError, DatasetError) as error:
        parser.error(str(error))

    print(f"Data: {dataset.source}")
    print(f"Model: {spec.architecture}, dropout {spec.dropout}, batch norm {'on' if spec.batch_norm else 'off'}")
    store = RunStore(args.runs_dir)
    job = TrainingJob(dataset, spec, config, on_finish=store.saver(dataset.source))
    TrainingScheduler(1).submit(job, by=LOCAL)  # the person at the terminal
    interactive = sys.stdout.isatty()
    reported_epochs = 0
    try:
        while not job.wait(0.5):
            snapshot = job.snapshot()
            if interactive:
                print("\r" + progress_line(snapshot), end="", flush=True)
            reported_epochs = _report_epochs(snapshot.epochs, reported_epochs, interactive)
    except KeyboardInterrupt:
        print("\nStopping after this batch (the run is kept as stopped)...", flush=True)
        job.stop(by=LOCAL)
        job.wait()
    result = job.result
    _report_epochs(result.epochs, reported_epochs, interactive)
    if result.error:
        print(f"\n{result.state.value}: {result.error}", file=sys.stderr)
    if result.test_accuracy is not None:
        print(
            f"Test accuracy {100 * result.test_accuracy:.2f} %, test loss {result.test_loss:.4f} "
            f"({result.elapsed_s:.1f} s, {result.device})"
        )
    if result.saved_run_id:
        print(f"Saved run: {store.root / result.saved_run_id}")
    return 0 if result.state.value in ("finished", "stopped") and not result.error else 1


def _report_epochs(epochs, already: int, interactive: bool) -> int:
    for record in epochs[already:]:
        prefix = "\r" if interactive else ""
        print(
            f"{prefix}epoch {record.epoch + 1}: loss {record.loss:.4f}, accuracy {100 * record.accuracy:.2f} %, "
            f"validation loss {record.val_loss:.4f}, validation accuracy {100 * record.val_accuracy:.2f} % "
            f"({record.seconds:.1f} s)".ljust(100),
            flush=True,
        )
    return len(epochs)


if __name__ == "__main__":
    sys.exit(main())
