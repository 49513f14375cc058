"""Sweeps from a terminal: `python -m core.sweep create|work|show --storage URL --name NAME`.

Bad specs, bad URLs and unreachable databases end with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import signal
import sys

from core.cli import OneLineParser


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="python -m core.sweep",
        description="Hyperparameter sweeps with Optuna: create a study from a spec, run workers on it, show it.",
        epilog="Without --storage the study lives in this machine's runs folder; use postgresql://... to share it.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    create = commands.add_parser("create", help="create a study from a TOML spec")
    create.add_argument("--spec", required=True, help="the sweep spec (TOML), e.g. bench/sweep_quick.toml")
    work = commands.add_parser("work", help="run queued trials until none is left")
    work.add_argument("--trials", type=int, help="run at most this many trials, then stop")
    work.add_argument("--data-dir", help="folder with the dataset files (default: EXPLORER_DATA_DIR)")
    show = commands.add_parser("show", help="print the study's trials")
    for command in (create, work, show):
        command.add_argument("--storage", default="", help="Optuna storage URL (default: the runs folder's journal)")
        command.add_argument("--name", required=True, help="the study's name")
        command.add_argument("--runs-dir", help="the runs folder (default: EXPLORER_RUNS_DIR or ./runs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from core.datasets import DatasetError
    from core.sweep import SpecError, StorageError

    try:
        return {"create": create, "work": work, "show": show}[args.command](args)
    except (SpecError, StorageError, DatasetError, ValueError) as error:
        parser.error(str(error))


def create(args: argparse.Namespace) -> int:
    from core.access import LOCAL
    from core.sweep import connect, create_sweep, load_spec, redact

    spec = load_spec(args.spec)
    storage = connect(args.storage, args.runs_dir)
    sweep = create_sweep(spec, args.name, storage, by=LOCAL)  # the person at the terminal
    where = redact(args.storage) if args.storage else "this machine's runs folder"
    print(f"Created study {sweep.name!r} with {spec.trials} trials in {where}. Start workers with:")
    options = f" --storage '{redact(args.storage)}'" if args.storage else ""
    options += f" --runs-dir {args.runs_dir}" if args.runs_dir else ""
    print(f"  python -m core.sweep work --name {sweep.name}{options}")
    return 0


def work(args: argparse.Namespace) -> int:
    from core.access import LOCAL
    from core.datasets import load_dataset
    from core.runs.store import RunStore
    from core.sweep import SweepWorker, connect, load_sweep
    from core.training import TrainingScheduler

    storage = connect(args.storage, args.runs_dir)
    sweep = load_sweep(args.name, storage)
    dataset = load_dataset(sweep.spec.dataset, args.data_dir)
    print(f"Data: {dataset.source}", flush=True)

    def report(outcome) -> None:
        value = f"{100 * outcome.value:.2f} % validation accuracy" if outcome.value is not None else ""
        pruned = f" at epoch {outcome.pruned_at_epoch}" if outcome.pruned_at_epoch else ""
        print(f"trial {outcome.number}: {outcome.state.name.lower()}{pruned} {value} {outcome.error or ''}".rstrip(),
              flush=True)  # fmt: skip

    worker = SweepWorker(
        sweep, storage, dataset, scheduler=TrainingScheduler(1), store=RunStore(args.runs_dir), by=LOCAL,
        max_trials=args.trials, on_outcome=report,
    )  # fmt: skip
    # Ctrl+C or a SIGTERM from a cluster manager: stop the running trial within a batch and requeue it.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: worker.stop())
    worker.start()
    while not worker.wait(0.5):
        pass
    if worker.error:
        print(worker.error, file=sys.stderr)
        return 1
    print(f"Done: {len(worker.outcomes)} trial(s) run by this worker.")
    return 0


def show(args: argparse.Namespace) -> int:
    from core.sweep import best_row, connect, counts, format_params, load_sweep, trial_rows

    sweep = load_sweep(args.name, connect(args.storage, args.runs_dir))
    rows = trial_rows(sweep.study)
    tally = ", ".join(f"{n} {word}" for word, n in counts(rows).items() if n)
    print(f"Study {sweep.name!r}: {sweep.spec.dataset}, sampler {sweep.spec.sampler}, pruner {sweep.spec.pruner}; "
          f"{tally or 'no trials'}.")  # fmt: skip
    for row in rows:
        value = f"{100 * row.value:6.2f} %" if row.value is not None else "     -  "
        took = f"{row.duration_s:7.1f} s" if row.duration_s is not None else "        "
        pruned = f" pruned at epoch {row.pruned_at_epoch}" if row.pruned_at_epoch else ""
        line = f"#{row.number:<4} {row.state:9} {value} {took}  {format_params(row.params)}{pruned}  {row.where}"
        print(line.rstrip())
    best = best_row(rows)
    if best is not None:
        print(f"Best: trial {best.number}, {100 * best.value:.2f} % validation accuracy, run {best.run_id} "
              f"({best.where}).")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
