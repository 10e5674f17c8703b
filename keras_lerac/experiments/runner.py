"""The comparison runner: one model trained under several regimes, same everything else.

`compare(settings)` trains the model `settings.model` on `settings.data` under each regime
of `settings.regimes` (conventional, LeRaC, CBS) for each seed, with the same base
optimizer, rate, epochs and batch order; for a given seed every regime starts from the
same initial weights. It is the one runner behind `keras-lerac compare` and
`benchmarks/accuracy.py`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from keras_lerac.experiments import data as datasets
from keras_lerac.experiments import models
from keras_lerac.experiments.torch_cpu import avoid_onednn_hang

REGIMES = ("conventional", "lerac", "cbs")
OPTIMIZERS = ("sgd", "adam")
DEFAULT_LEARNING_RATE = {"sgd": 0.05, "adam": 1e-3}


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a comparison trains, and how.

    Args:
        model: A name `models.get_model` builds.
        data: One of `data.DATASETS`.
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
        regimes: The regimes to run, among `REGIMES`.
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

    @property
    def base_rate(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LEARNING_RATE[self.optimizer]


@dataclasses.dataclass(frozen=True)
class Data:
    """A training and a test split, and the number of classes."""

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    num_classes: int

    def steps_per_epoch(self, batch_size: int) -> int:
        return math.ceil(len(self.train[0]) / batch_size)


def load_data(settings: Settings) -> Data:
    """The data set of `settings` (images for conv models, vectors otherwise)."""
    flat = not models.is_conv_model(settings.model)
    (x_train, y_train), (x_test, y_test) = datasets.load_dataset(settings.data, flat=flat)
    if settings.limit is not None:
        x_train, y_train = x_train[: settings.limit], y_train[: settings.limit]
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return Data((x_train, y_train), (x_test, y_test), num_classes)


def total_steps(settings: Settings, data: Data) -> int:
    """The number of optimizer steps a run takes."""
    return settings.epochs * data.steps_per_epoch(settings.batch_size)


def lerac_arguments(settings: Settings, data: Data) -> dict:
    """LeRaC's curriculum arguments: the settings given, and `total_steps` for the rest."""
    arguments: dict = {"schedule": settings.schedule, "total_steps": total_steps(settings, data)}
    if settings.curriculum_epochs is not None:
        arguments["curriculum_steps"] = settings.curriculum_epochs * data.steps_per_epoch(settings.batch_size)
    if settings.min_learning_rate is not None:
        arguments["min_learning_rate"] = settings.min_learning_rate
    return arguments


def base_optimizer(settings: Settings):
    """The base optimizer every regime uses."""
    import keras

    if settings.optimizer == "adam":
        return keras.optimizers.Adam(settings.base_rate)
    return keras.optimizers.SGD(settings.base_rate, momentum=0.9)


def build_regime(regime: str, settings: Settings, data: Data, seed: int) -> tuple[Any, Any, list]:
    """`(model, optimizer, callbacks)` of one regime, the model built with `seed`."""
    import keras

    from keras_lerac import CurriculumLogger, LeRaC

    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    model = models.get_model(settings.model, data.train[0].shape[1:], data.num_classes)
    optimizer = base_optimizer(settings)
    callbacks: list = []
    if regime == "lerac":
        optimizer = LeRaC(optimizer, model=model, **lerac_arguments(settings, data))
        callbacks.append(CurriculumLogger())
    elif regime == "cbs":
        from keras_lerac import cbs

        model = cbs.add_smoothing(model, kernel_size=3, sigma=settings.cbs_sigma)
        callbacks.append(cbs.SmoothingSchedule(decay=settings.cbs_decay, every_epochs=settings.cbs_every))
    elif regime != "conventional":
        raise ValueError(f"Unknown regime {regime!r}. Choose among {', '.join(REGIMES)}.")
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model, optimizer, callbacks


def train_one(
    regime: str, seed: int, settings: Settings, data: Data, verbose: int = 0, before_fit=None
) -> dict:
    """Trains one regime with one seed.

    Args:
        regime: One of `REGIMES`.
        seed: Initial weights and batch order.
        settings: The comparison's settings.
        data: The data (`load_data(settings)`).
        verbose: `model.fit`'s verbosity.
        before_fit: Called as `before_fit(model, optimizer)` once compiled (e.g. to print
            the plan).

    Returns:
        `{"accuracy", "wall", "curves", "optimizer"}`: test accuracy after the last epoch,
        seconds of `model.fit` (tracing included), the History, the optimizer.
    """
    import keras

    model, optimizer, callbacks = build_regime(regime, settings, data, seed)
    if before_fit is not None:
        before_fit(model, optimizer)
    (x_train, y_train), (x_test, y_test) = data.train, data.test
    keras.utils.set_random_seed(seed)  # the same batch order in every regime
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        validation_data=(x_test, y_test),
        verbose=verbose,
        callbacks=callbacks,
    )
    wall = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    curves = {key: [float(v) for v in values] for key, values in history.history.items()}
    return {"accuracy": float(accuracy), "wall": wall, "curves": curves, "optimizer": optimizer}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def compare(
    settings: Settings,
    data: Data | None = None,
    verbose: int = 0,
    log: Callable[[str], Any] | None = None,
    before_fit=None,
) -> dict:
    """Trains every regime of `settings` for every seed.

    Args:
        settings: What to train.
        data: The data, if loaded already.
        verbose: `model.fit`'s verbosity.
        log: Called with one line per run.
        before_fit: Passed to `train_one`.

    Returns:
        `{"regimes": {regime: {"seeds", "test_accuracy", "wall_time_s", "curves", "mean",
        "std", "mean_wall_time_s"}}, "lerac": the last LeRaC optimizer (or None),
        "data": the data}`.
    """
    avoid_onednn_hang()
    data = data if data is not None else load_data(settings)
    results: dict = {}
    lerac = None
    for regime in settings.regimes:
        entry: dict = {"seeds": list(settings.seeds), "test_accuracy": [], "wall_time_s": [], "curves": []}
        for seed in settings.seeds:
            run = train_one(regime, seed, settings, data, verbose=verbose, before_fit=before_fit)
            entry["test_accuracy"].append(run["accuracy"])
            entry["wall_time_s"].append(run["wall"])
            entry["curves"].append(run["curves"])
            if regime == "lerac":
                lerac = run["optimizer"]
            if log is not None:
                accuracy, wall = 100 * run["accuracy"], run["wall"]
                log(f"[{regime} seed {seed}] test accuracy {accuracy:.2f}%  fit {wall:.1f} s")
        entry["mean"], entry["std"] = mean_std(entry["test_accuracy"])
        entry["mean_wall_time_s"] = sum(entry["wall_time_s"]) / len(entry["wall_time_s"])
        results[regime] = entry
    return {"regimes": results, "lerac": lerac, "data": data}
