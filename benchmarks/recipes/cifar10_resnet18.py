"""ResNet-18 on CIFAR-10 / CIFAR-100 with the official LeRaC settings (the paper's setting).

The recipe's code lives in `keras_lerac.experiments.recipes` (its docstring has the
hyperparameters); this is its command::

    KERAS_BACKEND=jax python -m benchmarks.recipes.cifar10_resnet18 --regime lerac \
        [--dataset cifar10|cifar100] [--epochs 200] [--data-dir DIR] [--limit-steps N]
"""

from keras_lerac.experiments.recipes import (  # noqa: F401 - the recipe's names, for its users
    BASE_LR,
    BATCH,
    CURRICULUM_EPOCHS,
    DECAY_EPOCHS,
    EPOCHS,
    MOMENTUM,
    SETTINGS,
    WEIGHT_DECAY,
    base_schedule,
    load_data,
    main,
    make_optimizer,
    official_buckets,
    official_initial_rates,
    resnet18,
)

if __name__ == "__main__":
    main()
