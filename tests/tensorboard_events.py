"""Reads back the scalars Keras' `TensorBoard` callback wrote, on every backend.

Keras' `TensorBoard` writes with `tf.summary` whatever the backend, as tensor events
(plugin "scalars"); tensorboard's own reader parses them without a TensorFlow import.
"""

import pathlib

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util


def scalars(log_dir, run="train"):
    """`{tag: [(step, value), ...]}` of every scalar in `log_dir/run`, in step order."""
    files = sorted(pathlib.Path(log_dir, run).glob("events.out.tfevents*"))
    assert files, f"no TensorBoard events file under {pathlib.Path(log_dir, run)}"
    found = {}
    for path in files:
        events = event_accumulator.EventAccumulator(str(path), size_guidance={event_accumulator.TENSORS: 0})
        events.Reload()
        for tag in events.Tags()["tensors"]:
            content = events.SummaryMetadata(tag).plugin_data.plugin_name
            if content != "scalars":
                continue  # the model config ("keras"), not a scalar
            for event in events.Tensors(tag):
                found.setdefault(tag, []).append(
                    (event.step, float(tensor_util.make_ndarray(event.tensor_proto)))
                )
    return {tag: sorted(points) for tag, points in found.items()}
