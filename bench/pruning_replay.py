"""Pruning rules replayed on recorded trials: which trials each rule stops, when, and what that saves.

`bench/sweep.py` records every trial's validation accuracy after each epoch. The sweep without
pruning ran every trial to the end, so its curves show what each rule would have done to the same
trials: Optuna's own pruners judge the curves in trial order, as they would live. What this leaves
out is the sampler's answer to a pruned trial (a real pruned sweep then draws other trials), which
is why the goal is still measured on real sweeps; this is for choosing which rule to measure.

    .venv/bin/python -m bench.pruning_replay /tmp/bench-results/sweep-seed-*.json

It also gives ceilings on the same trials: what stopping after epoch 1 could save at best while keeping
the best trial, for a rule that must be sure of that without knowing later trials (safe) and for one
that knows them all (foresight).

A trial's time is modelled from its own wall time without pruning: a fixed part (process, data,
tracing, saving), its epochs, and the scoring a pruned trial skips. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
from scipy.stats import spearmanr

from bench.sweep import SPEC, paired_trials
from core.sweep import SweepSpec, load_spec
from core.sweep.study import make_pruner

# Seconds of each trial that do not shrink with its epochs: the first epoch's ~2 s of tracing, and the start,
# data and saving around training. Then the scoring a pruned trial skips: 10,000 test images and the drawn sets.
# Fitted with `model_check` on seeds 3 and 4's four pruned twins since the training process leaves without
# its teardown and a pruned trial's part-epoch is not validated (118de58): 44.5 s modelled, 45.1 s measured.
FIXED_S = 4.0
SCORING_S = 3.3
# A prune lands within a poll of the epoch's report, while the next epoch has begun.
STOP_LAG_EPOCHS = 0.3
EQUAL_WITHIN = 0.003


def app_rule(name: str) -> Callable[[], optuna.pruners.BasePruner]:
    """One of the app's own pruners (core.sweep.make_pruner), as the bench's quick sweep gets it."""
    return lambda: make_pruner(replace(quick_spec(), pruner=name))


@functools.cache
def quick_spec() -> SweepSpec:
    return load_spec(SPEC)


# The app's own rules judge from the first epoch on the quick sweep, whose trials train on averaged weights.
RULES: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
    "median from epoch 1, after 3 complete (the app's Median, the default)": app_rule("median"),
    "median from epoch 1, after 5 complete": lambda: optuna.pruners.MedianPruner(5, 0),
    "median from epoch 2, after 3 complete": lambda: optuna.pruners.MedianPruner(3, 1),
    "median from epoch 3, after 3 complete": lambda: optuna.pruners.MedianPruner(3, 2),
    "lowest third from epoch 1, after 3 complete (the app's Lowest third)": app_rule("percentile"),
    # Optuna's percentile is the share kept: 66.7 prunes a trial below the finished trials' lowest third.
    "lowest third from epoch 2, after 3 complete": lambda: optuna.pruners.PercentilePruner(66.7, 3, 1),
    "top third only from epoch 1, after 2 complete (the app's Top third only)": app_rule("top_third"),
    "top third only from epoch 1, after 3 complete": lambda: optuna.pruners.PercentilePruner(33.3, 3, 0),
    "top quarter only from epoch 1, after 3 complete": lambda: optuna.pruners.PercentilePruner(25.0, 3, 0),
    "hyperband (the app's)": app_rule("hyperband"),
}


def replay(curves: list[list[float]], pruner: optuna.pruners.BasePruner) -> list[int | None]:
    """For each curve in trial order, the epoch after which the pruner stops it (None: it runs to the end)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # A fixed name: Hyperband assigns each trial its bracket by hashing the study name and trial number.
    study = optuna.create_study(study_name="replay", direction="maximize", pruner=pruner)
    stopped = []
    for curve in curves:
        trial = study.ask()
        pruned_at = None
        for step, value in enumerate(curve):
            trial.report(value, step)
            # As core.sweep.trial: the last epoch is never pruned.
            if step + 1 < len(curve) and trial.should_prune():
                pruned_at = step + 1
                break
        if pruned_at is None:
            study.tell(trial, curve[-1])
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        stopped.append(pruned_at)
    return stopped


def trial_seconds(wall_s: float, epochs: int, pruned_at: int | None) -> float:
    """The modelled wall time of a trial that took `wall_s` unpruned, stopped after `pruned_at` epochs."""
    if pruned_at is None:
        return wall_s
    per_epoch = max(wall_s - FIXED_S - SCORING_S, 0.0) / epochs
    return FIXED_S + min(pruned_at + STOP_LAG_EPOCHS, epochs) * per_epoch


def unpruned_trials(report: dict) -> tuple[list[dict], list[list[float]]]:
    """The sweep without pruning's finished trials in order, and each one's validation accuracy by epoch."""
    recorded = report["pruning"]["without_pruning"]["trials"]
    trials = sorted((row for row in recorded if row["state"] == "complete"), key=lambda row: row["number"])
    curves = [row.get("val_accuracy_by_epoch") for row in trials]
    if not trials or not all(curves):
        raise SystemExit("No curves recorded: run a bench/sweep.py that records them.")
    return trials, curves


