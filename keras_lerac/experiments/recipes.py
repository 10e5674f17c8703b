"""ResNet-18 on CIFAR-10 / CIFAR-100: the LeRaC paper's setting (official-code hyperparameters).

The code of the recipe (`python -m benchmarks.recipes.cifar10_resnet18`, also run by
`examples/resnet18_cifar.py`)::

    KERAS_BACKEND=jax python -m benchmarks.recipes.cifar10_resnet18 --regime lerac \
        [--dataset cifar10|cifar100] [--epochs 200] [--data-dir DIR] [--limit-steps N] \
        [--width 64] [--output results.json]

Data: `keras_lerac.experiments.data.tfds_image_batches` (TensorFlow Datasets, prepared
in `--data-dir`: `tf.data` on TensorFlow; on JAX and torch `tfds.data_source` random
access, which needs the ArrayRecord format), images scaled to mean 0.5 / std 0.5 per
channel, no augmentation, batch 64 -- as the official LeRaC code.

Model: ResNet-18 for CIFAR (3x3 stem conv, no max-pool, 4 stages of 2 basic blocks,
widths 64/128/256/512 times `--width / 64`), global average pool, dense head.

Optimizer: SGD momentum 0.9, weight decay 1e-4, base rate 0.1 with a step decay /10
at epochs 35, 65 and 95 (`PiecewiseConstantDecay`, one boundary per epoch * steps).

Weight decay: Keras' `SGD(weight_decay=...)` is DECOUPLED: before each update it does
`w -= lr * wd * w`, outside the momentum buffer. torch's `SGD(weight_decay=...)`
(the official code) is COUPLED L2: it adds `wd * w` to the gradient, which then goes
through momentum, so in steady state it acts about `1 / (1 - momentum)` = 10 times
stronger than the decoupled form with the same number, and it also decays BN
parameters and biases. `--weight-decay-mode coupled` reproduces the coupled form
with an L2 penalty `(wd / 2) * ||w||^2` on every trainable variable (gradient `wd * w`)
added to the loss; the default `decoupled` uses the optimizer's `weight_decay`.

Regimes:

- `conventional`: SGD as above.
- `lerac`: `LeRaC(SGD(...), schedule="stepwise", factor=10,
  update_every=steps_per_epoch, curriculum_steps=5 * steps_per_epoch,
  initial_learning_rates=..., buckets=...)` with the official code's buckets: the stem
  (at the base rate 0.1), each of the 8 residual blocks (its convs, batch norms and
  shortcut share one rate: 0.1 * 0.1**i floored at the lowest start rate, 1e-6 for
  CIFAR-10, 1e-7 for CIFAR-100) and the head (start rate 0.1 * head factor, 1e-3 for
  CIFAR-10 and 1e-5 for CIFAR-100). Every rate is multiplied by 10 once per epoch
  until it reaches the base rate; after 5 epochs the base schedule runs alone.
- `cbs`: `keras_lerac.cbs.add_smoothing(model, kernel_size=3, sigma=1.0)` and
  `SmoothingSchedule(decay=0.9, every_epochs=5)` with the conventional optimizer.
"""

from __future__ import annotations

import argparse
import json
import time

# Official-code hyperparameters (lerac-facts.md section 2).
SETTINGS = {
    "cifar10": {"classes": 10, "min_lr": 1e-6, "head_factor": 1e-3},
    "cifar100": {"classes": 100, "min_lr": 1e-7, "head_factor": 1e-5},
}
BASE_LR = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
BATCH = 64
DECAY_EPOCHS = (35, 65, 95)
CURRICULUM_EPOCHS = 5
EPOCHS = 200


def resnet18(
    num_classes: int, width: int = 64, input_shape=(32, 32, 3), l2: float = 0.0, blocks_per_stage: int = 2
):
    """ResNet-18 for 32x32 inputs. Layer names: `stem_*`, `s{stage}b{block}_*`, `head`.

    `blocks_per_stage=2` is ResNet-18; smaller values only make smoke runs cheaper.
    """
    import keras
    from keras import layers

    reg = keras.regularizers.L2(l2) if l2 else None
    bn = dict(momentum=0.9, epsilon=1e-5, beta_regularizer=reg, gamma_regularizer=reg)

    def conv(filters, kernel, stride, name):
        return layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            kernel_regularizer=reg,
            name=name,
        )

    inputs = keras.Input(input_shape)
    x = conv(width, 3, 1, "stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn", **bn)(x)
    x = layers.ReLU(name="stem_relu")(x)
    channels = width
    for stage, mult in enumerate((1, 2, 4, 8), start=1):
        for block in range(1, blocks_per_stage + 1):
            p = f"s{stage}b{block}"
            filters = width * mult
            stride = 2 if (block == 1 and stage > 1) else 1
            y = conv(filters, 3, stride, f"{p}_conv1")(x)
            y = layers.BatchNormalization(name=f"{p}_bn1", **bn)(y)
            y = layers.ReLU(name=f"{p}_relu1")(y)
            y = conv(filters, 3, 1, f"{p}_conv2")(y)
            y = layers.BatchNormalization(name=f"{p}_bn2", **bn)(y)
            shortcut = x
            if stride != 1 or channels != filters:
                shortcut = conv(filters, 1, stride, f"{p}_short_conv")(x)
                shortcut = layers.BatchNormalization(name=f"{p}_short_bn", **bn)(shortcut)
            x = layers.Add(name=f"{p}_add")([y, shortcut])
            x = layers.ReLU(name=f"{p}_out")(x)
            channels = filters
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, kernel_regularizer=reg, bias_regularizer=reg, name="head")(x)
    return keras.Model(inputs, outputs, name="resnet18_cifar")


