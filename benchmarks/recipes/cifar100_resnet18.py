"""ResNet-18 on CIFAR-100 with the official LeRaC settings (lowest start rate 1e-7,
head start factor 1e-5). Same options as `cifar10_resnet18`, whose code it runs::

    KERAS_BACKEND=jax python -m benchmarks.recipes.cifar100_resnet18 --regime lerac
"""

from keras_lerac.experiments.recipes import main

if __name__ == "__main__":
    main(default_dataset="cifar100")
