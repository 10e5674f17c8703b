"""Worker processes of the timing harnesses: one per backend, each pinned to its threads.

A driver (`python -m benchmarks.overhead`, `.scaling`, `.gpu`, `.profile_apply`) runs
`python -m MODULE --worker BACKEND --json-out PATH ...` once per backend with
`KERAS_BACKEND` set (`spawn_workers`), reads the JSON the worker wrote (`write_result`)
and prints its progress lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

ALL_BACKENDS = ("tensorflow", "jax", "torch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check_backends(text: str) -> list[str]:
    """`"jax,torch"` -> `["jax", "torch"]`; exits with a message on an unknown backend."""
    backends = [b.strip() for b in text.split(",") if b.strip()]
    for b in backends:
        if b not in ALL_BACKENDS:
            raise SystemExit(f"unknown backend {b!r}; choose from {ALL_BACKENDS}")
    return backends


def thread_env(threads: int | None) -> dict:
    """Environment that limits every backend to `threads` intra-op threads (None: defaults)."""
    if not threads:
        return {}
    n = str(threads)
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": "1",
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip(),
    }


def apply_threads(backend: str, threads: int | None) -> None:
    """In a worker, before any op runs: pin the backend's intra-op thread pool."""
    if not threads:
        return
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already started
            pass
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def backend_version(backend: str) -> str:
    try:
        module = __import__({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend])
        return module.__version__
    except Exception:  # noqa: BLE001
        return "?"


def worker_header(backend: str, mode: str) -> dict:
    """The first keys of a worker's report; refuses to run on another backend than `backend`."""
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"worker for {backend} runs on backend {keras.backend.backend()}")
    return {
        "backend": backend,
        "backend_version": backend_version(backend),
        "keras_version": keras.__version__,
        "mode": mode,
    }


def module_command(module: str, *args: str) -> list[str]:
    """`python -m MODULE ARGS` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def module_env(backend: str | None = None, threads: int | None = None) -> dict:
    """This environment, with the repository importable, `KERAS_BACKEND` and the threads."""
    env = dict(os.environ, **thread_env(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    if backend:
        env["KERAS_BACKEND"] = backend
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def spawn_worker(
    module: str, backend: str, json_path: str, args: Sequence[str], threads: int | None = None
) -> dict:
    """Runs `python -m MODULE --worker BACKEND --json-out PATH *args` with `KERAS_BACKEND=BACKEND`.

    Progress lines (those starting with `[BACKEND]`) are printed as they come. Returns
    the worker's JSON (plus `wall_s`), or `{"backend", "error"}` when it failed.
    """
    if os.path.exists(json_path):
        os.remove(json_path)
    cmd = module_command(module, "--worker", backend, "--json-out", json_path, *args)
    if threads:
        cmd += ["--threads", str(threads)]
    env = module_env(backend, threads)
    # Every arm compiles on its own: a persistent compilation cache would let plain2 reuse plain's.
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    t0 = time.perf_counter()
    print(f"== {backend}", flush=True)
    tail: list[str] = []
    with subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line.startswith(f"[{backend}]"):
                print(line, flush=True)
            tail = (tail + [line])[-15:]
        proc.wait()
    if proc.returncode != 0 or not os.path.exists(json_path):
        print("\n".join(tail), file=sys.stderr)
        return {"backend": backend, "error": tail[-1] if tail else f"rc={proc.returncode}"}
    with open(json_path) as f:
        worker = json.load(f)
    worker["wall_s"] = time.perf_counter() - t0
    return worker


def spawn_workers(
    module: str,
    backends: Sequence[str],
    output: str,
    args,
    options: Sequence[str],
    threads: int | None = None,
) -> Iterator[dict]:
    """`spawn_worker` for each backend in turn; yields each worker's report as it finishes.

    Worker BACKEND writes `OUTPUT/NAME_BACKEND.json` (NAME: the module's last part) and
    gets the command-line options `options` of `args` (`forwarded`).
    """
    name = module.rsplit(".", 1)[-1]
    for backend in backends:
        os.makedirs(output, exist_ok=True)
        path = os.path.join(output, f"{name}_{backend}.json")
        yield spawn_worker(module, backend, path, forwarded(args, options), threads)


def write_result(path: str, result) -> int:
    """A worker's last step: its report, as JSON, where the driver reads it; exit status 0."""
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    return 0


def forwarded(args, names: Sequence[str]) -> list[str]:
    """Command-line options `names` (argparse dests) of `args`, to pass on to a worker."""
    out = []
    for name in names:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value not in (None, False):
            out += [flag, str(value)]
    return out


def stderr_log(text: str) -> None:
    """A worker's progress line: to stderr, which the driver reads."""
    print(text, file=sys.stderr, flush=True)
