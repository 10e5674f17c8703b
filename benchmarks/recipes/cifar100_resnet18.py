#!/usr/bin/env python
"""ResNet-18 on CIFAR-100 with the official LeRaC settings (lowest start rate 1e-7,
head start factor 1e-5). Same options as `cifar10_resnet18.py`, whose code it runs::

    KERAS_BACKEND=jax python benchmarks/recipes/cifar100_resnet18.py --regime lerac
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cifar10_resnet18 import main  # noqa: E402

if __name__ == "__main__":
    main(default_dataset="cifar100")
