"""A typed sweep spec: which settings vary over what, how many trials, and how Optuna samples and prunes.

Loaded from TOML (`load_spec`) or built by the Sweep page; stored as a plain dict on the study, so a
worker on another machine needs only the storage URL and the study name.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from core.architectures import ARCHITECTURES, ModelSpec
from core.datasets import dataset_info
from core.training.config import MAX_EPOCHS, OPTIMIZERS, SCHEDULES, TrainConfig
from core.training.presets import PRESETS

Sampler = Literal["tpe", "random", "grid"]
Pruner = Literal["median", "percentile", "top_third", "hyperband", "none"]
SAMPLERS = {"tpe": "TPE (learns from earlier trials)", "random": "Random", "grid": "Grid (every combination)"}
PRUNERS = {
    "median": "Median",
    "percentile": "Lowest third",
    "top_third": "Top third only",
    "hyperband": "Hyperband",
    "none": "None",
}
MAX_TRIALS = 1000

# Every setting a sweep can vary or fix, and the range a value must lie in (None: a choice list).
# "augmentation" is one strength from 0 to 1 scaling rotation, shift and zoom together.
SETTINGS: dict[str, tuple[float, float] | None] = {
    "dropout": (0.0, 0.95),
    "learning_rate": (1e-6, 10.0),
    "epochs": (1, MAX_EPOCHS),
    "batch_size": (1, 4096),
    "architecture": None,
    "width": (0.25, 4.0),
    "batch_norm": None,
    "l2": (0.0, 1.0),
    "augmentation": (0.0, 1.0),
    "drawings": (0.0, 1.0),
    "label_smoothing": (0.0, 0.5),
    "optimizer": None,
    "schedule": None,
}
INTEGER_SETTINGS = {"epochs", "batch_size"}
CHOICE_SETTINGS = {"architecture": tuple(ARCHITECTURES), "optimizer": tuple(OPTIMIZERS), "schedule": tuple(SCHEDULES)}
# At full augmentation strength: degrees of rotation, and fractions of the size for shift and zoom.
FULL_ROTATION, FULL_SHIFT, FULL_ZOOM = 15.0, 0.12, 0.12
# Fixed settings a sweep's [base] may give besides the ones above. Weight averaging is never varied:
# the pruner's first judged epoch depends on it (make_pruner), and trials on and off it rank unlike.
BASE_ONLY = {"preset", "train_size", "seed", "validation_split", "average_weights"}
# A spec file that does not say otherwise has its trials judged on averaged weights, as the Sweep page's
# toggle does; a study keeps what it was made with, and one stored without the setting stays off it.
AVERAGE_WEIGHTS_BY_DEFAULT = True


class SpecError(ValueError):
    """A sweep spec that cannot be used; the message says what is wrong and where, in one line."""


@dataclass(frozen=True)
class Param:
    """One varied setting: a range (`low`..`high`, optionally log-scaled or stepped) or a list of choices."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.name not in SETTINGS:
            raise SpecError(f"params.{self.name}: unknown setting; use one of {', '.join(SETTINGS)}.")
        if self.choices:
            for value in self.choices:
                _check_value(self.name, value, f"params.{self.name}.choices")
            if len(set(self.choices)) != len(self.choices):
                raise SpecError(f"params.{self.name}.choices: a choice is listed twice.")
            return
        if SETTINGS[self.name] is None:
            raise SpecError(f"params.{self.name}: give `choices = [...]` (it has no numeric range).")
        if self.low is None or self.high is None:
            raise SpecError(f"params.{self.name}: give `low` and `high`, or `choices = [...]`.")
        _check_value(self.name, self.low, f"params.{self.name}.low")
        _check_value(self.name, self.high, f"params.{self.name}.high")
        if not self.low < self.high:
            raise SpecError(f"params.{self.name}: low ({self.low:g}) must be below high ({self.high:g}).")
        if self.log and self.low <= 0:
            raise SpecError(f"params.{self.name}: a log range must start above 0, got low = {self.low:g}.")
        if self.log and self.step is not None:
            raise SpecError(f"params.{self.name}: a range is either log-scaled or stepped, not both.")
        if self.step is not None and not 0 < self.step <= self.high - self.low:
            raise SpecError(f"params.{self.name}: step must be above 0 and at most high - low.")

    @property
    def is_integer(self) -> bool:
        return self.name in INTEGER_SETTINGS

    def grid_values(self) -> tuple[Any, ...]:
        """The values a grid search tries: the choices, or the stepped range."""
        if self.choices:
            return self.choices
        if self.step is None:
            raise SpecError(f"params.{self.name}: a grid needs `choices` or a `step` for every setting.")
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        values = [self.low + i * self.step for i in range(count)]
        return tuple(round(v) if self.is_integer else round(v, 10) for v in values)

    def to_dict(self) -> dict[str, Any]:
        if self.choices:
            return {"choices": list(self.choices)}
        data: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            data["log"] = True
        if self.step is not None:
            data["step"] = self.step
        return data


