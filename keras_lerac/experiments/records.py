"""A comparison's runs on disk: one file per finished run, written atomically as it ends.

`compare_regimes(..., output=DIR)` records each run in `DIR/runs/<regime>-seed<seed>.json`
the moment it ends (written to a temporary file, flushed to disk, then renamed over the
final name: a reader sees the whole record or none). Everything else a comparison writes
(`results.json`, the tables, the plots) is derived from these records, and can be derived
again at any time (`keras-lerac report DIR`). So a comparison that is interrupted (Ctrl-C,
a crash, a SIGKILL, a machine taken away) keeps every run it finished, and the same command
again trains only the runs that are missing.

Every record carries the comparison's fingerprint (`Fingerprint`): everything that
defines a run except its regime and seed (the model, the data, the settings, the package,
Keras and backend versions). Runs are mixed only when their fingerprints are equal; a
rerun with other settings into the same directory is refused with one line naming what
differs.

Runs spread over processes or machines (`shard_runs`) write into one directory on a
shared file system: each run has its own file, so no two writers ever touch the same one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from keras_lerac.experiments.inputs import InputError

RUNS = "runs"
RECORD_VERSION = 1


class RecordError(InputError):
    """An output directory that cannot hold this comparison's records; the message is one line."""


# --------------------------------------------------------------------------- JSON
def jsonable(value: Any) -> Any:
    """`value` as strict JSON: NumPy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str, value: Any) -> None:
    """Writes `value` to `path` as strict JSON, atomically and durably.

    The text goes to a temporary file in the same directory, is flushed and fsynced, and
    the file is renamed over `path`: a reader (or a process killed mid-write) sees the old
    file or the new one, never a part. The temporary file is `.<name>.tmp-<random>`, hidden
    and named for `path` (`RunStore.write` clears what a killed write left of a record).
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(jsonable(value), f, indent=1, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # the rename itself, durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------- the directory
def check_output(path: str) -> None:
    """Checks, without creating anything, that `path` can become or is an output directory.

    Raises:
        RecordError: if `path` is a file, or it (or the folder it would be made in) is
            not a writable directory.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise RecordError(f"output {path!r} is a file, not a directory: give a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise RecordError(f"output directory {path!r} is not writable")
        runs = os.path.join(path, RUNS)
        if os.path.exists(runs) and not (os.path.isdir(runs) and os.access(runs, os.W_OK | os.X_OK)):
            raise RecordError(f"{runs!r} is not a writable directory: the run records go there")
        return
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise RecordError(f"output {path!r} cannot be made: {parent!r} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RecordError(f"output directory {path!r} cannot be made: {parent!r} is not writable")


def run_name(regime: str, seed: int) -> str:
    """The file name of the record of `regime`'s run with `seed`."""
    return f"{regime}-seed{int(seed)}.json"


class RunStore:
    """The records of one comparison in an output directory.

    Args:
        output: The output directory (checked with `check_output`; made when the first
            record is written).
    """

    def __init__(self, output: str):
        check_output(output)
        self.output = os.fspath(output)
        self.folder = os.path.join(self.output, RUNS)

    def read(self) -> list[dict]:
        """Every readable record in the directory (a damaged one is skipped, with a warning)."""
        if not os.path.isdir(self.folder):
            return []
        records = []
        for name in sorted(os.listdir(self.folder)):
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = os.path.join(self.folder, name)
            try:
                with open(path) as f:
                    record = json.load(f)
                if not isinstance(record, dict) or "regime" not in record or "seed" not in record:
                    raise ValueError("not a run record")
            except (OSError, ValueError) as error:
                warnings.warn(f"skipping {path}: {error}; that run will train again", stacklevel=2)
                continue
            records.append(record)
        return records

    def check(self, fingerprint: dict) -> list[dict]:
        """The records already in the directory, checked to be of this comparison.

        Returns:
            The records (all with `fingerprint`).

        Raises:
            RecordError: if a record was made with another fingerprint: one line naming the
                first part that differs, and how to start over.
        """
        records = self.read()
        for record in records:
            difference = fingerprint_difference(record.get("fingerprint") or {}, fingerprint)
            if difference:
                raise RecordError(
                    f"{self.output!r} holds runs of another comparison ({difference}): give another "
                    f"output directory, or delete {os.path.join(self.output, RUNS)!r} to start over"
                )
        return records

    def write(self, record: dict) -> str:
        """Records one finished run (atomically); returns the file's path.

        A run is trained by one process at a time (shards are disjoint), so a temporary
        file of this record other than the one just renamed was left by a write that was
        killed: it is removed.
        """
        os.makedirs(self.folder, exist_ok=True)
        name = run_name(record["regime"], record["seed"])
        path = os.path.join(self.folder, name)
        write_json(path, dict(record, version=RECORD_VERSION))
        for leftover in os.listdir(self.folder):
            if leftover.startswith(f".{name}.tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.folder, leftover))
        return path


# --------------------------------------------------------------------------- fingerprint
def fingerprint_difference(old: dict, new: dict, prefix: str = "") -> str | None:
    """The first part where two fingerprints differ, as `"key.subkey: old -> new"`; None if equal."""
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = jsonable(old.get(key)), jsonable(new.get(key))
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            return fingerprint_difference(a, b, f"{prefix}{key}.")
        return f"{prefix}{key}: {_short(a)} -> {_short(b)}"
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- shards
def parse_shard(text: str) -> tuple[int, int]:
    """`(index, count)` from `"i/n"` (0 <= i < n).

    Raises:
        ValueError: for anything else, with the form expected.
    """
    parts = str(text).split("/")
    try:
        index, count = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"a shard is i/n with 0 <= i < n (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"a shard is i/n with 0 <= i < n (e.g. 0/4), got {text!r}")
    return index, count


def shard_runs(runs: Sequence[tuple[int, str]], shard: tuple[int, int] | None) -> list[tuple[int, str]]:
    """The share of `runs` (`(seed, regime)` pairs, in order) that shard `(i, n)` trains.

    Run `k` of the list goes to shard `k mod n`: deterministic, and every run in exactly one
    shard. The shards of one comparison must all be given the same seeds and regimes.
    """
    if shard is None:
        return list(runs)
    index, count = shard
    return [run for k, run in enumerate(runs) if k % count == index]


def missing_runs(runs: Iterable[tuple[int, str]], records: Iterable[dict]) -> list[tuple[int, str]]:
    """The runs among `runs` that no record holds."""
    done = {(int(r["seed"]), r["regime"]) for r in records}
    return [run for run in runs if (int(run[0]), run[1]) not in done]
