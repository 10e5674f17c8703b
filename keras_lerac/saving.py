"""Loading a saved model with its optimizer, also when its class overrides `compile()`.

Keras restores a saved model's optimizer through `Model.compile_from_config`, which skips
(with a warning) any model whose class overrides `compile()`: KerasHub's task models
(`BertTextClassifier`, `ImageClassifier`, `CausalLM`, ...) do, and their constructor
compiles a default Adam. So `keras.saving.load_model` gives such a task back with Adam,
and the saved optimizer's state (LeRaC's buckets, step count and slots) is not restored;
nothing of LeRaC runs during that load, so LeRaC cannot mend it from its side.
`load_model` below loads the model, and when Keras skipped the compile config, compiles
the model with the saved one and restores the optimizer's state from the same file.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
import zlib
from typing import Any

import keras

from keras_lerac.buckets import AssignmentMismatchError

__all__ = ["compile_skipped", "load_model", "restore_compile"]


def _check_keras_file(filepath: Any) -> None:
    """Raises a `ValueError` saying what is wrong if a local `.keras` file cannot be read.

    Keras reports a `.keras` file that exists but is not a readable zip archive (cut
    off by an interrupted save or copy, or not a Keras model at all) as "File not
    found". This check names the real problem first. Paths that are not an existing
    local `.keras` file (a missing file, `.h5`, remote paths, file objects) are left to
    Keras and its own messages.

    Args:
        filepath: The path given to `load_model`.

    Raises:
        ValueError: The file exists but is not a zip archive, or is one without a Keras
            model's `config.json`.
    """
    if not isinstance(filepath, (str, os.PathLike)):
        return
    path = os.fspath(filepath)
    if not str(path).endswith(".keras") or not os.path.isfile(path):
        return
    try:
        # Reads the archive's directory only (at the end of the file), not the weights.
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise _unreadable(path, f"a .keras file is a zip archive; here: {error}") from None
    if "config.json" not in names:
        raise ValueError(
            f"Cannot load {path!r}: the file is a zip archive but not a Keras model (it has no config.json; "
            "a model saved with `model.save(path)` has config.json and model.weights.h5). Check the path, "
            "or save the model again with `model.save(path)`."
        )


def _unreadable(path: str, detail: str) -> ValueError:
    """The error for a `.keras` file that exists but cannot be read as an archive."""
    return ValueError(
        f"Cannot load {path!r}: the file exists ({os.path.getsize(path)} bytes) but is not a readable "
        f".keras archive ({detail}), so it is truncated or damaged (an interrupted save or copy leaves "
        "such a file) or not a Keras model. Copy or download the complete file again, or save the model "
        "again with `model.save(path)`."
    )


def _saved_config(filepath: str) -> dict:
    with zipfile.ZipFile(filepath) as archive:
        return json.loads(archive.read("config.json"))


def saved_compile_config(filepath: str) -> dict | None:
    """The compile config stored in a `.keras` file (None if it was saved uncompiled)."""
    return _saved_config(filepath).get("compile_config")


def _saved_class(filepath: Any, custom_objects: dict | None) -> type | None:
    """The model class a local `.keras` file names (its config's `registered_name` or
    `class_name`, looked up as Keras does), or None if it is not a local file or the class
    is not registered (Keras' own `Functional` and `Sequential` are not: they never skip)."""
    if not isinstance(filepath, (str, os.PathLike)) or not os.path.isfile(filepath):
        return None
    config = _saved_config(os.fspath(filepath))
    for name in (config.get("registered_name"), config.get("class_name")):
        found = keras.saving.get_registered_object(name, custom_objects) if name else None
        if isinstance(found, type):
            return found
    return None


def compile_skipped(model: keras.Model | type) -> bool:
    """Whether Keras' `load_model` skips this model's (or model class's) compile config:
    its class overrides `compile()` but not `compile_from_config()`, as KerasHub's tasks do."""
    cls = model if isinstance(model, type) else type(model)
    return (
        cls.compile is not keras.Model.compile and cls.compile_from_config is keras.Model.compile_from_config
    )


def restore_compile(model: keras.Model, filepath: str, custom_objects: dict | None = None) -> keras.Model:
    """Compiles `model` as it was saved in `filepath`, and restores the optimizer's state.

    Args:
        model: The model `keras.saving.load_model(filepath)` returned.
        filepath: The `.keras` file.
        custom_objects: As for `keras.saving.load_model`.

    Returns:
        `model`, compiled with the saved optimizer, loss and metrics, the optimizer built
        and its state (step count, slots; LeRaC's buckets and rate scale) restored.
    """
    config = saved_compile_config(filepath)
    if not config:
        return model
    with keras.saving.custom_object_scope(custom_objects or {}):
        config = keras.saving.deserialize_keras_object(config)
    model.compile(**config)
    try:
        model.optimizer.build(model.trainable_variables)  # LeRaC: the saved bucket assignment
    except AssignmentMismatchError as error:
        raise AssignmentMismatchError(
            f"{error} If it was trained with LoRA: Keras saves LoRA layers merged into their "
            "kernels and loads them without LoRA. Enable LoRA again before restoring the "
            "optimizer: `model = keras_lerac.load_model(path, compile=False)`, "
            "`model.backbone.enable_lora(rank)`, `keras_lerac.restore_compile(model, path)` "
            "(the step count and the slots come back; the LoRA factors restart from Keras' merge)."
        ) from None
    model.load_weights(filepath)  # the layers again (unchanged) and the optimizer's state
    return model


def load_model(
    filepath: str, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True
) -> Any:
    """`keras.saving.load_model`, and the saved optimizer even where Keras skips it.

    For most models this is `keras.saving.load_model`. For a model whose class overrides
    `compile()` (KerasHub tasks), Keras returns the model compiled by its constructor
    (a default Adam) and warns; this function then compiles it with the saved compile
    config and restores the optimizer's state, so a task saved with LeRaC comes back
    with LeRaC, its buckets and its position in the curriculum.

    Args:
        filepath: A `.keras` file.
        custom_objects: As for `keras.saving.load_model`.
        compile: Whether to restore the compile config (and the optimizer).
        safe_mode: As for `keras.saving.load_model`.

    Returns:
        The model.

    Raises:
        ValueError: The file is missing, or exists but is not a readable `.keras`
            archive (truncated, damaged, or not a Keras model): the message says which.

    Example:

    ```python
    import keras
    import keras_lerac

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(keras_lerac.LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4,
                                    curriculum_steps=10, model=model), loss="mse")
    model.save("model.keras")
    restored = keras_lerac.load_model("model.keras")   # for a KerasHub task too
    ```
    """
    _check_keras_file(filepath)  # a truncated file: say so, not Keras' "File not found"
    cls = _saved_class(filepath, custom_objects)
    skipped = cls is not None and compile_skipped(cls)
    with warnings.catch_warnings():
        if skipped:
            # Keras would skip the compile config (and warn): load without it, and compile
            # it below. The default optimizer the class's constructor compiled does not
            # take the saved optimizer's state; Keras' loader (`saving_lib`) warns that it
            # skips it, and the state comes back below with the saved optimizer.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"keras\.src\.saving\.saving_lib$")
        try:
            model = keras.saving.load_model(
                filepath, custom_objects=custom_objects, compile=compile and not skipped, safe_mode=safe_mode
            )
        except (zipfile.BadZipFile, zlib.error) as error:
            # A whole archive with a damaged member ("Bad CRC-32 for file 'model.weights.h5'").
            if not isinstance(filepath, (str, os.PathLike)) or not os.path.isfile(filepath):
                raise
            raise _unreadable(os.fspath(filepath), f"{type(error).__name__}: {error}") from error
    if skipped and compile:
        restore_compile(model, filepath, custom_objects)
    return model
