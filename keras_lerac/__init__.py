"""keras-lerac: Learning Rate Curriculum (LeRaC) for Keras 3.

LeRaC gives every depth bucket of a model its own learning rate, highest near the
input, and raises them all to the base rate during the first K iterations.
"""

from keras_lerac import cbs, schedules
from keras_lerac.cbs import GaussianSmoothing, SmoothingSchedule, add_smoothing, remove_smoothing
from keras_lerac.depth import depth_buckets, layer_depths
from keras_lerac.optimizer import LeRaC, LeRaCOptimizer
from keras_lerac.schedules import CurriculumSchedule

__version__ = "0.1.0"

__all__ = [
    "CurriculumSchedule",
    "GaussianSmoothing",
    "SmoothingSchedule",
    "add_smoothing",
    "cbs",
    "remove_smoothing",
    "LeRaC",
    "LeRaCOptimizer",
    "depth_buckets",
    "layer_depths",
    "schedules",
]

# --- Curriculum tools: logger, plan, plots, built-in models (keras_lerac.callbacks,
# keras_lerac.plan, keras_lerac.plotting, keras_lerac.models; the CLI is keras_lerac.cli).
from keras_lerac.callbacks import CurriculumLogger  # noqa: E402
from keras_lerac.plan import plan, plan_rows  # noqa: E402
from keras_lerac.plotting import plot_accuracy, plot_curriculum  # noqa: E402

__all__ += ["CurriculumLogger", "plan", "plan_rows", "plot_accuracy", "plot_curriculum"]
