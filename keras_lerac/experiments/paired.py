"""A paired A/B comparison of training regimes on the user's own model and data.

`compare_regimes(model, train, test, optimizer=...)` trains the same model under each
regime (conventional, warmup, lerac, anti, cbs) for each seed and returns an
`ABComparison`: per-regime mean and standard deviation of the score, and the paired
differences (regime - conventional for every regime, lerac - warmup) with their standard
error, 95 % interval and wins / ties / losses (`keras_lerac.experiments.stats`).

Its steps: every input is checked against a probe model before any training
(`keras_lerac.experiments.inputs`, `builders`, `regimes`); then for each seed the
initial weights are drawn once (`_initial_weights`) and every regime runs from them on
the seed's batches (`_run`); the regimes of a seed are checked to have seen the same
batches (`keras_lerac.experiments.pairing`, which explains how runs are paired); the
scores become an `ABComparison` (`keras_lerac.experiments.comparison`).

This module is the library-grade core behind `keras-lerac compare` (through
`keras_lerac.experiments.runner`) and the benchmarks. It re-exports the names its
callers use: `ABComparison`, `InputError`, `PairingError`, `REGIMES`, `REFERENCE`,
`CURRICULUM_REGIMES`, `load_npz`, `weights_hash`, `problems`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from keras_lerac.experiments.builders import base_optimizer, build, model_builder
from keras_lerac.experiments.comparison import ABComparison
from keras_lerac.experiments.inputs import (
    Data,
    InputError,
    as_arrays,
    check_data,
    load_npz,
    resolve_data,
    run_loss,
    steps_per_epoch_of,
)
from keras_lerac.experiments.pairing import (
    ORDER_KEY,
    Feed,
    PairingError,
    check_initial_weights,
    serve,
    weights_hash,
)
from keras_lerac.experiments.progress import Progress
from keras_lerac.experiments.records import RunStore, jsonable, missing_runs, shard_runs
from keras_lerac.experiments.regimes import (
    CURRICULUM_REGIMES,
    REFERENCE,
    REGIMES,
    RegimeSettings,
    check_regimes,
    curriculum_arguments,
    problems,
    regime_problem,
)
from keras_lerac.experiments.torch_cpu import avoid_onednn_hang

__all__ = [
    "ABComparison",
    "CURRICULUM_REGIMES",
    "InputError",
    "problems",
    "PairingError",
    "REFERENCE",
    "REGIMES",
    "compare_regimes",
    "load_npz",
    "weights_hash",
]


def compare_regimes(
    model: Any,
    train: Any,
    test: Any,
    *,
    optimizer: Any,
    regimes: Sequence[str] = ("conventional", "warmup", "lerac"),
    epochs: int = 10,
    seeds: int | Sequence[int] = 3,
    batch_size: int = 32,
    steps_per_epoch: int | None = None,
    loss: Any = None,
    metrics: Sequence[Any] | None = None,
    score: str | None = None,
    greater_is_better: bool | None = None,
    curriculum_steps: int | None = None,
    min_learning_rate: float | None = None,
    schedule: str = "exponential",
    num_buckets: int | None = None,
    cbs_sigma: float = 1.0,
    cbs_decay: float = 0.9,
    cbs_every: int = 5,
    reinitialize: bool = True,
    callbacks: Callable[[str, int], list] | None = None,
    curves: bool = True,
    progress: bool | Progress = True,
    before_fit: Callable[[str, int, Any, Any], Any] | None = None,
    output: str | None = None,
    shard: tuple[int, int] | None = None,
    extra_settings: dict | None = None,
    torch_cpu_guard: bool = False,
) -> ABComparison:
    """Trains one model under several regimes, paired by seed, and compares them.

    Every regime of a seed starts from the same initial weights and sees the same
    batches in the same order (`keras_lerac.experiments.pairing` says what each kind of
    data guarantees); the score (test accuracy by default) after the last epoch is compared
    regime by regime, seed by seed.

    Regimes (all with a fresh copy of `optimizer` as the base):

    - `"conventional"`: the base optimizer.
    - `"warmup"`: `LeRaC(base, schedule="warmup", ...)`: every bucket starts at the
      lowest start ratio and rises to the base at K, an ordinary warm-up.
    - `"lerac"`: `LeRaC(base, schedule=schedule, ...)`.
    - `"anti"`: `LeRaC(base, schedule="anti", ...)`: LeRaC's start rates in reverse
      depth order.
    - `"cbs"`: Curriculum by Smoothing (`keras_lerac.cbs.add_smoothing(model, 3,
      cbs_sigma)` with `SmoothingSchedule(cbs_decay, cbs_every)`); convolutional models only.

    The three curriculum regimes share K and the start ratio: `curriculum_steps` and
    `min_learning_rate` when given, else the package's defaults rule for the run's
    length (`LeRaC(..., total_steps=epochs x steps_per_epoch)`).

    Args:
        model: A function returning a new, uncompiled `keras.Model` (called once per seed
            and once per run), a `keras.Model`, or the path of a `.keras` file. A model
            or file gives the architecture: each seed draws fresh weights
            (`keras.models.clone_model`), unless `reinitialize=False`.
        train: The training data: `(x, y)` NumPy arrays, a `tf.data.Dataset` or a
            `keras.utils.PyDataset` of `(x, y)` batches, or a function `seed -> ` one of
            these (called for every run).
        test: The test data, in the same forms; the score is `model.evaluate` on it.
        optimizer: The base optimizer: a Keras optimizer (copied for every run, never
            trained itself), a config dict, or a name such as `"adam"`.
        regimes: Regimes to run, among `REGIMES`.
        epochs: Epochs per run.
        seeds: A number of seeds (`0 .. seeds-1`) or the seeds themselves.
        batch_size: Batch size for arrays (a dataset brings its own batches).
        steps_per_epoch: For a dataset of unknown length: steps per epoch.
        loss: The loss. Defaults to cross-entropy matching the labels and the model's
            head: sparse categorical for integer labels, categorical for one-hot labels,
            binary for one output unit; from logits unless the last layer applies
            softmax or sigmoid.
        metrics: Compiled metrics. Defaults to `["accuracy"]`.
        score: The `model.evaluate` key compared. Defaults to the first metric's name
            (`"accuracy"`).
        greater_is_better: Whether a higher score wins. Defaults to False for a score
            named like a loss or an error, else True.
        curriculum_steps: K in iterations for warmup, lerac and anti.
        min_learning_rate: Their lowest start rate.
        schedule: The lerac regime's curriculum: `"exponential"`, `"linear"` or
            `"stepwise"`.
        num_buckets: Group the depth levels into this many buckets (curriculum regimes).
        cbs_sigma: CBS initial sigma.
        cbs_decay: CBS sigma decay factor.
        cbs_every: CBS epochs between two decays.
        reinitialize: With a `keras.Model` or a file: draw fresh weights per seed
            (default) or start every run from its weights (then seeds vary the batch
            order only).
        callbacks: A function `(regime, seed) -> list` of extra Keras callbacks per run.
        curves: Pass `test` as `validation_data`, for per-epoch test curves.
        progress: Show a progress bar for the whole comparison (`True`), none (`False`),
            or a `Progress` to drive (its total is set to the runs left to train).
        before_fit: Called as `before_fit(regime, seed, model, optimizer)` once a run's
            model is compiled.
        output: A directory for the run records, `results.json` and the plots. Each run
            is recorded in `output/runs/` as it ends (`keras_lerac.experiments.records`),
            so an interrupted comparison keeps its finished runs; called again with the
            same arguments it trains only the missing runs (with other settings it
            refuses, naming what differs). Without it, nothing is written.
        shard: `(i, n)`: train only the `i`-th of `n` deterministic shares of the
            (seed, regime) runs (`records.shard_runs`); needs `output`, shared by the
            `n` processes. The result compares the seeds whose runs are all recorded.
        extra_settings: Entries added to `results.json`'s settings and to the runs'
            fingerprint (what the caller knows that the comparison cannot, such as the
            names of a built-in model and data set).
        torch_cpu_guard: On the torch backend without a GPU, turn oneDNN (mkldnn) off
            for the whole process before training (`torch.backends.mkldnn.enabled =
            False`, left so afterwards): some CPUs' oneDNN convolution kernels hang in
            the backward pass (`keras_lerac.experiments.torch_cpu`). A process-wide
            switch, so off by default; the `keras-lerac` command turns it on.

    Returns:
        An `ABComparison` of the seeds whose runs are all recorded (all of them, unless
        `shard` leaves some to other processes).

    Raises:
        InputError: for bad input (shapes that do not fit the model, labels out of
            range, values that are not finite, a model with nothing to train, a regime that
            cannot run on the model, a file that is not a model, an output that cannot be
            written or holds another comparison's runs), before any training.
        PairingError: if two regimes of a seed did not start from the same weights or
            see the same batches.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_lerac.experiments.paired import compare_regimes

    def build():
        inputs = keras.Input((20,))
        hidden = keras.layers.Dense(32, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3)(hidden))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 20)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0)
    result = compare_regimes(build, (x[:192], y[:192]), (x[192:], y[192:]),
                             optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                             regimes=["conventional", "lerac"], epochs=2, seeds=2,
                             progress=False)
    print(result.table())
    print(result.differences["lerac - conventional"]["mean"])
    ```
    """
    import keras

    # ---- check everything before any training
    regimes = check_regimes(regimes)
    seeds = _check_seeds(seeds)
    epochs, batch_size = _check_counts(epochs, batch_size)
    metrics, score, greater_is_better = _scoring(metrics, score, greater_is_better)
    store = RunStore(output) if output is not None else None
    if shard is not None and store is None:
        raise InputError("shard needs output: the shards' runs meet in one output directory")
    if torch_cpu_guard:
        avoid_onednn_hang()
    builder = model_builder(model, reinitialize)
    keras.utils.clear_session()
    keras.utils.set_random_seed(seeds[0])
    probe = build(builder)
    if not probe.trainable_weights:
        raise InputError(
            "the model has no trainable weights: nothing to compare (set layer.trainable = True)"
        )
    data = check_data(probe, train, test, seeds[0], check_labels=loss is None)
    for regime in regimes:
        reason = regime_problem(regime, probe)
        if reason is not None:
            raise InputError(f"regime {regime!r} cannot run on this model: {reason}")
    base = base_optimizer(optimizer)
    known_steps = steps_per_epoch_of(data.first_train, data.train_arrays, batch_size, steps_per_epoch)
    total = _total_steps(regimes, known_steps, epochs, curriculum_steps)
    arguments = curriculum_arguments(total, curriculum_steps, min_learning_rate, num_buckets)
    variants = RegimeSettings(schedule, arguments, cbs_sigma, cbs_decay, cbs_every)
    variants.check(regimes, probe, base)  # a bad curriculum setting is bad input too
    plan = _Plan(
        regimes=regimes,
        seeds=seeds,
        epochs=epochs,
        batch_size=batch_size,
        builder=builder,
        data=data,
        base=base,
        variants=variants,
        loss=run_loss(loss, probe, data.labels),
        metrics=metrics,
        score=score,
        greater_is_better=greater_is_better,
        steps_per_epoch=known_steps,
        total_steps=total,
        dataset_steps=steps_per_epoch,
        callbacks=callbacks,
        before_fit=before_fit,
        curves=curves,
    )
    settings = dict(_settings(plan), **(extra_settings or {}))
    fingerprint = _fingerprint(plan, model, probe, reinitialize, extra_settings)
    records = store.check(fingerprint) if store is not None else []
    del probe

    # ---- run what is missing: for each seed, every regime from the same weights and batch order
    runs = [(seed, regime) for seed in seeds for regime in regimes]
    todo = missing_runs(shard_runs(runs, shard), records)
    common = {"fingerprint": fingerprint, "settings": settings, "plan": {"regimes": regimes, "seeds": seeds}}
    new = _run_all(plan, todo, progress, store, common)
    records = store.read() if store is not None else new  # other shards' runs included
    comparison = ABComparison.from_records(records, regimes, seeds, settings)
    if output is not None:
        comparison.write(output)
    return comparison


# --------------------------------------------------------------------------- checks
def _check_seeds(seeds: int | Sequence[int]) -> list[int]:
    """The seeds: `0 .. seeds-1` for a number, else the seeds given, checked distinct."""
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise InputError("no seed: give seeds >= 1")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"repeated seeds {seeds}: each seed pairs one set of runs")
    return seeds


def _check_counts(epochs: int, batch_size: int) -> tuple[int, int]:
    """`(epochs, batch_size)` as integers, each checked >= 1."""
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if int(value) < 1:
            raise InputError(f"{name} must be >= 1, got {value}")
    return int(epochs), int(batch_size)


def _scoring(
    metrics: Sequence[Any] | None, score: str | None, greater_is_better: bool | None
) -> tuple[Sequence[Any], str, bool]:
    """The compiled metrics, the score compared and its direction, defaults filled in."""
    if metrics is None:
        metrics = ["accuracy"]
    if score is None:
        first = metrics[0] if metrics else "loss"
        score = first if isinstance(first, str) else getattr(first, "name", str(first))
    if greater_is_better is None:
        greater_is_better = not (score.endswith("loss") or "error" in score)
    return metrics, score, greater_is_better


def _total_steps(
    regimes: Sequence[str], steps_per_epoch: int | None, epochs: int, curriculum_steps: int | None
) -> int | None:
    """Optimizer steps a run takes; None when the epoch's length is unknown.

    Raises:
        InputError: if it is unknown and a curriculum regime needs it to pick K.
    """
    curricula = [r for r in regimes if r in CURRICULUM_REGIMES]
    if steps_per_epoch is None and curricula and curriculum_steps is None:
        raise InputError(
            "the training dataset's length is unknown: pass steps_per_epoch (or curriculum_steps)"
        )
    return None if steps_per_epoch is None else epochs * steps_per_epoch


# --------------------------------------------------------------------------- the runs
@dataclasses.dataclass(frozen=True)
class _Plan:
    """A comparison's inputs, checked: what every run needs, and what `results.json` records.

    `steps_per_epoch` is the epoch's length as known (given, or the data's; None if
    unknown); `dataset_steps` is the user's `steps_per_epoch`, what `fit` gets for a
    dataset. The other fields are `compare_regimes`' arguments, checked.
    """

    regimes: list[str]
    seeds: list[int]
    epochs: int
    batch_size: int
    builder: Callable[[], Any]
    data: Data
    base: Any
    variants: RegimeSettings
    loss: Any
    metrics: Sequence[Any]
    score: str
    greater_is_better: bool
    steps_per_epoch: int | None
    total_steps: int | None
    dataset_steps: int | None
    callbacks: Callable[[str, int], list] | None
    before_fit: Callable[[str, int, Any, Any], Any] | None
    curves: bool


def _run_all(
    plan: _Plan, todo: list[tuple[int, str]], progress: bool | Progress, store: RunStore | None, common: dict
) -> list[dict]:
    """The runs `todo` (`(seed, regime)` pairs), each recorded in `store` the moment it ends.

    Args:
        plan: The comparison's checked inputs.
        todo: The runs to train, seed by seed.
        progress: As for `compare_regimes`.
        store: Where each run is recorded as it ends, or None.
        common: What every record carries (`fingerprint`, `settings`).

    Returns:
        The records of the runs trained here.
    """
    if isinstance(progress, Progress):
        bar = progress
        bar.total = len(todo)  # the runs left to train
    else:  # made only when shown: on a terminal a new bar draws itself at once
        bar = Progress(len(todo)) if progress is not False and todo else None
    records = []
    seeds = list(dict.fromkeys(seed for seed, _ in todo))
    for seed in seeds:
        initial, seed_hash = _initial_weights(plan.builder, seed)
        for regime in (r for s, r in todo if s == seed):
            record = dict(_run(plan, regime, seed, initial, seed_hash), **common)
            if store is not None:
                store.write(record)
            records.append(record)
            if bar is not None:
                shown = "n/a" if record["score"] is None else f"{record['score']:.4f}"
                diverged = ", diverged" if record["diverged"] else ""
                bar.advance(
                    f"{regime} seed {seed}: {plan.score} {shown} "
                    f"(fit {record['wall_time_s']:.1f} s{diverged})"
                )
    if bar is not None and bar is not progress:
        bar.close()
    return records


def _initial_weights(builder: Callable[[], Any], seed: int) -> tuple[list[np.ndarray], str]:
    """The weights every regime of `seed` starts from, and their hash."""
    import keras

    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    initial = [np.array(w) for w in build(builder).get_weights()]
    return initial, weights_hash(initial)


def _run(plan: _Plan, regime: str, seed: int, initial: list[np.ndarray], seed_hash: str) -> dict:
    """One regime for one seed: a fresh model from the seed's weights, trained on the seed's batches.

    Returns:
        The run's record: `regime`, `seed`, `score` (None if not finite, with
        `score_note`), `diverged` (the training loss went non-finite), `wall_time_s`,
        `init_hash`, `order_hash`, `curves` (non-finite values as None) and, for a
        curriculum regime, `curriculum` (what it ran, and its planned rates to plot).

    Raises:
        PairingError: if the model did not start from the seed's weights, or `fit` did
            not request every planned batch.
        InputError: if the score is not among what `evaluate` returns.
    """
    import keras

    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    net = build(plan.builder)
    net.set_weights(initial)
    init_hash = weights_hash(net.get_weights())
    check_initial_weights(seed, regime, init_hash, seed_hash)
    net, optimizer, callbacks = plan.variants.apply(regime, net, plan.base)
    net.compile(optimizer=optimizer, loss=plan.loss, metrics=list(plan.metrics))
    if plan.callbacks is not None:
        callbacks.extend(plan.callbacks(regime, seed))
    if plan.before_fit is not None:
        plan.before_fit(regime, seed, net, optimizer)
    train_data = resolve_data(plan.data.train, seed)
    test_data = resolve_data(plan.data.test, seed)
    arrays = plan.data.train_arrays is not None
    batches = serve(train_data, arrays, plan.batch_size, seed, plan.epochs, plan.dataset_steps)
    curves, wall, score = _fit_and_score(plan, net, batches, test_data, seed, callbacks)
    finite = math.isfinite(score)
    return {
        "regime": regime,
        "seed": int(seed),
        "score": score if finite else None,
        "score_note": None if finite else f"not a finite number ({score})",
        "diverged": not all(math.isfinite(v) for v in curves.get("loss", [])),
        "wall_time_s": wall,
        "init_hash": init_hash,
        "order_hash": batches.order_hash(),
        "curves": jsonable(curves),
        "curriculum": _curriculum(plan, optimizer) if regime in CURRICULUM_REGIMES else None,
    }


def _curriculum(plan: _Plan, optimizer: Any) -> dict:
    """What a curriculum run ran (for `results.json`), and its planned rates (for the plot)."""
    from keras_lerac.experiments.report import curriculum_plot_steps
    from keras_lerac.plotting import sample_steps

    k = optimizer.settings.curriculum_steps
    steps = sample_steps(curriculum_plot_steps(k, plan.total_steps), points=201)
    return {
        "record": plan.variants.curriculum_record(optimizer, plan.steps_per_epoch),
        "plot": {
            "steps": [int(t) for t in steps],
            "rates": [optimizer.learning_rates_at(int(t)) for t in steps],
            "curriculum_steps": k,
            "schedule": optimizer.settings.schedule,
        },
    }


def _fit_and_score(
    plan: _Plan, net: Any, batches: Feed, test_data: Any, seed: int, callbacks: list
) -> tuple[dict, float, float]:
    """Trains `net` on `batches` and scores it on the test data.

    Returns:
        `(curves, seconds, score)`: the `History` as lists of floats, the wall time of
        `fit`, and the score after the last epoch.

    Raises:
        InputError: if the score is not among what `evaluate` returns.
    """
    import keras

    test_pair = as_arrays(test_data, "test data")
    test_fit = test_pair if test_pair is not None else test_data
    keras.utils.set_random_seed(seed)  # dropout and other random layers: the same draws
    start = time.perf_counter()
    history = net.fit(
        batches.data,
        epochs=plan.epochs,
        steps_per_epoch=batches.steps_per_epoch,
        shuffle=False,
        validation_data=test_fit if plan.curves else None,
        verbose=0,
        callbacks=callbacks,
    )
    wall = time.perf_counter() - start
    if test_pair is not None:
        scores = net.evaluate(*test_pair, verbose=0, return_dict=True, batch_size=max(plan.batch_size, 256))
    else:
        scores = net.evaluate(test_data, verbose=0, return_dict=True)
    if plan.score not in scores:
        raise InputError(f"score {plan.score!r} is not among what evaluate returns: {', '.join(scores)}")
    curves = {key: [float(v) for v in values] for key, values in history.history.items()}
    return curves, wall, float(scores[plan.score])


# --------------------------------------------------------------------------- results
def _settings(plan: _Plan) -> dict:
    """What ran, for `ABComparison.settings` and `results.json` (the curriculum comes from its runs)."""
    import keras

    from keras_lerac.experiments import report

    train_arrays, test_arrays = plan.data.train_arrays, plan.data.test_arrays
    return {
        "backend": keras.backend.backend(),
        "epochs": plan.epochs,
        "batch_size": plan.batch_size if train_arrays is not None else None,
        "steps_per_epoch": plan.steps_per_epoch,
        "total_steps": plan.total_steps,
        "train_examples": None if train_arrays is None else int(len(train_arrays[0])),
        "test_examples": None if test_arrays is None else int(len(test_arrays[0])),
        "score": plan.score,
        "greater_is_better": plan.greater_is_better,
        "loss": getattr(plan.loss, "name", str(plan.loss)),
        "optimizer": keras.optimizers.serialize(plan.base),
        "cbs": plan.variants.cbs_record() if "cbs" in plan.regimes else None,
        "pairing": "same initial weights (init_hash) and batch order (order_hash) per seed across regimes",
        "machine": report.machine_info(),
        "batch_order": f"own per-epoch permutation, numpy default_rng([seed, {ORDER_KEY}])"
        if train_arrays is not None
        else "the dataset's own order",
    }


def _fingerprint(plan: _Plan, model: Any, probe: Any, reinitialize: bool, extra: dict | None) -> dict:
    """Everything that defines a run but its regime and seed: runs mix only when these are equal."""
    import keras

    from keras_lerac import __version__

    def described(value: Any) -> Any:
        try:
            return keras.saving.serialize_keras_object(value)
        except Exception:  # a plain function or an object Keras cannot serialise
            return getattr(value, "__name__", type(value).__name__)

    return jsonable(
        {
            "model": _model_hash(model, probe, reinitialize),
            "data": {"train": _data_hash(plan.data.train_arrays), "test": _data_hash(plan.data.test_arrays)},
            "epochs": plan.epochs,
            "batch_size": plan.batch_size,
            "steps_per_epoch": plan.dataset_steps,
            "loss": described(plan.loss),
            "metrics": [described(m) for m in plan.metrics],
            "score": plan.score,
            "optimizer": keras.optimizers.serialize(plan.base),
            "curriculum": {"schedule": plan.variants.schedule, **plan.variants.curriculum},
            "cbs": plan.variants.cbs_record(),
            "extra": extra or {},
            "keras_lerac": __version__,
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
        }
    )


def _model_hash(model: Any, probe: Any, reinitialize: bool) -> str:
    """A hash of the model: a file's bytes, or the architecture (and kept weights) of a model or builder."""
    digest = hashlib.sha1()
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return "file sha1 " + digest.hexdigest()[:16]
    digest.update(probe.to_json(sort_keys=True).encode())
    if not reinitialize:
        digest.update(weights_hash(probe.get_weights()).encode())
    return "architecture sha1 " + digest.hexdigest()[:16]


def _data_hash(arrays: tuple[np.ndarray, np.ndarray] | None) -> str:
    """A hash of `(x, y)` arrays (values, shapes, dtypes); a dataset is not hashed."""
    if arrays is None:
        return "a dataset (not hashed)"
    return "arrays sha1 " + weights_hash(list(arrays))
