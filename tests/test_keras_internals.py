"""Every Keras internal the package relies on still holds on the installed Keras."""

import keras

from keras_lerac import _keras


def test_every_assumption_on_keras_internals_holds():
    checked = _keras.check_assumptions()
    # Every accessor of the module is covered by the check (the backend-specific one
    # only on its backend).
    public = set(_keras.__all__) - {"KerasInternalsError", "check_assumptions"}
    backend_specific = {"torch_fusable_classes", "slots"} if keras.backend.backend() != "torch" else {"slots"}
    assert public - backend_specific - set(checked) == set(), "accessors without a check"
