"""Curriculum by Smoothing (CBS), the baseline of the LeRaC paper.

Curriculum by Smoothing (Sinha et al., NeurIPS 2020) low-pass filters the feature maps
of a CNN with a Gaussian kernel placed right after every convolution (conv -> smoothing
-> normalisation -> activation). The standard deviation `sigma` of the kernel starts
high (blurry, "easy" features) and is annealed towards zero during training, when the
network becomes the original one again.

* `GaussianSmoothing` and `gaussian_kernel` (`keras_lerac.cbs.layer`): the layer and
  its reference kernel.
* `add_smoothing`, `remove_smoothing` and `smoothing_layers`
  (`keras_lerac.cbs.rewrite`): put a smoothing layer after every convolution of a
  Sequential or functional model, take them out again, find them.
* `SmoothingSchedule` (`keras_lerac.cbs.schedule`): the callback that anneals sigma.

The modules import downwards only: `schedule` -> `rewrite` -> `layer`.
"""

from keras_lerac.cbs.layer import GaussianSmoothing, gaussian_kernel
from keras_lerac.cbs.rewrite import add_smoothing, remove_smoothing, smoothing_layers
from keras_lerac.cbs.schedule import SmoothingSchedule

__all__ = [
    "GaussianSmoothing",
    "SmoothingSchedule",
    "add_smoothing",
    "gaussian_kernel",
    "remove_smoothing",
    "smoothing_layers",
]
