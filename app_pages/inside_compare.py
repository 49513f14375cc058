"""The Inside page's dataset comparison: one recipe trained on MNIST and on Fashion-MNIST, side by side."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app_pages.access_gate import current_caller
from app_pages.resources import (
    ACTIVE_RUN_KEY,
    JOB_KEY,
    ChosenModel,
    run_evaluation,
    run_store,
    starter_key,
    starter_predictor,
    test_set_evaluation,
    training_scheduler,
)
from app_pages.sidebar import data_folder
from core.access import AccessDenied
from core.architectures import ModelSpec
from core.datasets import DATASETS, Dataset, DatasetError, load_dataset
from core.ensemble import is_ensemble
from core.evaluation import Evaluation, most_confused_pairs
from core.figures.evaluation import class_scores_figure
from core.insight.comparison import twin_runs
from core.pretrained import PretrainedError, pretrained_model
from core.runs.store import RunStoreError, RunSummary
from core.training import TrainConfig, TrainingJob
from core.training.presets import PRESETS
from core.training.scheduler import QueueFull


@dataclass(frozen=True)
class Side:
    """One half of the comparison: a model's test-set answers on one dataset, and what it learned from."""

    dataset: Dataset
    evaluation: Evaluation
    model: str
    trained_on: str | None = None

    def describe(self) -> str:
        """Which model, and on which data it learned and was tested."""
        if self.trained_on == self.dataset.source:
            return f"{self.model}, trained and tested on the {self.dataset.source}."
        trained = f", trained on the {self.trained_on};" if self.trained_on else ","
        return f"{self.model}{trained} tested on the {self.dataset.source}."


def render(dataset: Dataset, chosen: ChosenModel, image) -> None:
    """Your twin runs side by side, or the shipped starter twins until you have some."""
    if dataset.info.custom:
        st.info(
            f"This view compares one recipe trained on MNIST and on Fashion-MNIST, so it does not apply to "
            f"{dataset.info.display_name}. Pick MNIST or Fashion-MNIST in the sidebar to see it; to compare runs "
            "on your own classes, use the Runs page.",
            icon=":material/info:",
        )
        return
    pairs = twin_runs(run_store().list_runs())
    if pairs:
        picked = st.selectbox("Recipe", range(len(pairs)), format_func=lambda i: pair_label(pairs[i]), key="twin_pair")
        render_sides([run_side(run) for run in pairs[picked]], starters=False)
    else:
        st.info("None of your runs has been trained on both datasets yet, so here are the shipped starter models: "
                "the *Reads drawings too* recipe, one trained on each dataset (clothing with a wider model and "
                "fewer, longer epochs). Train your own pair to compare one "
                "recipe exactly.", icon=":material/compare_arrows:")  # fmt: skip
        render_sides([starter_side(name) for name in DATASETS], starters=True)
    offer_twin_training(dataset)


def pair_label(pair: tuple[RunSummary, RunSummary]) -> str:
    mnist, fashion = pair
    seed = mnist.config.get("training", {}).get("seed")
    return f"{mnist.architecture} · seed {seed} · {mnist.run_id} / {fashion.run_id}"


def render_sides(sides: list[Side | None], starters: bool) -> None:
    """The two datasets in columns, then what the gap between them means."""
    for column, side in zip(st.columns(2, gap="large"), sides, strict=True):
        with column:
            if side is not None:
                render_side(side)
    if None in sides:
        return
    mnist, fashion = (side.evaluation.accuracy for side in sides)
    gap = mnist - fashion
    # The starters are two networks (the clothing one wider, trained otherwise): not "the same network".
    subject, than = "The clothing starter", "the digit starter on MNIST"
    if not starters:
        subject, than = "The same recipe", "on MNIST"
    st.markdown(
        f"{subject} is **{100 * abs(gap):.1f} points** {'less' if gap > 0 else 'more'} accurate on Fashion-MNIST "
        f"than {than}. Digits differ in shape; clothes often do not: shirts, T-shirts, pullovers and coats "
        "share a silhouette at 28x28, and their textures are mostly lost. The confused pairs show where."
    )


