"""The Inside page's dataset comparison: one recipe trained on MNIST and on Fashion-MNIST, side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.resources import (
    ACTIVE_RUN_KEY,
    JOB_KEY,
    ChosenModel,
    run_evaluation,
    run_store,
    training_scheduler,
)
from app_pages.sidebar import data_folder
from core.architectures import ModelSpec
from core.datasets import DATASETS, Dataset, DatasetError, load_dataset
from core.evaluation import most_confused_pairs, per_class_scores
from core.figures.evaluation import class_scores_figure
from core.insight.comparison import twin_runs
from core.runs.store import RunStoreError, RunSummary
from core.training import TrainConfig, TrainingJob
from core.training.presets import PRESETS


def render(dataset: Dataset, chosen: ChosenModel, image) -> None:
    pairs = twin_runs(run_store().list_runs())
    if not pairs:
        st.info("No recipe has been trained on both datasets yet: train one on both (same architecture, "
                "settings and seed) to see them side by side here.")  # fmt: skip
        offer_twin_training(dataset)
        return
    labels = {index: f"{mnist.architecture} · seed {mnist.config.get('training', {}).get('seed')} · "
                     f"{mnist.run_id} / {fashion.run_id}" for index, (mnist, fashion) in enumerate(pairs)}  # fmt: skip
    chosen_pair = st.selectbox("Recipe", list(labels), format_func=labels.get, key="twin_pair")
    columns = st.columns(2, gap="large")
    accuracies = {}
    for column, run in zip(columns, pairs[chosen_pair], strict=True):
        with column:
            accuracies[run.dataset] = render_side(run)
    if len(accuracies) == 2 and None not in accuracies.values():
        gap = accuracies["mnist"] - accuracies["fashion_mnist"]
        st.markdown(
            f"The same network is **{100 * gap:.1f} points** {'less' if gap > 0 else 'more'} accurate on "
            "Fashion-MNIST. Digits differ in shape; clothes often do not: shirts, T-shirts, pullovers and coats "
            "share a silhouette at 28x28, and their textures are mostly lost. The confused pairs show where."
        )
    offer_twin_training(dataset)


def render_side(run: RunSummary) -> float | None:
    try:
        data = load_dataset(run.dataset, data_folder())
        evaluation = run_evaluation(run, data)
    except (DatasetError, RunStoreError) as error:
        st.error(str(error))
        return None
    st.subheader(data.info.display_name)
    st.metric("Test accuracy", f"{100 * evaluation.accuracy:.2f} %")
    st.plotly_chart(class_scores_figure(per_class_scores(evaluation.confusion), data.class_names),
                    key=f"twin_scores_{run.dataset}")  # fmt: skip
    names = data.class_names
    rows = [(names[t], names[p], n) for t, p, n in most_confused_pairs(evaluation.confusion, 5)]
    st.dataframe(pd.DataFrame(rows, columns=["true", "predicted as", "images"]), hide_index=True,
                 key=f"twin_pairs_{run.dataset}")  # fmt: skip
    return evaluation.accuracy


def offer_twin_training(dataset: Dataset) -> None:
    """Buttons that train one recipe on the other dataset (the active run's) or on both (the default's)."""
    run_id = st.session_state.get(ACTIVE_RUN_KEY)
    run = None
    if run_id:
        try:
            run = run_store().get(run_id)
        except RunStoreError:
            run = None
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
            spec = ModelSpec.from_dict(model)
            config = TrainConfig.from_dict({**training, "dataset": name})
            jobs.append(TrainingJob(data, spec, config, on_finish=run_store().saver(data.source), isolated=True))
    except (DatasetError, KeyError, TypeError, ValueError) as error:
        st.error(f"This recipe cannot be trained: {error}")
        return
    for job in jobs:
        training_scheduler().submit(job)
    st.session_state[JOB_KEY] = jobs[-1].id
    names = " and ".join(DATASETS[name].display_name for name in datasets)
    st.success(f"Training the same recipe on {names}; follow it on the Train page. "
               "The comparison appears here when it is done.", icon=":material/model_training:")  # fmt: skip
    st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")
