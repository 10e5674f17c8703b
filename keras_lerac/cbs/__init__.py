"""Curriculum by Smoothing (CBS), the baseline of the LeRaC paper."""

from keras_lerac.cbs.layer import (
    GaussianSmoothing,
    SmoothingSchedule,
    add_smoothing,
    gaussian_kernel,
    remove_smoothing,
    smoothing_layers,
)

__all__ = [
    "GaussianSmoothing",
    "SmoothingSchedule",
    "add_smoothing",
    "gaussian_kernel",
    "remove_smoothing",
    "smoothing_layers",
]
