"""Sweeps (issue 15): a 12-trial quick-run sweep on Fashion-MNIST with and without pruning, the best trial
against the default recipe, and the top-3 ensemble against its best member.

    .venv/bin/python -m bench.sweep            # about 10 minutes on 2 idle cores
    .venv/bin/python -m bench.sweep --trials 4 --epochs 3   # a smoke test of a few minutes

Both sweeps use the same spec and sampler seed (bench/sweep_quick.toml); only the pruner differs.
They run interleaved, one trial of each in turn, so load that changes during the bench weighs on
both alike. Each trial trains in its own process through the scheduler, exactly as the app and the
CLI run them; the top-3 ensemble is built from the pruned sweep, the one a user gets by default.
Prints one JSON document (progress on stderr) and saves it to /tmp/bench-results/sweep-PRUNER.json
(sweep-seed-N-PRUNER.json with --seed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.machine import machine_info

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "bench" / "sweep_quick.toml"
RESULTS = Path("/tmp/bench-results/sweep.json")
TOP_K = 3
# Equal best accuracy, for the pruning goal: within this many percentage points.
EQUAL_WITHIN_POINTS = 0.3


def with_test_subset(dataset, size: int | None):
    """The dataset with only its first `size` test images: each trial scores itself on fewer (cheaper) images."""
    if not size or size >= len(dataset.y_test):
        return dataset
    from core.datasets import Dataset

    return Dataset(
        dataset.info, dataset.x_train, dataset.y_train, dataset.x_test[:size], dataset.y_test[:size],
        dataset.source_kind, f"{dataset.source}, trials scored on the first {size:,} test images",
    )  # fmt: skip


def save(report: dict) -> str:
    """Write the report so far (a long run that is cut short still leaves what it measured)."""
    text = json.dumps(report, indent=2, default=str)
    seed = report["options"].get("seed")
    name = "sweep" + (f"-seed-{seed}" if seed is not None else "") + f"-{report['spec']['sweep']['pruner']}"
    path = RESULTS.with_name(f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Sweep:
    """One of the two studies the bench compares, in its own runs folder and journal file."""

    def __init__(self, spec, name: str, dataset, root: Path):
        from core.access import LOCAL
        from core.runs.store import RunStore
        from core.sweep import connect, create_sweep

        self.name, self.dataset, self.runs = name, dataset, root / name
        self.storage = connect(None, self.runs)
        self.sweep = create_sweep(spec, name, self.storage, by=LOCAL)
        self.store = RunStore(self.runs)
        self.wall_s = 0.0
        self.trial_wall_s: dict[int, float] = {}

    def run_one_trial(self, scheduler) -> None:
        """Claim and train one queued trial, on the clock; the next trial's process warms up meanwhile."""
        from core.access import LOCAL
        from core.sweep import SweepWorker

        numbers = []

        def after(outcome) -> None:
            numbers.append(outcome.number)
            log(f"  {self.name} trial {outcome.number}: {outcome.state.name.lower()} value={outcome.value} "
                f"pruned_at={outcome.pruned_at_epoch}")  # fmt: skip
            worker.stop()  # one trial per turn; a worker without a limit warms the next trial's process

        worker = SweepWorker(
            self.sweep, self.storage, self.dataset, scheduler=scheduler, store=self.store, by=LOCAL, on_outcome=after
        )
        started = time.perf_counter()
        worker.run()
        seconds = time.perf_counter() - started
        self.wall_s += seconds
        for number in numbers:
            self.trial_wall_s[number] = seconds
        if worker.error:
            raise SystemExit(worker.error)

    def figures(self) -> dict:
        from core.sweep import best_row, counts, trial_rows

        rows = trial_rows(self.sweep.study)
        best = best_row(rows)
        # Each trial's validation accuracy after every epoch: the unpruned sweep's curves let pruning
        # rules be compared afterwards on the same trials (which each rule would stop, and when).
        curves = {
            trial.number: [value for _, value in sorted(trial.intermediate_values.items())]
            for trial in self.sweep.study.trials
        }
        return {
            "wall_s": round(self.wall_s, 1),
            "states": counts(rows),
            "best_trial": best.number,
            "best_val_accuracy_pct": round(100 * best.value, 2),
            "best_test_accuracy_pct": round(100 * best.test_accuracy, 2),
            "best_params": best.params,
            "pruned_at_epochs": [row.pruned_at_epoch for row in rows if row.pruned_at_epoch],
            "trials": [
                {
                    "number": r.number,
                    "state": r.state,
                    "val_accuracy": r.value,
                    "val_accuracy_by_epoch": [round(value, 4) for value in curves.get(r.number, [])],
                    "test_accuracy": r.test_accuracy,
                    "duration_s": round(r.duration_s or 0, 1),
                    "wall_s": round(self.trial_wall_s.get(r.number, 0.0), 1),
                    "params": r.params,
                    "run_id": r.run_id,
                }
                for r in rows
            ],
        }