def official_buckets(model) -> list[list]:
    """The official code's LeRaC groups: stem, each residual block, head (input first)."""
    blocks = sorted(
        {
            layer.name.split("_")[0]
            for layer in model.layers
            if layer.name[:1] == "s" and layer.name[1:2].isdigit()
        },
        key=lambda n: (int(n[1]), int(n[3:])),
    )
    prefixes = ["stem_", *(f"{b}_" for b in blocks), "head"]
    buckets = []
    for prefix in prefixes:
        members = [
            layer for layer in model.layers if layer.name.startswith(prefix) and layer.trainable_weights
        ]
        buckets.append(members)
    return buckets


def official_initial_rates(dataset: str, num_blocks: int = 8) -> list[float]:
    """Stem at the base rate, block i at base * 0.1**i floored at the lowest rate, head at base * factor."""
    s = SETTINGS[dataset]
    blocks = [max(BASE_LR * 0.1**i, s["min_lr"]) for i in range(1, num_blocks + 1)]
    return [BASE_LR, *blocks, BASE_LR * s["head_factor"]]


def base_schedule(steps_per_epoch: int):
    import keras

    return keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[e * steps_per_epoch for e in DECAY_EPOCHS],
        values=[BASE_LR * 0.1**i for i in range(len(DECAY_EPOCHS) + 1)],
    )


def make_optimizer(regime: str, model, dataset: str, steps_per_epoch: int, weight_decay_mode: str):
    import keras

    from keras_lerac import LeRaC

    wd = WEIGHT_DECAY if weight_decay_mode == "decoupled" else None
    sgd = keras.optimizers.SGD(base_schedule(steps_per_epoch), momentum=MOMENTUM, weight_decay=wd)
    if regime != "lerac":
        return sgd
    buckets = official_buckets(model)
    return LeRaC(
        sgd,
        initial_learning_rates=official_initial_rates(dataset, num_blocks=len(buckets) - 2),
        buckets=buckets,
        schedule="stepwise",
        factor=10.0,
        update_every=steps_per_epoch,
        curriculum_steps=CURRICULUM_EPOCHS * steps_per_epoch,
    )


def load_data(dataset: str, data_dir: str | None, limit_steps: int | None, seed: int = 0):
    """`(train, test, steps_per_epoch)`: `tf.data` on TensorFlow, a `PyDataset` over
    `tfds.data_source` on JAX and torch (`keras_lerac.experiments.data.tfds_image_batches`)."""
    from keras_lerac.experiments.data import tfds_image_batches

    train, steps = tfds_image_batches(
        dataset, "train", BATCH, shuffle=True, seed=seed, data_dir=data_dir, limit_batches=limit_steps
    )
    test, _ = tfds_image_batches(dataset, "test", BATCH, data_dir=data_dir, limit_batches=limit_steps)
    return train, test, steps


def main(argv=None, default_dataset: str = "cifar10") -> dict:
    parser = argparse.ArgumentParser(description="ResNet-18 on CIFAR: conventional / LeRaC / CBS")
    parser.add_argument("--dataset", choices=sorted(SETTINGS), default=default_dataset)
    parser.add_argument("--regime", choices=("conventional", "lerac", "cbs"), default="lerac")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    parser.add_argument(
        "--width", type=int, default=64, help="stem width (64 = ResNet-18; small for smoke runs)"
    )
    parser.add_argument("--blocks-per-stage", type=int, default=2, help="2 = ResNet-18; 1 for smoke runs")
    parser.add_argument("--weight-decay-mode", choices=("decoupled", "coupled"), default="decoupled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="write the history and test accuracy as JSON")
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    import keras

    from keras_lerac.experiments.torch_cpu import avoid_onednn_hang

    avoid_onednn_hang()  # torch on CPU: oneDNN's conv backward hangs on some CPUs (its docstring)
    keras.utils.set_random_seed(args.seed)
    settings = SETTINGS[args.dataset]
    train, test, steps_per_epoch = load_data(args.dataset, args.data_dir, args.limit_steps, args.seed)
    l2 = WEIGHT_DECAY / 2 if args.weight_decay_mode == "coupled" else 0.0
    model = resnet18(settings["classes"], width=args.width, l2=l2, blocks_per_stage=args.blocks_per_stage)
    callbacks = []
    if args.regime == "cbs":
        from keras_lerac.cbs import SmoothingSchedule, add_smoothing

        model = add_smoothing(model, kernel_size=3, sigma=1.0)
        callbacks.append(SmoothingSchedule(decay=0.9, every_epochs=5))
    optimizer = make_optimizer(args.regime, model, args.dataset, steps_per_epoch, args.weight_decay_mode)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(
        train, epochs=args.epochs, validation_data=test, callbacks=callbacks, verbose=args.verbose
    )
    _, accuracy = model.evaluate(test, verbose=0)
    result = {
        "dataset": args.dataset,
        "regime": args.regime,
        "epochs": args.epochs,
        "width": args.width,
        "steps_per_epoch": steps_per_epoch,
        "weight_decay_mode": args.weight_decay_mode,
        "backend": keras.backend.backend(),
        "test_accuracy": float(accuracy),
        "train_seconds": time.perf_counter() - start,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    if args.regime == "lerac":
        result["initial_learning_rates"] = [float(r) for r in optimizer.settings.initial_learning_rates]
    print(f"{args.dataset} {args.regime}: test accuracy {100 * accuracy:.2f}%")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
