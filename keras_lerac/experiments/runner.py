"""The command's settings, turned into a paired comparison (`paired.compare_regimes`).

`Settings` names what `keras-lerac compare` trains: a built-in model (or a `.keras`
file), a bundled data set (or an `.npz` file), the base optimizer, the regimes, seeds and
epochs. `comparison(settings)` runs it through `keras_lerac.experiments.paired.compare_regimes`
(same initial weights and batch order per seed across regimes) and returns the
`ABComparison`; `compare(settings)` is the same run in the dictionary shape
`benchmarks/accuracy.py` reads.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from keras_lerac.experiments import data as datasets
from keras_lerac.experiments import models, paired
from keras_lerac.experiments.inputs import check_finite
from keras_lerac.experiments.regimes import DEFAULT_REGIMES

# The default regimes of `keras-lerac compare` and benchmarks/accuracy.py, and all of them:
# both from the regime registry (keras_lerac.experiments.regimes.REGISTRY).
REGIMES = DEFAULT_REGIMES
ALL_REGIMES = paired.REGIMES
OPTIMIZERS = ("sgd", "adam")
DEFAULT_LEARNING_RATE = {"sgd": 0.05, "adam": 1e-3}


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a comparison trains, and how.

    Args:
        model: A name `models.get_model` builds, or the path of a `.keras` file (its
            architecture, fresh weights per seed).
        data: One of `data.DATASETS`, or the path of an `.npz` file with `x_train`,
            `y_train`, `x_test`, `y_test`.
        optimizer: `"sgd"` (momentum 0.9) or `"adam"`.
        learning_rate: The base rate (`None`: 0.05 for SGD, 1e-3 for Adam).
        min_learning_rate: LeRaC's start rate of the last bucket (`None`: the one
            `keras_lerac.curriculum.suggested_curriculum` picks for the run's length).
        schedule: LeRaC's curriculum: `"exponential"`, `"linear"` or `"stepwise"`.
        curriculum_epochs: LeRaC's K in epochs (`None`: the K `suggested_curriculum`
            picks for the run's length).
        epochs: Training epochs per run.
        batch_size: Batch size.
        seeds: The seeds; each regime runs once per seed.
        regimes: The regimes to run, among `ALL_REGIMES`.
        cbs_sigma: CBS initial sigma.
        cbs_decay: CBS sigma decay factor.
        cbs_every: CBS epochs between two sigma decays.
        limit: Train on the first `limit` training examples only (tests, smoke runs).
    """

    model: str = "digits_cnn"
    data: str = "digits"
    optimizer: str = "sgd"
    learning_rate: float | None = None
    min_learning_rate: float | None = None
    schedule: str = "exponential"
    curriculum_epochs: int | None = None
    epochs: int = 12
    batch_size: int = 32
    seeds: tuple[int, ...] = (0, 1, 2)
    regimes: tuple[str, ...] = REGIMES
    cbs_sigma: float = 1.0
    cbs_decay: float = 0.9
    cbs_every: int = 5
    limit: int | None = None

    @classmethod
    def from_args(cls, args: Any) -> Settings:
        """The settings from the command's parsed arguments: each field from the flag of its name.

        `--seeds N` gives the seeds `0 .. N-1`. A flag the command adds needs only a field
        here of the same name (and, when `compare_regimes` takes it as it is, its name in
        `PASSED_THROUGH`).
        """
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
        if isinstance(values.get("seeds"), int):
            values["seeds"] = tuple(range(values["seeds"]))
        if values.get("regimes") is None:  # not checked yet: the default list
            values.pop("regimes", None)
        else:
            values["regimes"] = tuple(values["regimes"])
        return cls(**values)

    def comparison_arguments(self, data: Data) -> dict:
        """`compare_regimes`' keyword arguments these settings give (the model and data aside)."""
        return {
            **{name: getattr(self, name) for name in PASSED_THROUGH},
            "optimizer": base_optimizer(self),
            "curriculum_steps": curriculum_steps(self, data),
        }

    @property
    def base_rate(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LEARNING_RATE[self.optimizer]


# Fields of `Settings` that `compare_regimes` takes under the same name, as they are.
PASSED_THROUGH = (
    "regimes",
    "epochs",
    "seeds",
    "batch_size",
    "min_learning_rate",
    "schedule",
    "cbs_sigma",
    "cbs_decay",
    "cbs_every",
)


@dataclasses.dataclass(frozen=True)
class Data:
    """A training and a test split, and the number of classes."""

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    num_classes: int

    def steps_per_epoch(self, batch_size: int) -> int:
        return math.ceil(len(self.train[0]) / batch_size)


def is_model_file(model: str) -> bool:
    """Whether `model` names a `.keras` file rather than a built-in model."""
    return str(model).endswith(".keras")


def is_data_file(data: str) -> bool:
    """Whether `data` names an `.npz` file rather than a bundled data set."""
    return str(data).endswith(".npz")


def load_data(settings: Settings) -> Data:
    """The data of `settings`: a bundled set (images for conv models, vectors otherwise) or an `.npz`.

    Raises:
        paired.InputError: for an `.npz` that cannot be read or lacks one of its keys, values
            that are not finite, or a bundled set whose package is missing.
    """
    if is_data_file(settings.data):
        (x_train, y_train), (x_test, y_test) = paired.load_npz(settings.data)
    else:
        flat = not (is_model_file(settings.model) or models.is_conv_model(settings.model))
        try:
            (x_train, y_train), (x_test, y_test) = datasets.load_dataset(settings.data, flat=flat)
        except ImportError as error:
            raise paired.InputError(f"--data {settings.data}: {error}") from None
    check_finite(x_train, y_train, "training data")
    check_finite(x_test, y_test, "test data")
    if settings.limit is not None:
        x_train, y_train = x_train[: settings.limit], y_train[: settings.limit]
    labels = [y for y in (y_train, y_test) if y.size and np.issubdtype(y.dtype, np.number)]
    num_classes = int(max(y.max() for y in labels)) + 1 if labels else 0
    if y_train.ndim == 2 and y_train.shape[-1] > 1:  # one-hot
        num_classes = int(y_train.shape[-1])
    return Data((x_train, y_train), (x_test, y_test), num_classes)


def total_steps(settings: Settings, data: Data) -> int:
    """The number of optimizer steps a run takes."""
    return settings.epochs * data.steps_per_epoch(settings.batch_size)


def curriculum_steps(settings: Settings, data: Data) -> int | None:
    """K in iterations when `curriculum_epochs` is given, else None (the defaults rule)."""
    if settings.curriculum_epochs is None:
        return None
    return settings.curriculum_epochs * data.steps_per_epoch(settings.batch_size)


def base_optimizer(settings: Settings):
    """The base optimizer every regime uses."""
    import keras

    if settings.optimizer == "adam":
        return keras.optimizers.Adam(settings.base_rate)
    return keras.optimizers.SGD(settings.base_rate, momentum=0.9)


def model_source(settings: Settings, data: Data):
    """What `compare_regimes` builds: the `.keras` path, or a builder of the named model."""
    if is_model_file(settings.model):
        return settings.model
    input_shape, num_classes = data.train[0].shape[1:], data.num_classes

    def build():
        return models.get_model(settings.model, input_shape, num_classes)

    return build


def comparison(
    settings: Settings,
    data: Data | None = None,
    progress=False,
    before_fit: Callable[..., Any] | None = None,
    output: str | None = None,
    shard: tuple[int, int] | None = None,
    extra_settings: dict | None = None,
) -> paired.ABComparison:
    """Runs the comparison `settings` describe through `paired.compare_regimes`.

    Args:
        settings: What to train.
        data: The data, if loaded already.
        progress: As for `compare_regimes`.
        before_fit: As for `compare_regimes`.
        output: As for `compare_regimes`: the run records, `results.json` and the plots.
        shard: As for `compare_regimes`.
        extra_settings: As for `compare_regimes`.

    Returns:
        The `paired.ABComparison`.
    """
    data = data if data is not None else load_data(settings)
    return paired.compare_regimes(
        model_source(settings, data),
        data.train,
        data.test,
        **settings.comparison_arguments(data),
        progress=progress,
        before_fit=before_fit,
        output=output,
        shard=shard,
        extra_settings=extra_settings,
        torch_cpu_guard=True,  # the command's process is ours: oneDNN off on torch CPU
    )


def runnable(settings: Settings, data: Data) -> tuple[Settings, dict[str, str]]:
    """`settings` without the regimes that cannot run on its model, and why each cannot.

    Raises:
        paired.InputError: if the model cannot be built or loaded.
    """
    skipped = paired.problems(settings.regimes, model_source(settings, data))
    kept = tuple(r for r in settings.regimes if r not in skipped)
    return dataclasses.replace(settings, regimes=kept), skipped


def compare(settings: Settings, data: Data | None = None, log: Callable[[str], Any] | None = None) -> dict:
    """`comparison(settings)` in the dictionary shape `benchmarks/accuracy.py` reads.

    Args:
        settings: What to train.
        data: The data, if loaded already.
        log: Called with one line per regime once the comparison is done.

    Returns:
        `{"regimes": {regime: {"seeds", "test_accuracy", "mean", "std", "wall_time_s",
        "mean_wall_time_s", "curves", ...}}, "differences", "data", "comparison": the
        ABComparison}`.
    """
    data = data if data is not None else load_data(settings)
    result = comparison(settings, data=data)
    regimes = {name: dict(entry, test_accuracy=entry["scores"]) for name, entry in result.regimes.items()}
    if log is not None:
        for name, entry in regimes.items():
            if entry["mean"] is None:
                log(f"[{name}] no finite test accuracy")
            else:
                log(f"[{name}] test accuracy {100 * entry['mean']:.2f} +- {100 * entry['std']:.2f} %")
    return {
        "regimes": regimes,
        "differences": result.differences,
        "data": data,
        "comparison": result,
    }
