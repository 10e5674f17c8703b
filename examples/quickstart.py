"""Quick start: the same small CNN trained conventionally and with LeRaC, side by side.

The data are scikit-learn's bundled handwritten digits (1,797 real 8x8 images, no
download): a fixed stratified split of 1,347 training and 450 test images. Both runs
use the same seed, the same initial weights and the same base rate (SGD 0.05, momentum
0.9). LeRaC is built the way a new user should start: `LeRaC(optimizer,
total_steps=N)`, the package's defaults rule (K = 2.5 % of the training steps, the
bucket nearest the output starting at 1e-4 x the base rate); `--curriculum-steps` and
`--min-lr` override it. The script prints the curriculum plan, both test accuracies,
and writes the curriculum plot to `--output`'s directory (default
`lerac-results/quickstart/`, made if missing), and prints where.

Run (any backend; a few epochs take seconds on a CPU):

    KERAS_BACKEND=jax python examples/quickstart.py --epochs 20 --output lerac-results/quickstart

Smoke run (2 epochs, about 20 s on a CPU; two epochs are too few to tell the two apart):

    KERAS_BACKEND=jax python examples/quickstart.py --smoke
"""

import argparse
import os
import time

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_lerac
from keras_lerac import LeRaC
from keras_lerac.experiments.torch_cpu import avoid_onednn_hang


def digits():
    """`((x_train, y_train), (x_test, y_test))`: 8x8x1 images in [0, 1], int labels."""
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    y = data.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return (x_train, y_train), (x_test, y_test)


def cnn(num_classes=10):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu", name="fc")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.05, help="the base rate of both runs")
    parser.add_argument(
        "--min-lr", type=float, default=None, help="LeRaC: start rate of the last bucket (default: the rule)"
    )
    parser.add_argument(
        "--curriculum-steps", type=int, default=None, help="LeRaC: K, in steps (default: the rule)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output", default=os.path.join("lerac-results", "quickstart"), help="directory of curriculum.png"
    )
    parser.add_argument("--smoke", action="store_true", help="2 epochs")
    args = parser.parse_args()
    if args.smoke:
        args.epochs = 2
    avoid_onednn_hang()  # torch on CPU: oneDNN's conv backward hangs on some CPUs (its docstring)

    (x_train, y_train), (x_test, y_test) = digits()
    steps_per_epoch = int(np.ceil(len(x_train) / args.batch_size))
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    print(f"digits: {len(x_train)} training, {len(x_test)} test images; {steps_per_epoch} steps per epoch")

    accuracies = {}
    for regime in ("conventional", "lerac"):
        keras.utils.set_random_seed(args.seed)  # the same initial weights and batch order
        model = cnn()
        optimizer = keras.optimizers.SGD(args.learning_rate, momentum=0.9)
        if regime == "lerac":
            overrides = {"min_learning_rate": args.min_lr, "curriculum_steps": args.curriculum_steps}
            optimizer = LeRaC(
                optimizer,
                total_steps=args.epochs * steps_per_epoch,  # the defaults rule picks K and the start rate
                model=model,
                **{name: value for name, value in overrides.items() if value is not None},
            )
            print(
                f"lerac: K = {optimizer.settings.curriculum_steps} of {args.epochs * steps_per_epoch} steps"
            )
            keras_lerac.plan(model, optimizer)  # one row per depth bucket
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        start = time.perf_counter()
        model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - start
        _, accuracies[regime] = model.evaluate(x_test, y_test, verbose=0)
        print(
            f"{regime}: test accuracy {100 * accuracies[regime]:.2f}% ({args.epochs} epochs, {seconds:.1f} s)"
        )
        if regime == "lerac":
            step = int(keras.ops.convert_to_numpy(optimizer.iterations))
            print(
                f"lerac: {step} steps; rates now {[f'{r:.3g}' for r in optimizer.current_learning_rates()]}"
            )
            os.makedirs(args.output, exist_ok=True)
            path = os.path.join(args.output, "curriculum.png")
            keras_lerac.plot_curriculum(optimizer, path=path)
            print(f"Wrote the curriculum plot to {path}")

    gap = 100 * (accuracies["lerac"] - accuracies["conventional"])
    print(f"LeRaC - conventional: {gap:+.2f} points (one seed; compare several seeds before concluding)")


if __name__ == "__main__":
    main()
