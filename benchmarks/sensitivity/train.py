"""One run of the study: the process set-up, the data, the model, its initial weights, training."""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time

from benchmarks.sensitivity.design import (
    RUN_FIELDS,
    TUNE_FIELDS,
    VALIDATION_FRACTION,
    WARMUP_FRACTION,
)


def configure_process(backend: str, threads: int, cache_dir: str | None = None) -> None:
    """Picks the Keras backend, the thread count and JAX's compilation cache.

    Call before Keras is imported (each worker process calls it first). On JAX, programs
    go to a persistent compilation cache in `cache_dir`: every seed after the first of a
    cell runs the same program, and finds it there instead of compiling it again (about
    half of a short run's time here); the numbers are the same.
    """
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != backend:
        raise RuntimeError(f"Keras is already imported with another backend; cannot switch to {backend}.")
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
        os.environ["TF_NUM_INTEROP_THREADS"] = "1"
        if threads == 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = (
                os.environ.get("XLA_FLAGS", "")
                + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            ).strip()
    import keras  # noqa: F401  (the backend is fixed from here on)

    if backend == "jax" and cache_dir:
        import jax

        jax.config.update("jax_compilation_cache_dir", os.path.abspath(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if threads and backend == "torch":
        import torch

        torch.set_num_threads(threads)
    if threads and backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


_DATA_CACHE: dict = {}


def dataset(name: str, flat: bool, split: str):
    """`(x_fit, y_fit), (x_eval, y_eval), num_classes`: test split, or validation from training."""
    key = (name, flat, split)
    if key not in _DATA_CACHE:
        from keras_lerac.experiments import data

        if name == "sequences":
            from benchmarks.sensitivity.tasks import make_sequences

            (x_train, y_train), test = make_sequences()
        else:
            (x_train, y_train), test = data.load_dataset(name, flat=flat)
        classes = int(max(y_train.max(), test[1].max())) + 1
        if split == "validation":
            train, held_out = data.validation_split(x_train, y_train, VALIDATION_FRACTION, seed=0)
        else:
            train, held_out = (x_train, y_train), test
        _DATA_CACHE[key] = (train, held_out, classes)
    return _DATA_CACHE[key]


def build_model(spec: dict, input_shape: tuple, num_classes: int):
    from benchmarks.sensitivity import tasks
    from keras_lerac.experiments import models

    if spec["model"] in ("wcnn", "transformer"):
        builder = {"wcnn": tasks.widening_cnn, "transformer": tasks.transformer}[spec["model"]]
        return builder(input_shape, num_classes, depth=spec["depth"], width=spec["width"])
    builder = {"mlp": models.mlp, "cnn": models.cnn}[spec["model"]]
    return builder(
        input_shape,
        num_classes,
        depth=spec["depth"],
        width=spec["width"],
        residual=spec["residual"],
        norm=spec["norm"],
    )


def initial_weights(model, spec: dict, output: str) -> str:
    """Loads (or first saves) the initial weights of this model and seed; returns their hash.

    The model was built right after `set_random_seed(seed)`; the first run of a model
    and seed saves those weights to `output/init/`, every later run of any regime loads
    them, so paired runs start from the same bytes even across processes and resumes.
    """
    import numpy as np

    name = f"{spec['data']}-{model.name}-s{spec['seed']}.npz"
    path = os.path.join(output, "init", name)
    if os.path.exists(path):
        with np.load(path) as saved:
            model.set_weights([saved[f"w{i}"] for i in range(len(saved.files))])
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
        os.replace(tmp, path)  # atomic: a concurrent worker writes the same bytes
    digest = hashlib.sha1()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def base_rate(lr_schedule: str, lr: float, total_steps: int):
    """The base rate every regime runs on: `lr` constant, cosine-decayed, or warmed up first.

    `warmup_cosine` rises linearly from 0 to `lr` over `WARMUP_FRACTION` of the steps (at
    least 1), then decays to 0 by cosine over the rest: `CosineDecay` with `warmup_target`.
    """
    import keras

    if lr_schedule == "constant":
        return lr
    if lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, total_steps)
    if lr_schedule == "warmup_cosine":
        warmup = max(1, round(WARMUP_FRACTION * total_steps))
        return keras.optimizers.schedules.CosineDecay(
            0.0, total_steps - warmup, warmup_target=lr, warmup_steps=warmup
        )
    raise ValueError(f"unknown lr_schedule {lr_schedule!r}")


def curriculum_schedule(spec: dict) -> str:
    """LeRaC's `schedule=` for a run: the cell's schedule for `lerac`, else the control's name."""
    return spec["schedule"] if spec["regime"] == "lerac" else spec["regime"]


def execute(spec: dict, output: str) -> dict:
    """Trains one run and returns its record (nothing is written here)."""
    import keras
    import numpy as np

    from keras_lerac import LeRaC

    start = time.perf_counter()
    flat = spec["model"] == "mlp"
    (x, y), (x_eval, y_eval), classes = dataset(spec["data"], flat, spec["split"])
    if spec.get("label_noise"):  # the same noisy labels for every seed and regime
        from benchmarks.sensitivity.tasks import noisy_labels

        y = noisy_labels(y, spec["label_noise"], classes, spec["data"])
    keras.utils.clear_session()
    keras.utils.set_random_seed(spec["seed"])
    model = build_model(spec, x.shape[1:], classes)
    init_hash = initial_weights(model, spec, output)
    batch = spec["batch_size"]
    steps_per_epoch = len(x) // batch  # the last partial batch is dropped (tiny batches upset BN)
    total_steps = steps_per_epoch * spec["epochs"]
    lr = spec["base_lr"]
    base = base_rate(spec["lr_schedule"], lr, total_steps)
    if spec["optimizer"] == "sgd":
        optimizer = keras.optimizers.SGD(base, momentum=0.9)
    else:
        optimizer = keras.optimizers.Adam(base)
    extra = {}
    if spec.get("regime") not in (None, "conventional"):  # lerac or a control
        k = max(1, round(spec["k_fraction"] * total_steps))
        optimizer = LeRaC(
            optimizer,
            min_learning_rate=spec["start_ratio"] * lr,
            curriculum_steps=k,
            schedule=curriculum_schedule(spec),
            model=model,
        )
        optimizer.build(model.trainable_variables)
        extra = {
            "curriculum_steps": k,
            "num_buckets": len(optimizer.curriculum.start_ratios),
            # what the optimizer was built with: its schedule and each bucket's start ratio
            "lerac_schedule": optimizer.get_config()["schedule"],
            "start_ratios": [float(r) for r in optimizer.curriculum.start_ratios],
        }
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # The batch order depends on the seed only: the same in every regime.
    order = np.random.default_rng([spec["seed"], 2205_09180])
    accuracy, loss = [], []
    for _ in range(spec["epochs"]):
        index = order.permutation(len(x))[: steps_per_epoch * batch]
        history = model.fit(x[index], y[index], batch_size=batch, epochs=1, shuffle=False, verbose=0)
        loss.append(float(history.history["loss"][0]))
        logits = model.predict(x_eval, batch_size=len(x_eval), verbose=0)
        accuracy.append(float(np.mean(np.argmax(logits, axis=-1) == y_eval)))
    best = int(np.argmax(accuracy))
    record = {f: spec.get(f) for f in (RUN_FIELDS if spec["split"] == "test" else TUNE_FIELDS)}
    record.update(
        {
            "split": spec["split"],
            "final_acc": accuracy[-1],
            "best_acc": accuracy[best],
            "best_epoch": best + 1,
            "acc_curve": accuracy,
            "loss_curve": [v if math.isfinite(v) else None for v in loss],
            "diverged": not all(math.isfinite(v) for v in loss),
            "steps_per_epoch": steps_per_epoch,
            "total_steps": total_steps,
            "curriculum_steps": None,
            "num_buckets": None,
            **extra,
            "init_hash": init_hash,
            "wall_s": round(time.perf_counter() - start, 3),
            "max_rss_mb": round(_max_rss_mb()),
            "backend": keras.backend.backend(),
        }
    )
    return record


def _max_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB): a leak across runs shows here."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