def paired_trials(pruned: dict, unpruned: dict) -> Iterator[tuple[dict, dict]]:
    """Each trial of the pruned sweep's figures with its unpruned twin: the same number and settings."""
    settings = {row["number"]: row for row in unpruned["trials"]}
    for row in pruned["trials"]:
        twin = settings.get(row["number"])
        # Otherwise the sampler proposed differently after different histories: not a pair.
        if twin is not None and twin["params"] == row["params"]:
            yield row, twin


def paired_seconds(pruned: dict, unpruned: dict) -> dict:
    """Trials with the same settings in both sweeps' figures: what pruning saved on those it stopped, and
    how much those that ran alike differed (the noise to weigh the saving by)."""
    saved, noise = [], []
    for row, twin in paired_trials(pruned, unpruned):
        difference = twin["wall_s"] - row["wall_s"]
        (saved if row["state"] == "pruned" else noise).append(difference)
    return {
        "pruned_trials": len(saved),
        "pruned_trials_saved_s": round(sum(saved), 1),
        "alike_trials": len(noise),
        "alike_trials_mean_abs_difference_s": round(float(np.mean(np.abs(noise))), 1) if noise else None,
    }


def run_interleaved(spec, dataset, root: Path) -> tuple[Sweep, Sweep]:
    """The sweep with and without pruning, one trial of each in turn (the order alternating each round),
    so a machine that gets busier or quieter during the bench weighs on both alike."""
    from core.training import TrainingScheduler

    pruned = Sweep(spec, "with_pruning", dataset, root)
    unpruned = Sweep(replace(spec, pruner="none"), "without_pruning", dataset, root)
    scheduler = TrainingScheduler(1)
    for round_number in range(spec.trials):
        for sweep in (pruned, unpruned) if round_number % 2 == 0 else (unpruned, pruned):
            sweep.run_one_trial(scheduler)
    return pruned, unpruned


def default_recipe(spec, dataset, root: Path) -> dict:
    """The app's default recipe on the sweep's terms (subset, epochs, weight averaging), trained the app's way."""
    from core.access import LOCAL
    from core.runs.store import RunStore
    from core.training import JobState, TrainingJob, TrainingScheduler
    from core.training.isolated import prepare_worker

    # No varied setting given: the base preset ("quick" is the default recipe on a subset) and fixed settings.
    model, config = spec.settings({})
    store = RunStore(root / "default")
    job = TrainingJob(dataset, model, config, on_finish=store.saver(dataset.source), isolated=True)
    started = time.perf_counter()
    TrainingScheduler(1).submit(job, by=LOCAL)
    # Each trial's process warms up while the one before trains: the sweeps' first trial gets one too,
    # prepared once this job has taken its own (as core.sweep's worker does), or this job would take it.
    while job.state is JobState.QUEUED and not job.wait(0.1):
        pass
    prepare_worker()
    job.wait()
    result = job.result
    return {
        "settings": {"model": model.to_dict(), "training": config.to_dict()},
        "wall_s": round(time.perf_counter() - started, 1),
        "val_accuracy_pct": round(100 * result.epochs[-1].val_accuracy, 2),
        "test_accuracy_pct": round(100 * result.test_accuracy, 2),
    }