def judge(report: dict, rule: str) -> dict:
    """One rule on one recorded sweep: time saved, and whether the best trial is still found."""
    trials, curves = unpruned_trials(report)
    stopped = replay(curves, RULES[rule]())
    before = sum(row["wall_s"] for row in trials)
    rows = list(zip(trials, curves, stopped, strict=True))
    after = sum(trial_seconds(row["wall_s"], len(curve), at) for row, curve, at in rows)
    best = max(row["val_accuracy"] for row in trials)
    kept = max((row["val_accuracy"] for row, _, at in rows if at is None), default=0.0)
    return {
        "saved_pct": round(100 * (1 - after / before), 1),
        "pruned": sum(at is not None for at in stopped),
        "pruned_at_epochs": [at for at in stopped if at is not None],
        "best_kept_minus_best_points": round(100 * (kept - best), 2),
        "equal_best": best - kept <= EQUAL_WITHIN,
    }


def ceilings(report: dict) -> dict:
    """Bounds on what stopping trials after epoch 1 could save on these trials, granting a rule each trial's end.

    Safe: sure to keep the best while later trials are unknown, a rule lets every trial that ends as the
    best so far run on (within the goal's allowance: every one ending more than 0.3 points above the best
    kept so far); every other stops after epoch 1, however close. Foresight: only the first trial to reach
    the final best runs on. Both move with the trials' wall times, which are noisy (bench/README.md).
    """
    trials, curves = unpruned_trials(report)
    best = max(row["val_accuracy"] for row in trials)

    def saved(runs_on: Callable[[float, float], bool]) -> float:
        kept, seconds = 0.0, 0.0
        for row, curve in zip(trials, curves, strict=True):
            if runs_on(row["val_accuracy"], kept):
                seconds += row["wall_s"]
                kept = max(kept, row["val_accuracy"])
            else:
                seconds += trial_seconds(row["wall_s"], len(curve), 1)
        return round(100 * (1 - seconds / sum(row["wall_s"] for row in trials)), 1)

    return {
        "safe_saved_pct": saved(lambda value, kept: value > kept),
        "safe_within_goal_saved_pct": saved(lambda value, kept: value > kept + EQUAL_WITHIN),
        "foresight_saved_pct": saved(lambda value, kept: value == best > kept),
    }


def model_check(report: dict) -> dict:
    """The time model against the real pruned sweep, on its pruned trials whose unpruned twin had the same settings."""
    modelled, measured = 0.0, 0.0
    pairs = 0
    for row, twin in paired_trials(report["pruning"]["with_pruning"], report["pruning"]["without_pruning"]):
        if row["state"] != "pruned" or not twin.get("val_accuracy_by_epoch"):
            continue  # ran to the end, or a report from before curves were recorded
        pairs += 1
        modelled += trial_seconds(twin["wall_s"], len(twin["val_accuracy_by_epoch"]), len(row["val_accuracy_by_epoch"]))
        measured += row["wall_s"]
    return {"pruned_twins": pairs, "modelled_s": round(modelled, 1), "measured_s": round(measured, 1)}


def unpruned_arm(spec: dict) -> str:
    """The spec of a report's sweep without pruning: the same for reports that compared different pruners."""
    return json.dumps({**spec, "sweep": {**spec["sweep"], "pruner": "none"}}, sort_keys=True)


def rank_agreement(reports: list[dict]) -> dict:
    """How well each epoch's ranking of the unpruned trials foretells the final ranking: Spearman's rho
    over the finished trials of the full length, each sweep's trial counted once however often it was re-run."""
    curves = {
        (unpruned_arm(report["spec"]), row["number"]): row["val_accuracy_by_epoch"]
        for report in reports
        for row in report["pruning"]["without_pruning"]["trials"]
        if row["state"] == "complete" and row.get("val_accuracy_by_epoch")
    }
    epochs = max(map(len, curves.values()), default=0)
    values = np.array([curve for curve in curves.values() if len(curve) == epochs])
    figures = {"curves": len(values), "left_out_shorter": len(curves) - len(values)}
    if len(values) < 3:
        return figures
    rho = spearmanr(values).statistic  # tied accuracies share their average rank
    figures["rho_with_final_by_epoch"] = {epoch + 1: round(float(rho[epoch, -1]), 2) for epoch in range(epochs - 1)}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="sweep-seed-N.json files from bench/sweep.py")
    args = parser.parse_args(argv)
    reports = {path.name: json.loads(path.read_text()) for path in args.reports}
    result = {
        "model": {"fixed_s": FIXED_S, "scoring_s": SCORING_S, "stop_lag_epochs": STOP_LAG_EPOCHS},
        "measured": {
            name: {
                "pruner": report["spec"]["sweep"]["pruner"],
                "saved_pct": report["pruning"]["wall_time_saved_pct"],
                "best_difference_points": report["pruning"]["best_val_accuracy_difference_points"],
                "time_model_check": model_check(report),
            }
            for name, report in reports.items()
        },
        "ranking_by_epoch": rank_agreement(list(reports.values())),
        "ceilings": {name: ceilings(report) for name, report in reports.items()},
        "replayed": {rule: {name: judge(report, rule) for name, report in reports.items()} for rule in RULES},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