def run_side(run: RunSummary) -> Side | None:
    try:
        data = load_dataset(run.dataset, data_folder())
        return Side(data, run_evaluation(run, data), f"Your run `{run.run_id}`")
    except (DatasetError, RunStoreError) as error:
        st.error(str(error))
        return None


def starter_side(dataset_name: str) -> Side | None:
    try:
        data = load_dataset(dataset_name, data_folder())
        starter = pretrained_model(dataset_name)
        model = starter_predictor(dataset_name, starter.sha256).model
        evaluation = test_set_evaluation(starter_key(starter), data.source, model, data)
    except (DatasetError, PretrainedError) as error:
        st.error(str(error))
        return None
    return Side(data, evaluation, "The starter model", starter.trained_on)


def render_side(side: Side) -> None:
    names = side.dataset.class_names
    st.subheader(side.dataset.info.display_name)
    st.caption(side.describe())
    st.metric("Test accuracy", f"{100 * side.evaluation.accuracy:.2f} %")
    st.plotly_chart(class_scores_figure(side.evaluation.scores, names),
                    key=f"twin_scores_{side.dataset.name}")  # fmt: skip
    rows = [(names[t], names[p], n) for t, p, n in most_confused_pairs(side.evaluation.confusion, 5)]
    st.dataframe(pd.DataFrame(rows, columns=["true", "predicted as", "images"]), hide_index=True,
                 key=f"twin_pairs_{side.dataset.name}")  # fmt: skip


def offer_twin_training(dataset: Dataset) -> None:
    """Buttons that train one recipe on the other dataset (the active run's) or on both (the default's)."""
    run_id = st.session_state.get(ACTIVE_RUN_KEY)
    run = None
    if run_id:
        try:
            run = run_store().get(run_id)
        except RunStoreError:
            run = None
    if run is not None and is_ensemble(run):
        st.caption("The active model is an ensemble: it has no recipe of its own to train on the other dataset. "
                   "Make one of its members active to train that recipe there.")  # fmt: skip
        return
    if run is not None:
        other = next(name for name in DATASETS if name != run.dataset)
        if st.button(f"Train this recipe on {DATASETS[other].display_name}", key="train_twin",
                     icon=":material/compare_arrows:"):  # fmt: skip
            start_jobs(run.config.get("model", {}), run.config.get("training", {}), [other])
        return
    preset = PRESETS["default"]
    if st.button("Train the default recipe on both datasets", key="train_both", icon=":material/compare_arrows:",
                 help=preset.description):  # fmt: skip
        start_jobs(preset.spec.to_dict(), preset.config.to_dict(), list(DATASETS))


def start_jobs(model: dict, training: dict, datasets: list[str]) -> None:
    """Queue one training job per dataset with the same model and settings; this session follows the last."""
    jobs = []
    try:
        for name in datasets:
            data = load_dataset(name, data_folder())
            spec = ModelSpec.from_dict(model).for_dataset(name)
            config = TrainConfig.from_dict({**training, "dataset": name})
            saver = run_store().saver(data.source, current_caller().owner)
            jobs.append(TrainingJob(data, spec, config, on_finish=saver, isolated=True))
    except (DatasetError, KeyError, TypeError, ValueError) as error:
        st.error(f"This recipe cannot be trained: {error}")
        return
    try:
        training_scheduler().submit_together(jobs, by=current_caller())
        st.session_state[JOB_KEY] = jobs[-1].id
    except (AccessDenied, QueueFull) as refusal:
        st.error(str(refusal), icon=":material/hourglass_disabled:")
        return
    names = " and ".join(DATASETS[name].display_name for name in datasets)
    st.success(f"Training the same recipe on {names}; follow it on the Train page. "
               "The comparison appears here when it is done.", icon=":material/model_training:")  # fmt: skip
    st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")
