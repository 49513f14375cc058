"""Training: typed settings, the live-controllable `TrainingJob`, and the process-wide scheduler."""

from core.training.config import LEARNING_RATE_CHOICES, OPTIMIZERS, SCHEDULES, TrainConfig
from core.training.engine import TrainingResult
from core.training.job import TrainingJob
from core.training.progress import EpochRecord, Event, JobState, Snapshot
from core.training.scheduler import TrainingScheduler, shared_scheduler

__all__ = [
    "LEARNING_RATE_CHOICES",
    "OPTIMIZERS",
    "SCHEDULES",
    "EpochRecord",
    "Event",
    "JobState",
    "Snapshot",
    "TrainConfig",
    "TrainingJob",
    "TrainingResult",
    "TrainingScheduler",
    "shared_scheduler",
]
