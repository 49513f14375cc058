"""Typed training settings, serialised with every run next to the `ModelSpec`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Optimizer = Literal["adam", "adamw", "sgd"]
Schedule = Literal["constant", "cosine", "one_cycle", "plateau"]

OPTIMIZERS: dict[str, str] = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD with momentum"}
SCHEDULES: dict[str, str] = {
    "constant": "Constant",
    "cosine": "Cosine with warm-up",
    "one_cycle": "One-cycle",
    "plateau": "Reduce on plateau",
}
MAX_EPOCHS = 200
# The learning rates the app offers, before training and live: roughly x3 apart, as people tune them.
LEARNING_RATE_CHOICES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2, 1e-1)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: data, optimiser, schedule, and the knobs that decide when to stop."""

    dataset: str = "fashion_mnist"
    epochs: int = 3
    batch_size: int = 128
    optimizer: Optimizer = "adam"
    learning_rate: float = 3e-3
    schedule: Schedule = "one_cycle"
    warmup_epochs: float = 0.3
    # Decoupled weight decay, used by AdamW only (L2 on the weights is a model setting).
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    # Stop when validation loss has not improved for this many epochs (0 = never), keeping the best weights.
    early_stopping_patience: int = 0
    validation_split: float = 0.1
    # Train on a stratified subset of this many images (None = all of them).
    train_size: int | None = None
    seed: int = 0
    # Validate, stop early and keep a moving average of the weights rather than the last step's
    # (see core/training/averaging.py).
    average_weights: bool = False
    # Float16 compute with float32 weights; only ever used on a GPU.
    mixed_precision: bool = False

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.epochs <= MAX_EPOCHS, f"Epochs must be 1-{MAX_EPOCHS}, got {self.epochs}."),
            (1 <= self.batch_size <= 4096, f"Batch size must be 1-4096, got {self.batch_size}."),
            (self.optimizer in OPTIMIZERS, f"Optimizer must be one of {', '.join(OPTIMIZERS)}."),
            (self.schedule in SCHEDULES, f"Schedule must be one of {', '.join(SCHEDULES)}."),
            (0 < self.learning_rate <= 10, f"Learning rate must be above 0 and at most 10, got {self.learning_rate}."),
            (0 <= self.warmup_epochs <= MAX_EPOCHS, "Warm-up must be a non-negative number of epochs."),
            (0 <= self.weight_decay < 1, "Weight decay must be 0 to below 1."),
            (0 <= self.label_smoothing < 1, f"Label smoothing must be 0 to below 1, got {self.label_smoothing}."),
            (self.early_stopping_patience >= 0, "Early-stopping patience cannot be negative."),
            (0 < self.validation_split < 0.5, f"Validation split must be 0-0.5, got {self.validation_split}."),
            (self.train_size is None or self.train_size >= 20, "A training subset needs at least 20 images."),
            (self.seed >= 0, "The seed cannot be negative."),
            (isinstance(self.average_weights, bool), "Weight averaging is on or off (true or false)."),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild from `to_dict` output, refusing unknown keys."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"Unknown TrainConfig setting(s): {', '.join(sorted(unknown))}.")
        return cls(**data)
