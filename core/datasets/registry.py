"""The datasets the explorer knows: names, classes, and how drawn input should be shaped."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

IMAGE_SIDE = 28
NUM_CLASSES = 10


class DrawingRecipe(str, Enum):
    """How a user's drawing is turned into a dataset-like 28x28 image."""

    # MNIST digits sit in a 20x20 box, centred by centre of mass in the 28x28 frame.
    DIGIT_BOX = "digit_box"
    # Fashion-MNIST items fill the frame.
    FILL_FRAME = "fill_frame"


@dataclass(frozen=True)
class DatasetInfo:
    """What the app needs to know about one dataset, independent of where its files are."""

    name: str
    display_name: str
    class_names: tuple[str, ...]
    drawing_recipe: DrawingRecipe
    # Folder names a user is likely to give this dataset inside a data folder.
    folder_names: tuple[str, ...]
    # Keras' own `.npz` name for it, if Keras ships it that way.
    npz_names: tuple[str, ...]
    # Size of the official splits, so a source can be called "full".
    official_sizes: tuple[int, int] = (60_000, 10_000)
    # Whether a mirrored image shows the same class (a shirt does; a mirrored digit is another symbol).
    mirror_invariant: bool = False
    # Made by a user from their own drawings or images (core/datasets/custom.py), not a published set.
    custom: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


MNIST = DatasetInfo(
    name="mnist",
    display_name="MNIST",
    class_names=tuple(str(digit) for digit in range(NUM_CLASSES)),
    drawing_recipe=DrawingRecipe.DIGIT_BOX,
    folder_names=("mnist",),
    npz_names=("mnist.npz",),
)

FASHION_MNIST = DatasetInfo(
    name="fashion_mnist",
    display_name="Fashion-MNIST",
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    drawing_recipe=DrawingRecipe.FILL_FRAME,
    folder_names=("fashion_mnist", "fashion-mnist", "fashion"),
    npz_names=("fashion_mnist.npz", "fashion-mnist.npz"),
    mirror_invariant=True,
)

DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (MNIST, FASHION_MNIST)}


def dataset_info(name: str) -> DatasetInfo:
    """Look a dataset up by name (built-in or one a user made), with a clear error for an unknown one."""
    if name in DATASETS:
        return DATASETS[name]
    # Imported here: custom datasets live in the runs folder, which imports this module.
    from core.datasets.custom import custom_dataset_info

    info = custom_dataset_info(name)
    if info is None:
        known = ", ".join(dataset_names())
        raise ValueError(f"Unknown dataset {name!r}; choose one of: {known}.") from None
    return info


def dataset_names() -> list[str]:
    """Every dataset a user can pick: the built-in ones first, then their own, by name."""
    from core.datasets.custom import custom_dataset_names

    return [*DATASETS, *custom_dataset_names()]
