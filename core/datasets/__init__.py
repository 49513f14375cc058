"""Datasets: the registry, validated loaders for every source, and the embedded samples."""

from core.datasets.loading import Dataset, SkippedSource, forget_loaded_datasets, load_dataset
from core.datasets.registry import DATASETS, DatasetInfo, DrawingRecipe, dataset_info, dataset_names
from core.datasets.sources import DATA_DIR_ENV, SourceKind
from core.datasets.splits import DatasetError, Splits

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "DrawingRecipe",
    "SkippedSource",
    "SourceKind",
    "Splits",
    "dataset_info",
    "dataset_names",
    "forget_loaded_datasets",
    "load_dataset",
]