@dataclass(frozen=True)
class SweepSpec:
    """What a study searches: the dataset, fixed settings, varied settings, trial count, sampler and pruner."""

    dataset: str = "fashion_mnist"
    params: tuple[Param, ...] = ()
    base: tuple[tuple[str, Any], ...] = (("preset", "quick"),)
    trials: int = 12
    sampler: Sampler = "tpe"
    pruner: Pruner = "median"
    seed: int = 0
    description: str = ""
    # Trial N trains with the base seed + N: its own starting weights, batch order and augmentation
    # (every trial still trains and validates on the same images), so an ensemble of the best is more
    # diverse. Off, the trials differ in their settings alone.
    trial_seeds: bool = False

    def __post_init__(self) -> None:
        try:
            dataset_info(self.dataset)  # built in, or one a user made
        except ValueError as error:
            raise SpecError(f"sweep.dataset: {error}") from None
        if not self.params:
            raise SpecError("params: vary at least one setting, e.g. [params.dropout] low = 0.0, high = 0.5.")
        names = [param.name for param in self.params]
        if len(set(names)) != len(names):
            raise SpecError("params: a setting is listed twice.")
        if not 1 <= self.trials <= MAX_TRIALS:
            raise SpecError(f"sweep.trials must be 1-{MAX_TRIALS}, got {self.trials}.")
        if self.sampler not in SAMPLERS:
            raise SpecError(f"sweep.sampler: use one of {', '.join(SAMPLERS)}, not {self.sampler!r}.")
        if self.pruner not in PRUNERS:
            raise SpecError(f"sweep.pruner: use one of {', '.join(PRUNERS)}, not {self.pruner!r}.")
        if self.seed < 0:
            raise SpecError("sweep.seed cannot be negative.")
        if not isinstance(self.trial_seeds, bool):
            raise SpecError(f"sweep.trial_seeds is true or false, got {self.trial_seeds!r}.")
        if self.sampler == "grid":
            for param in self.params:
                param.grid_values()
        for key, value in self.base:
            if key == "preset":
                if value not in PRESETS:
                    raise SpecError(f"base.preset: unknown preset {value!r}; use one of {', '.join(PRESETS)}.")
            elif key == "average_weights":
                if not isinstance(value, bool):
                    raise SpecError(f"base.average_weights is true or false, got {value!r}.")
            elif key in BASE_ONLY:
                pass
            elif key in SETTINGS:
                _check_value(key, value, f"base.{key}")
            else:
                raise SpecError(f"base.{key}: unknown setting; use preset, {', '.join([*SETTINGS, *BASE_ONLY])}.")
        # Building the first grid point (or the range ends) catches combinations the engine refuses.
        try:
            self.settings({param.name: _sample_value(param) for param in self.params})
        except ValueError as error:
            raise SpecError(f"These settings cannot be trained: {error}") from None

    def settings(self, values: dict[str, Any]) -> tuple[ModelSpec, TrainConfig]:
        """The model spec and training config of one trial: the base settings with `values` on top."""
        fixed = dict(self.base)
        preset = PRESETS[fixed.pop("preset", "quick")].for_dataset(self.dataset)
        chosen = {**fixed, **values}
        spec, config = preset.spec, preset.config
        architecture = chosen.get("architecture", spec.architecture)
        if architecture != spec.architecture:
            spec = ModelSpec(architecture, augmentation=spec.augmentation)
        augmentation = spec.augmentation
        if "augmentation" in chosen:
            strength = float(chosen["augmentation"])
            augmentation = replace(
                augmentation,
                rotation_degrees=FULL_ROTATION * strength,
                shift_fraction=FULL_SHIFT * strength,
                zoom_fraction=FULL_ZOOM * strength,
            )
        if "drawings" in chosen:
            augmentation = replace(augmentation, drawing_rate=float(chosen["drawings"]))
        spec = replace(
            spec,
            augmentation=augmentation,
            **_pick(chosen, dropout=float, l2=float, batch_norm=bool, width=float),
        ).for_dataset(self.dataset)
        config = replace(
            config,
            dataset=self.dataset,
            **_pick(
                chosen, epochs=int, batch_size=int, learning_rate=float, label_smoothing=float, optimizer=str,
                schedule=str, train_size=lambda v: int(v) or None, seed=int, validation_split=float,
                average_weights=bool,
            ),
        )  # fmt: skip
        return spec, config

    @property
    def max_epochs(self) -> int:
        """The most epochs any trial trains: the pruners' budget."""
        param = next((p for p in self.params if p.name == "epochs"), None)
        if param is not None:
            return int(max(param.choices) if param.choices else param.high)
        return self.settings({})[1].epochs

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep": {
                "dataset": self.dataset, "trials": self.trials, "sampler": self.sampler, "pruner": self.pruner,
                "seed": self.seed, "description": self.description, "trial_seeds": self.trial_seeds,
            },
            "base": dict(self.base),
            "params": {param.name: param.to_dict() for param in self.params},
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        """Build from TOML-shaped data (`to_dict` output); SpecError names the first problem."""
        if not isinstance(data, dict):
            raise SpecError("A sweep spec is a table with [sweep], [base] and [params.NAME] sections.")
        unknown = set(data) - {"sweep", "base", "params"}
        if unknown:
            raise SpecError(f"Unknown section(s) {', '.join(sorted(unknown))}; use [sweep], [base], [params.NAME].")
        sweep = _table(data, "sweep")
        allowed = {"dataset", "trials", "sampler", "pruner", "seed", "description", "trial_seeds"}
        if set(sweep) - allowed:
            raise SpecError(f"sweep.{sorted(set(sweep) - allowed)[0]}: unknown key; use {', '.join(sorted(allowed))}.")
        params = []
        for name, table in _table(data, "params").items():
            if not isinstance(table, dict):
                raise SpecError(f"params.{name}: give a table, e.g. [params.{name}] low = ..., high = ...")
            keys = {"low", "high", "log", "step", "choices"}
            if set(table) - keys:
                raise SpecError(f"params.{name}.{sorted(set(table) - keys)[0]}: unknown key; use {', '.join(keys)}.")
            choices = table.get("choices", ())
            if not isinstance(choices, (list, tuple)):
                raise SpecError(f"params.{name}.choices must be a list, e.g. [0.25, 0.5].")
            params.append(
                Param(
                    name, _number(table, "low", name), _number(table, "high", name), bool(table.get("log", False)),
                    _number(table, "step", name), tuple(choices),
                )
            )  # fmt: skip
        try:
            return cls(
                dataset=str(sweep.get("dataset", "fashion_mnist")),
                params=tuple(params),
                base=tuple(_table(data, "base").items()) or (("preset", "quick"),),
                trials=_integer(sweep, "trials", 12),
                sampler=sweep.get("sampler", "tpe"),
                pruner=sweep.get("pruner", "median"),
                seed=_integer(sweep, "seed", 0),
                description=str(sweep.get("description", "")),
                trial_seeds=sweep.get("trial_seeds", False),
            )
        except TypeError as error:
            raise SpecError(f"The spec has a value of the wrong type ({error}).") from None


