"""A `.keras` file saved mid-curriculum on one backend resumes on every backend.

Each of TensorFlow, JAX and PyTorch trains a small MLP with LeRaC(Adam) for half the
curriculum, saves it, and trains on uninterrupted to the end; then each backend loads
each of the three files, trains the remaining steps on the same batches, and must end
where the saver's uninterrupted run ended (9 pairs). One subprocess per backend (Keras
picks its backend once per process) saves, waits for the other two files, then resumes
all three; the suite runs this from the TensorFlow pytest process only, so that the 3
subprocesses run once per suite.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import only_backends

BACKENDS = ("tensorflow", "jax", "torch")

COMMON = """
import json, sys
import numpy as np
import keras
import keras_lerac
from keras_lerac import LeRaC

rng = np.random.default_rng(0)
x = rng.normal(size=(48, 6)).astype("float32")
y = (x @ rng.normal(size=(6, 3))).argmax(1).astype("int32")
FIT = dict(batch_size=16, shuffle=False, verbose=0)  # 3 steps an epoch, the same batches every epoch

def weights(model):
    return [np.asarray(w).tolist() for w in model.get_weights()]
"""

SAVE = """
keras.utils.set_random_seed(0)
inputs = keras.Input((6,))
h = keras.layers.Dense(16, activation="relu")(inputs)
h = keras.layers.Dense(16, activation="relu")(h)
model = keras.Model(inputs, keras.layers.Dense(3)(h))
opt = LeRaC(keras.optimizers.Adam(0.01), min_learning_rate=1e-5, curriculum_steps=6, model=model)
model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(x, y, epochs=1, **FIT)  # 3 of the 6 curriculum steps
model.save(sys.argv[1])
model.fit(x, y, epochs=2, **FIT)  # on, uninterrupted, to step 9
json.dump({"steps": int(keras.ops.convert_to_numpy(opt.iterations)), "weights": weights(model)},
          open(sys.argv[2], "w"))
open(sys.argv[1] + ".done", "w").close()  # the file is complete
"""

RESUME = """
import os, time
files = json.loads(sys.argv[3])
deadline = time.monotonic() + 200
while not all(os.path.exists(p + ".done") for p in files.values()):  # the other backends' files
    assert time.monotonic() < deadline, "a saver did not finish"
    time.sleep(0.2)
out = {}
for saver, path in files.items():
    model = keras_lerac.load_model(path)
    opt = model.optimizer
    start = int(keras.ops.convert_to_numpy(opt.iterations))
    model.fit(x, y, epochs=2, **FIT)
    step = int(keras.ops.convert_to_numpy(opt.iterations))
    assert np.allclose(opt.current_learning_rates(), opt.learning_rates_at(step), rtol=1e-5)
    out[saver] = {"type": type(opt).__name__, "start": start, "steps": step, "weights": weights(model)}
json.dump(out, open(sys.argv[4], "w"))
"""


def _run_all(scripts):
    """Runs `(backend, code, args)` subprocesses at once; returns when all have ended."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    procs = []
    for backend, code, args in scripts:
        env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="3")
        cmd = [sys.executable, "-c", COMMON + code, *args]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    try:
        for (backend, _, _), proc in zip(scripts, procs):
            _, err = proc.communicate(timeout=280)
            assert proc.returncode == 0, f"{backend}: {err[-3000:]}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.slow
@only_backends("tensorflow")
def test_a_file_saved_mid_curriculum_resumes_on_every_backend(tmp_path):
    files = {b: str(tmp_path / f"{b}.keras") for b in BACKENDS}
    ends = {b: tmp_path / f"{b}_end.json" for b in BACKENDS}
    resumed = {b: tmp_path / f"resumed_on_{b}.json" for b in BACKENDS}
    _run_all(
        [(b, SAVE + RESUME, [files[b], str(ends[b]), json.dumps(files), str(resumed[b])]) for b in BACKENDS]
    )

    gaps = {}
    for saver in BACKENDS:
        end = json.loads(ends[saver].read_text())
        assert end["steps"] == 9
        for loader in BACKENDS:
            run = json.loads(resumed[loader].read_text())[saver]
            assert (run["type"], run["start"], run["steps"]) == ("LeRaC", 3, 9), (saver, loader, run)
            gap = max(float(np.abs(np.subtract(a, b)).max()) for a, b in zip(run["weights"], end["weights"]))
            gaps[(saver, loader)] = gap
    worst = max(gaps.values())
    print(
        "largest |weight difference| per (saver, loader):",
        {f"{s}->{r}": f"{g:.1e}" for (s, r), g in gaps.items()},
    )
    assert len(gaps) == 9 and worst <= 1e-6, gaps
