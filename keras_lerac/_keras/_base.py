"""The error every accessor of `keras_lerac._keras` raises when Keras changed."""

from __future__ import annotations

import keras

# The Keras releases keras-lerac is tested with (pyproject.toml declares the same range;
# `contract.TESTED_MINORS` is it as numbers).
TESTED_RANGE = ">=3.12,<3.16"


class KerasInternalsError(RuntimeError):
    """A private part of Keras that keras-lerac relies on is missing or changed."""


def _missing(what: str, error: Exception | None = None) -> KerasInternalsError:
    return KerasInternalsError(
        f"keras-lerac relies on {what}, which keras {keras.__version__} does not provide "
        f"({error!r}). keras-lerac is tested with keras{TESTED_RANGE}; please report this."
    )