def ensemble_of_top(sweep: Sweep, dataset) -> dict:
    """The top-k complete trials' models averaged, against the best of them, on the test set."""
    from core.ensemble import build_ensemble
    from core.sweep import trial_rows

    store = sweep.store
    rows = trial_rows(sweep.sweep.study)
    top = sorted((r for r in rows if r.state == "complete"), key=lambda r: r.value, reverse=True)[:TOP_K]
    models = [store.load_model(row.run_id) for row in top]
    member_accuracy = [float(np.mean(m.predict(dataset.x_test, verbose=0).argmax(1) == dataset.y_test)) for m in models]
    probabilities = build_ensemble(models).predict(dataset.x_test, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(1) == dataset.y_test))
    best_member = max(member_accuracy)
    return {
        "how": "core.ensemble.build_ensemble (one Keras model averaging its members)",
        "members": [row.number for row in top],
        "member_test_accuracy_pct": [round(100 * a, 2) for a in member_accuracy],
        "ensemble_test_accuracy_pct": round(100 * accuracy, 2),
        "gain_over_best_member_points": round(100 * (accuracy - best_member), 2),
        "goal_beats_best_member": accuracy > best_member,
    }


def main(argv: list[str] | None = None) -> int:
    from core.sweep import PRUNERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(SPEC))
    parser.add_argument("--trials", type=int, help="override the spec's trial count")
    parser.add_argument("--epochs", type=int, help="override the spec's epochs")
    parser.add_argument("--train-size", type=int, help="override the spec's training subset (images)")
    parser.add_argument("--seed", type=int, help="override the spec's sampler seed (which trials each sweep draws)")
    parser.add_argument(
        "--pruner", choices=[rule for rule in PRUNERS if rule != "none"], help="override the spec's pruner"
    )
    parser.add_argument(
        "--test-size", type=int, help="score trials on the first N test images (the ensemble always uses all)"
    )
    parser.add_argument(
        "--skip-default", action="store_true", help="do not train the default recipe (the first trial then starts cold)"
    )
    args = parser.parse_args(argv)

    from core.datasets import load_dataset
    from core.sweep import load_spec

    spec = load_spec(args.spec)
    if args.trials:
        spec = replace(spec, trials=args.trials)
    if args.seed is not None:
        spec = replace(spec, seed=args.seed)
    if args.pruner:
        spec = replace(spec, pruner=args.pruner)
    for key, value in (("epochs", args.epochs), ("train_size", args.train_size)):
        if value:
            spec = replace(spec, base=(*[(k, v) for k, v in spec.base if k != key], (key, value)))
    full = load_dataset(spec.dataset)
    dataset = with_test_subset(full, args.test_size)
    log(f"Data: {dataset.source}")
    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    report: dict = {
        "bench": "sweep",
        "machine": machine_info(),
        "data": dataset.source,
        "spec": spec.to_dict(),
        "options": vars(args),
    }

    if not args.skip_default:
        # First: it also warms the file cache and the training process pool, so neither sweep's first
        # trial pays for a cold start.
        log("The default recipe on the sweep's terms…")
        default = default_recipe(spec, dataset, root)
        report["default_recipe"] = default
        save(report)
    log("The sweep with and without pruning, interleaved trial by trial…")
    pruned_sweep, unpruned_sweep = run_interleaved(spec, dataset, root)
    pruned, unpruned = pruned_sweep.figures(), unpruned_sweep.figures()
    saved = 1 - pruned["wall_s"] / unpruned["wall_s"]
    difference = pruned["best_val_accuracy_pct"] - unpruned["best_val_accuracy_pct"]
    report["pruning"] = {
        "with_pruning": pruned,
        "without_pruning": unpruned,
        "wall_time_saved_pct": round(100 * saved, 1),
        "trial_by_trial": paired_seconds(pruned, unpruned),
        "best_val_accuracy_difference_points": round(difference, 2),
        "goal_saves_30pct_at_equal_best": saved >= 0.30 and abs(difference) <= EQUAL_WITHIN_POINTS,
    }
    log(json.dumps({"pruning": {k: v for k, v in report["pruning"].items() if "with" not in k}}))
    if not args.skip_default:
        report["best_trial_vs_default"] = {
            "best_trial_test_accuracy_pct": pruned["best_test_accuracy_pct"],
            "best_trial_params": pruned["best_params"],
            "difference_points": round(pruned["best_test_accuracy_pct"] - default["test_accuracy_pct"], 2),
            "note": "the default recipe trained on the sweep's own terms (subset, epochs, weight averaging), on the "
            "same test images",
        }
    save(report)
    log("Top-3 ensemble…")
    try:
        report["ensemble"] = ensemble_of_top(pruned_sweep, full)
    except Exception as error:  # report what was measured even if this last part fails
        report["ensemble"] = {"error": f"{type(error).__name__}: {error}"}
    report["runs_folder"] = str(root)
    print(save(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
