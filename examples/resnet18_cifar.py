"""The paper's setting: ResNet-18 on CIFAR-10 / CIFAR-100, conventional vs LeRaC (vs CBS).

This runs the recipe in `keras_lerac.experiments.recipes` (the official LeRaC
code's hyperparameters: SGD momentum 0.9, base rate 0.1 divided by 10 at epochs 35, 65
and 95, batch 64, 200 epochs, no augmentation; LeRaC with the official buckets -- the
stem, each residual block, the head -- and its stepwise x10-per-epoch schedule over 5
epochs), once per regime, and prints the test accuracy of each. Every flag other than
those below goes to the recipe (`--dataset`, `--epochs`, `--data-dir`, `--width`,
`--weight-decay-mode`, `--seed`, ...; see `python -m benchmarks.recipes.cifar10_resnet18
--help`). Data: TFDS `cifar10` / `cifar100` in `--data-dir`, prepared beforehand: read
with `tf.data` on TensorFlow, and on JAX and torch with `tfds.data_source` random access
into a `keras.utils.PyDataset` (no `tf.data` in the training process; the data set must
be prepared in the ArrayRecord format, `download_and_prepare(file_format="array_record")`).

Full size (a GPU; about 200 epochs per regime):

    KERAS_BACKEND=jax python examples/resnet18_cifar.py --regimes conventional lerac \
        --data-dir ~/tensorflow_datasets --output-dir resnet18-results

Smoke run (`tfds.testing.mock_data`, width 4, one block per stage, 2 steps):

    KERAS_BACKEND=jax python examples/resnet18_cifar.py --smoke
"""

import argparse
import contextlib
import os

import keras
import tensorflow_datasets as tfds

from keras_lerac.experiments import recipes as recipe

SMOKE = ["--epochs", "1", "--limit-steps", "2", "--width", "4", "--blocks-per-stage", "1", "--verbose", "0"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", nargs="+", choices=("conventional", "lerac", "cbs"))
    parser.add_argument("--output-dir", default=None, help="writes <regime>.json (history, accuracy)")
    parser.add_argument("--smoke", action="store_true", help="mock data, a tiny ResNet, 2 steps")
    args, recipe_args = parser.parse_known_args()
    regimes = args.regimes or ["conventional", "lerac"]
    if args.smoke:
        recipe_args = SMOKE + recipe_args
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")

    results = {}
    for regime in regimes:
        argv = [*recipe_args, "--regime", regime]
        if args.output_dir:
            os.makedirs(args.output_dir, exist_ok=True)
            argv += ["--output", os.path.join(args.output_dir, f"{regime}.json")]
        # In --smoke, tfds.load reads generated examples, offline.
        with tfds.testing.mock_data(num_examples=16) if args.smoke else contextlib.nullcontext():
            results[regime] = recipe.main(argv)

    print("regime        test accuracy %  train time (s)")
    for regime, result in results.items():
        print(f"{regime:<12}  {100 * result['test_accuracy']:15.2f}  {result['train_seconds']:14.1f}")
    lerac = results.get("lerac")
    if lerac:
        rates = " ".join(f"{r:.0e}" for r in lerac["initial_learning_rates"])
        print(f"LeRaC start rates (stem, blocks, head): {rates}")


if __name__ == "__main__":
    main()
