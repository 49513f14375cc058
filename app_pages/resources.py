"""Process-wide resources every page shares: the run store, the scheduler, the model in use, the last input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from app_pages.access_gate import current_caller
from core.datasets import Dataset
from core.runs.store import RunStore, RunStoreError

ACTIVE_RUN_KEY = "active_run_id"
LAST_INPUT_KEY = "last_input"
# This session's latest training job.
JOB_KEY = "train_job_id"
# The last of this session's jobs whose finished run was made the active model (each is adopted once).
ADOPTED_JOB_KEY = "adopted_train_job_id"


@st.cache_resource(show_spinner=False)
def run_store() -> RunStore:
    """The store under EXPLORER_RUNS_DIR (or ./runs), opened once per process."""
    return RunStore()


def activate_run(run_id: str | None) -> None:
    """Widget callback: make a run the model every page uses."""
    st.session_state[ACTIVE_RUN_KEY] = run_id
    keep_picked_run()


def keep_picked_run() -> None:
    """Widget callback: a model picked by hand stays picked when this session's training job finishes."""
    st.session_state[ADOPTED_JOB_KEY] = st.session_state.get(JOB_KEY)


def adopt_finished_run(dataset_name: str) -> None:
    """Once this session's training job is over, its saved run (of this dataset) becomes the active model.

    Called before the sidebar draws its Active model box: a person who trains a model and opens Predict
    expects their model to answer, not the starter. Each job is adopted once, and not at all if a model
    was picked by hand since it started (`keep_picked_run`), it failed, or someone else started it.
    """
    job_id = st.session_state.get(JOB_KEY)
    if not job_id or st.session_state.get(ADOPTED_JOB_KEY) == job_id:
        return  # no job yet: nothing to look up (and the scheduler, which loads TensorFlow, is left alone)
    job = training_scheduler().find(job_id)
    if job is None or not job.wait(0):  # over, with its result
        return
    from core.training import JobState  # loaded already: the job trained with it

    st.session_state[ADOPTED_JOB_KEY] = job_id
    # A failed run is kept to read why, not to answer; an admin following another person's job by its link
    # has not trained it.
    usable = job.result.saved_run_id and job.result.state is not JobState.FAILED
    if usable and job.config.dataset == dataset_name and job.owner == current_caller().owner:
        st.session_state[ACTIVE_RUN_KEY] = job.result.saved_run_id


def training_scheduler():
    """The scheduler that caps how many jobs train at once in this process, and how many may wait."""
    # Imported here: TensorFlow loads with it, and pages that never train should not wait for that.
    from app_pages.access_gate import access_settings
    from core.training import shared_scheduler

    scheduler = shared_scheduler()
    scheduler.max_queue = access_settings().max_queue  # the same settings the sign-in reads
    return scheduler


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_run_model(run_id: str, model_sha256: str):
    """A run's model, loaded once per process; the hash in the key means a changed file is never served stale."""
    return run_store().load_model(run_id)


def model_key(run) -> str:
    """The key insight caches use for a run's model: it changes whenever the model file does."""
    return f"run:{run.run_id}:{run.model_sha256}"


def starter_key(starter) -> str:
    """The insight caches' key for a shipped starter model (a core.pretrained.PretrainedModel)."""
    return f"starter:{starter.dataset}:{starter.sha256}"


@st.cache_resource(show_spinner="Preparing the model…", max_entries=6)
def run_predictor(run_id: str, model_sha256: str):
    from core.inference import Predictor

    return Predictor(load_run_model(run_id, model_sha256))


@st.cache_resource(show_spinner="Preparing the starter model…", max_entries=2)
def starter_predictor(dataset_name: str, model_sha256: str):
    from core.inference import Predictor
    from core.pretrained import load_pretrained

    return Predictor(load_pretrained(dataset_name))


@dataclass(frozen=True)
class ChosenModel:
    """The model the pages work with, how to name it, and a key that changes whenever the model does."""

    predictor: object  # core.inference.Predictor
    label: str
    key: str

    @property
    def model(self):
        return self.predictor.model


@dataclass(frozen=True)
class LastInput:
    """The 28x28 image the Predict page last showed a prediction for."""

    dataset: str
    image: np.ndarray
    origin: str


def choose_model(dataset: Dataset) -> ChosenModel | None:
    """The active run's model, or the shipped starter model until the user picks one of theirs."""
    from core.pretrained import PretrainedError, pretrained_model

    run_id = st.session_state.get(ACTIVE_RUN_KEY)
    try:
        if run_id:
            run = run_store().get(run_id)
            return ChosenModel(
                run_predictor(run.run_id, run.model_sha256),
                f"your run `{run.run_id}` ({run.label})",
                model_key(run),
            )
        starter = pretrained_model(dataset.name)
        label = (f"the starter model ({100 * starter.test_accuracy:.1f} % test accuracy, trained on the "
                 f"{starter.trained_on}); train your own to replace it")  # fmt: skip
        return ChosenModel(starter_predictor(dataset.name, starter.sha256), label, starter_key(starter))
    except (RunStoreError, PretrainedError) as error:
        st.error(f"No model to work with: {error}")
        return None


@st.cache_data(show_spinner="Evaluating the test set…", max_entries=8)
def test_set_evaluation(model_key: str, dataset_source: str, _model, _dataset: Dataset):
    """A model's predictions for every test image, computed once per model and data source."""
    from core.evaluation import evaluate_model

    return evaluate_model(_model, _dataset.x_test, _dataset.y_test)


def run_evaluation(run, dataset: Dataset):
    """A saved run's predictions for every test image of `dataset` (loaded and computed once)."""
    return test_set_evaluation(model_key(run), dataset.source, load_run_model(run.run_id, run.model_sha256), dataset)


@st.cache_data(show_spinner="Drawing the test images as people draw them…", max_entries=8)
def drawn_set(dataset_name: str, dataset_source: str, style: str, _dataset: Dataset):
    """A drawn version of the test set (core.drawn_test_set), made once per data source and style."""
    from core.drawn_test_set import drawn_test_set

    return drawn_test_set(dataset_name, _dataset.x_test, _dataset.y_test, style)


@st.cache_data(show_spinner="Reading the drawings…", max_entries=16)
def drawn_set_evaluation(model_key: str, dataset_source: str, style: str, _model, _dataset: Dataset):
    """A model's predictions for one drawn version of the test set, read steadily as Predict reads a drawing."""
    from core.evaluation import evaluate_steadily

    drawn = drawn_set(_dataset.name, dataset_source, style, _dataset)
    return evaluate_steadily(_model, drawn.images, drawn.labels)


@st.cache_data(show_spinner="Reading the same test images…", max_entries=16)
def drawn_sample_evaluation(model_key: str, dataset_source: str, style: str, _model, _dataset: Dataset):
    """A model's predictions for the test images the drawn set was drawn from, read the same (steady) way."""
    from core.evaluation import evaluate_steadily

    sample = drawn_set(_dataset.name, dataset_source, style, _dataset).test_indices
    return evaluate_steadily(_model, _dataset.x_test[sample], _dataset.y_test[sample])
