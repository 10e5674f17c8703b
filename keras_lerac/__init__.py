"""keras-lerac: Learning Rate Curriculum (LeRaC) for Keras 3.

LeRaC gives every depth bucket of a model its own learning rate, highest near the
input, and raises them all to the base rate during the first K iterations.

`import keras_lerac` is light: it loads neither Keras nor a backend. Each name below is
imported from its module on first use (`keras_lerac.LeRaC`, `from keras_lerac import
LeRaC`), so a program can still choose its backend, set up TensorFlow's logical devices
or a distribution strategy after importing the package, and the `keras-lerac` command
answers `--help` at once. When Keras is already imported, the classes that Keras must
find to load a saved model (LeRaC, its schedules, `GaussianSmoothing`) are registered
right away; otherwise they are registered on the first use of any of these names.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0rc1"

# Public name -> the module that defines it.
_EXPORTS = {
    "LeRaC": "keras_lerac.optimizer",
    "LeRaCOptimizer": "keras_lerac.optimizer",
    "find_lerac": "keras_lerac.optimizer",
    "load_model": "keras_lerac.saving",
    "restore_compile": "keras_lerac.saving",
    "Curriculum": "keras_lerac.curriculum",
    "CurriculumSchedule": "keras_lerac.curriculum",
    "register_schedule": "keras_lerac.schedules",
    "schedule_names": "keras_lerac.schedules",
    "depth_buckets": "keras_lerac.depth",
    "layer_depths": "keras_lerac.depth",
    "CurriculumLogger": "keras_lerac.callbacks",
    "plan": "keras_lerac.summary",
    "plan_rows": "keras_lerac.summary",
    "plot_accuracy": "keras_lerac.plotting",
    "plot_curriculum": "keras_lerac.plotting",
    "GaussianSmoothing": "keras_lerac.cbs",
    "SmoothingSchedule": "keras_lerac.cbs",
    "add_smoothing": "keras_lerac.cbs",
    "remove_smoothing": "keras_lerac.cbs",
}
_SUBMODULES = (
    "buckets",
    "callbacks",
    "cbs",
    "curriculum",
    "depth",
    "experiments",
    "optimizer",
    "plotting",
    "saving",
    "schedules",
    "summary",
)
# Modules that register classes with Keras' serialization (needed by `load_model`).
_REGISTERING = ("keras_lerac.optimizer", "keras_lerac.cbs")

__all__ = [
    "Curriculum",
    "CurriculumLogger",
    "CurriculumSchedule",
    "GaussianSmoothing",
    "LeRaC",
    "LeRaCOptimizer",
    "SmoothingSchedule",
    "__version__",
    "add_smoothing",
    "depth_buckets",
    "find_lerac",
    "layer_depths",
    "load_model",
    "plan",
    "plan_rows",
    "plot_accuracy",
    "plot_curriculum",
    "register_schedule",
    "remove_smoothing",
    "restore_compile",
    "schedule_names",
]


def _register() -> None:
    for module in _REGISTERING:
        importlib.import_module(module)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        _register()
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_lerac.{name}")
    raise AttributeError(f"module 'keras_lerac' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))


if "keras" in sys.modules:  # Keras is loaded anyway: make saved models loadable now.
    _register()

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come lazily
    from keras_lerac.callbacks import CurriculumLogger
    from keras_lerac.cbs import GaussianSmoothing, SmoothingSchedule, add_smoothing, remove_smoothing
    from keras_lerac.curriculum import Curriculum, CurriculumSchedule
    from keras_lerac.depth import depth_buckets, layer_depths
    from keras_lerac.optimizer import LeRaC, LeRaCOptimizer, find_lerac
    from keras_lerac.plotting import plot_accuracy, plot_curriculum
    from keras_lerac.saving import load_model, restore_compile
    from keras_lerac.schedules import register_schedule, schedule_names
    from keras_lerac.summary import plan, plan_rows