def load_spec(path: str | Path) -> SweepSpec:
    """Read a sweep spec from a TOML file; SpecError with the file name and the problem on failure."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot be read ({error}).") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML ({error}).") from None
    base = data.get("base", {})
    if isinstance(base, dict) and "average_weights" not in base:
        data["base"] = {**base, "average_weights": AVERAGE_WEIGHTS_BY_DEFAULT}
    try:
        return SweepSpec.from_dict(data)
    except SpecError as error:
        raise SpecError(f"{path}: {error}") from None


def _sample_value(param: Param) -> Any:
    return param.choices[0] if param.choices else (int(param.low) if param.is_integer else param.low)


def _check_value(name: str, value: Any, where: str) -> None:
    if name in BASE_ONLY:
        return
    if name == "batch_norm":
        if not isinstance(value, bool):
            raise SpecError(f"{where}: batch_norm is true or false, got {value!r}.")
        return
    if name in CHOICE_SETTINGS:
        if value not in CHOICE_SETTINGS[name]:
            raise SpecError(f"{where}: unknown {name} {value!r}; use one of {', '.join(CHOICE_SETTINGS[name])}.")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: expected a number, got {value!r}.")
    if name in INTEGER_SETTINGS and not float(value).is_integer():
        raise SpecError(f"{where}: {name} is a whole number, got {value!r}.")
    low, high = SETTINGS[name]
    if not low <= value <= high:
        raise SpecError(f"{where}: {name} must be {low:g}-{high:g}, got {value:g}.")


def _pick(chosen: dict[str, Any], **casts) -> dict[str, Any]:
    return {name: cast(chosen[name]) for name, cast in casts.items() if name in chosen}


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise SpecError(f"[{name}] must be a table.")
    return table


def _number(table: dict[str, Any], key: str, name: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"params.{name}.{key}: expected a number, got {value!r}.")
    return value


def _integer(table: dict[str, Any], key: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"sweep.{key}: expected a whole number, got {value!r}.")
    return value
