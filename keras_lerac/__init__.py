"""keras-lerac: Learning Rate Curriculum (LeRaC) for Keras 3.

LeRaC gives every depth bucket of a model its own learning rate, highest near the
input, and raises them all to the base rate during the first K iterations.
"""

from keras_lerac import schedules
from keras_lerac.depth import depth_buckets, layer_depths
from keras_lerac.optimizer import LeRaC, LeRaCOptimizer
from keras_lerac.schedules import CurriculumSchedule

__version__ = "0.1.0"

__all__ = [
    "CurriculumSchedule",
    "LeRaC",
    "LeRaCOptimizer",
    "depth_buckets",
    "layer_depths",
    "schedules",
]
