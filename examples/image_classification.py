"""Image classification with a KerasHub ResNet and KerasCV augmentation: conventional vs LeRaC.

`keras_hub.models.ResNetBackbone` (a ResNet-18 layout for 32x32 images: a 3x3 stem,
four stages of two basic blocks) under `keras_hub.models.ResNetImageClassifier`,
trained twice from the same seed with the same base schedule (SGD momentum 0.9, cosine
decay from 0.1): conventionally and with LeRaC, whose depth buckets (the stem first,
then block by block, the head last) start low and rise to the base rate over
`--curriculum-epochs`. The training batches go through KerasCV augmentation in a
`tf.data` map: `keras_cv.layers.RandomFlip` and `keras_cv.layers.RandAugment` (2 random
operations per image at magnitude `--magnitude`). KerasCV 0.9's layers are TensorFlow
code, so they run inside `tf.data` whatever the Keras backend, and the batches reach
JAX or PyTorch as arrays; KerasCV's models do not build under Keras 3.15, so the model
is KerasHub's (README, "KerasCV"). The task's preprocessor scales pixels to [-1, 1].
Prints the plan and both test accuracies.

Data: TFDS `cifar10` from `--data-dir` (prepared beforehand; nothing is downloaded).

Full size (a GPU):

    KERAS_BACKEND=jax python examples/image_classification.py --data-dir ~/tensorflow_datasets \
        --epochs 30

Smoke run (`tfds.testing.mock_data`, a tiny ResNet, two epochs, K = one epoch):

    KERAS_BACKEND=jax python examples/image_classification.py --smoke
"""

import argparse
import contextlib
import time

import keras
import keras_cv
import keras_hub
import tensorflow as tf
import tensorflow_datasets as tfds

import keras_lerac
from keras_lerac import LeRaC
from keras_lerac.experiments.torch_cpu import avoid_onednn_hang


def augmentation(magnitude, seed):
    """KerasCV layers, applied in turn to batches of uint8-range float images in `tf.data`."""
    layers = [
        keras_cv.layers.RandomFlip("horizontal", seed=seed),
        keras_cv.layers.RandAugment(
            value_range=(0, 255), augmentations_per_image=2, magnitude=magnitude, seed=seed
        ),
    ]

    def augment(images):
        for layer in layers:
            images = layer(images)
        return images

    return augment


def datasets(args):
    """Training (shuffled, augmented) and test batches of `(uint8-range float image, label)`."""
    augment = augmentation(args.magnitude, args.seed)
    train, test = tfds.load(
        "cifar10", split=["train", "test"], as_supervised=True, data_dir=args.data_dir, download=False
    )

    def to_float(image, label):
        return tf.cast(image, "float32"), label

    train = train.map(to_float).cache().shuffle(50_000, seed=args.seed).batch(args.batch_size)
    train = train.map(lambda images, labels: (augment(images), labels), num_parallel_calls=tf.data.AUTOTUNE)
    test = test.map(to_float).cache().batch(args.batch_size)
    steps_per_epoch = sum(1 for _ in train)  # reads (and caches) the data once
    sum(1 for _ in test)
    return train.prefetch(tf.data.AUTOTUNE), test.prefetch(tf.data.AUTOTUNE), steps_per_epoch


def build_classifier(args):
    # ResNetBackbone's basic blocks need 64 filters in the stem and the first stage.
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=args.filters,
        stackwise_num_blocks=[args.blocks] * len(args.filters),
        stackwise_num_strides=[1] + [2] * (len(args.filters) - 1),
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(32, 32, 3),
    )
    converter = keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 127.5, offset=-1.0)
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    return keras_hub.models.ResNetImageClassifier(
        backbone=backbone, num_classes=10, preprocessor=preprocessor
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="TFDS data directory holding cifar10")
    parser.add_argument("--regimes", nargs="+", default=["conventional", "lerac"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--filters", type=int, nargs="+", default=[64, 128, 256, 512], help="per stage")
    parser.add_argument("--blocks", type=int, default=2, help="basic blocks per stage")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="the peak of the cosine decay")
    parser.add_argument("--min-lr", type=float, default=1e-6, help="LeRaC: start rate of the head")
    parser.add_argument("--curriculum-epochs", type=int, default=5, help="LeRaC: K, in epochs")
    parser.add_argument("--magnitude", type=float, default=0.3, help="RandAugment's magnitude, in [0, 1]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="mock data, a tiny ResNet, two epochs")
    args = parser.parse_args()
    avoid_onednn_hang()  # torch on CPU: oneDNN's conv backward hangs on some CPUs (its docstring)
    if args.smoke:
        args.epochs, args.curriculum_epochs, args.batch_size, args.filters, args.blocks = (
            2,
            1,
            16,
            [64, 16],
            1,
        )

    # In --smoke, tfds.load reads generated examples, offline.
    with tfds.testing.mock_data(num_examples=64) if args.smoke else contextlib.nullcontext():
        train, test, steps_per_epoch = datasets(args)
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    print(f"cifar10: {steps_per_epoch} training batches of {args.batch_size} per epoch")

    accuracies = {}
    for regime in args.regimes:
        keras.utils.set_random_seed(args.seed)  # the same initial weights in both regimes
        task = build_classifier(args)
        base = keras.optimizers.schedules.CosineDecay(args.learning_rate, args.epochs * steps_per_epoch)
        optimizer = keras.optimizers.SGD(base, momentum=0.9, weight_decay=5e-4)
        if regime == "lerac":
            optimizer = LeRaC(
                optimizer,
                min_learning_rate=args.min_lr,
                curriculum_steps=args.curriculum_epochs * steps_per_epoch,
                model=task,
            )
            keras_lerac.plan(task, optimizer)
        task.compile(optimizer=optimizer)  # KerasHub's loss and accuracy metric stay
        start = time.perf_counter()
        task.fit(train, epochs=args.epochs, verbose=0 if args.smoke else 2)
        seconds = time.perf_counter() - start
        results = task.evaluate(test, verbose=0, return_dict=True)
        accuracies[regime] = results["sparse_categorical_accuracy"]
        print(
            f"{regime}: test accuracy {100 * accuracies[regime]:.2f}% ({args.epochs} epochs, {seconds:.1f} s)"
        )

    print("regime        test accuracy %")
    for regime, accuracy in accuracies.items():
        print(f"{regime:<12}  {100 * accuracy:15.2f}")


if __name__ == "__main__":
    main()
