"""Every Keras internal the package relies on still holds on the installed Keras, and the
first `LeRaC.build` in a process checks the installed Keras (cheaply) before any work."""

import warnings

import keras
import pytest
from helpers import mlp

from keras_lerac import LeRaC, _keras
from keras_lerac._keras import contract


def test_every_assumption_on_keras_internals_holds():
    checked = _keras.check_assumptions()
    # Every accessor of the module is covered by the check (the backend-specific one
    # only on its backend).
    not_accessors = {"KerasInternalsError", "check_assumptions", "check_installed_keras", "TESTED_RANGE"}
    public = set(_keras.__all__) - not_accessors
    backend_specific = {"torch_fusable_classes", "slots"} if keras.backend.backend() != "torch" else {"slots"}
    assert public - backend_specific - set(checked) == set(), "accessors without a check"


def test_the_tested_range_is_the_one_pyproject_declares():
    import pathlib
    import re

    pyproject = (pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert re.search(r'"keras(>=[\d.]+,<[\d.]+)"', pyproject).group(1) == _keras.TESTED_RANGE
    low, high = contract.TESTED_MINORS
    assert _keras.TESTED_RANGE == f">={low[0]}.{low[1]},<{high[0]}.{high[1]}"


def fresh_lerac():
    model = mlp(depth=3)
    return model, LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10, model=model)


@pytest.fixture
def unchecked(monkeypatch):
    """As in a new process: the next build checks Keras."""
    monkeypatch.setattr(contract, "_checked", False)


def test_the_installed_keras_passes_the_run_time_check_once_per_process(unchecked, monkeypatch):
    calls = []
    real = contract.assumptions
    monkeypatch.setattr(contract, "assumptions", lambda opt: calls.append(1) or real(opt))
    for _ in range(2):
        model, opt = fresh_lerac()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # in the tested range: no warning
            opt.build(model.trainable_variables)
    assert len(calls) == 1 and contract._checked


@pytest.mark.parametrize(
    "patch, named",
    [
        # A hook whose signature changed.
        (
            lambda m: m.setattr(keras.optimizers.Optimizer, "_backend_update_step", lambda self, grads: None),
            "_backend_update_step",
        ),
        # A private function Keras removed.
        (
            lambda m: m.delattr(
                __import__("keras.src.utils.tracking").src.utils.tracking, "no_automatic_dependency_tracking"
            ),
            "no_automatic_dependency_tracking",
        ),
    ],
    ids=["signature changed", "name gone"],
)
def test_a_failed_assumption_stops_the_first_build_with_one_line(unchecked, monkeypatch, patch, named):
    model, opt = fresh_lerac()
    patch(monkeypatch)
    with pytest.raises(_keras.KerasInternalsError) as caught:
        opt.build(model.trainable_variables)
    message = str(caught.value)
    assert "\n" not in message
    assert named in message and f"keras {keras.__version__}" in message and _keras.TESTED_RANGE in message
    assert not opt.built and not contract._checked  # before any work; checked again next time


@pytest.mark.parametrize("version", ["3.16.0", "3.11.3", "4.0.0.dev2026"])
def test_a_keras_outside_the_tested_range_warns_in_one_line(unchecked, monkeypatch, version):
    monkeypatch.setattr(keras, "__version__", version)
    model, opt = fresh_lerac()
    with pytest.warns(UserWarning, match="tested with keras") as caught:
        opt.build(model.trainable_variables)
    message = str(caught[0].message)
    assert "\n" not in message and f"keras {version}" in message and _keras.TESTED_RANGE in message
    assert opt.built  # a warning only: the assumptions hold
