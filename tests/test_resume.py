"""A comparison killed part-way, resumed, and spread over processes: nothing finished is lost.

Each test runs `keras-lerac compare` in fresh processes on the backend under test (the
way a user, a job array or a scheduler would), so the records must carry everything
across processes: a SIGKILL while a run trains, then the same command again, must end
with the uninterrupted comparison's scores; two shards in two processes writing into one
directory, merged by `keras-lerac report`, must give one process's scores.
"""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest
from conftest import rotating

from keras_lerac.experiments import cli

BACKEND = keras.backend.backend()
RUNS = 6  # 3 seeds x 2 regimes
ARGS = [
    "compare", "--backend", BACKEND, "--model", "digits_mlp", "--limit", "320", "--epochs", "3",
    "--seeds", "3", "--regimes", "conventional", "lerac", "--curriculum-epochs", "1", "--quiet",
]  # fmt: skip
pytestmark = pytest.mark.slow


def _command(output, *extra):
    env = dict(os.environ, KERAS_BACKEND=BACKEND, PYTHONPATH=os.getcwd())
    return [sys.executable, "-m", "keras_lerac", *ARGS, "--output", str(output), *extra], env


def _run(output, *extra):
    command, env = _command(output, *extra)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _scores(output):
    with open(os.path.join(output, "results.json")) as f:
        results = json.load(f)
    return {regime: entry["scores"] for regime, entry in results["regimes"].items()}


def _files(output):
    folder = os.path.join(output, "runs")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _records(output):  # finished runs; a write in progress is a hidden temporary file
    return [n for n in _files(output) if n.endswith(".json") and not n.startswith(".")]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    output = tmp_path_factory.mktemp("whole")
    _run(output)
    assert len(_records(output)) == RUNS
    return _scores(output)


def test_killed_then_resumed_ends_as_uninterrupted(tmp_path, uninterrupted):
    command, env = _command(tmp_path)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 200
    while len(_records(tmp_path)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # mid-comparison: the next run is training
    process.wait()
    kept = _records(tmp_path)
    assert 2 <= len(kept) < RUNS, kept
    assert not (tmp_path / "results.json").exists()
    resumed = _run(tmp_path)
    assert (
        _files(tmp_path) == _records(tmp_path) and len(_records(tmp_path)) == RUNS
    )  # nothing half-written left
    assert _scores(tmp_path) == uninterrupted
    assert "Regime" in resumed.stdout


@rotating(2)  # one backend a day in CI: sharding is backend-agnostic; the kill test runs on all three
def test_two_shards_in_two_processes_give_one_process_scores(tmp_path, uninterrupted, capsys):
    started = []
    for shard in ("0/2", "1/2"):  # at the same time, into one directory
        command, env = _command(tmp_path, "--shard", shard)
        started.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for process in started:
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err[-2000:]
    assert len(_records(tmp_path)) == RUNS
    os.remove(tmp_path / "results.json")  # whichever shard ended last wrote it: derive it again
    assert cli.main(["report", str(tmp_path)]) == 0
    assert _scores(tmp_path) == uninterrupted
    assert "lerac - conventional" in capsys.readouterr().out
