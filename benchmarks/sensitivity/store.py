"""What a study keeps on disk: the run records, the manifest, the lock and the sessions.

Everything here is safe against kills: a run's record is appended whole after the run,
a cut-short last line is dropped on open, and a session killed outright leaves a
heartbeat that the next one counts.
"""

from __future__ import annotations

import json
import os
import time

from benchmarks.sensitivity.design import key_of


class RunStore:
    """An append-only JSON-lines file of finished runs, safe against kills.

    A line is written whole (one `write`, then flush and fsync) only after its run has
    finished, so a killed run leaves no record. A last line cut short by a kill during
    the write does not parse: it is dropped (the file is rewritten without it) when the
    store is opened, and its run is done again.
    """

    def __init__(self, path: str, fields: tuple[str, ...]):
        self.path = path
        self.fields = fields
        self.records: dict[str, dict] = {}
        self.dropped = 0
        if os.path.exists(path):
            self._load()

    def _load(self) -> None:
        good = []
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                self.dropped += 1
                continue
            self.records[key_of(record, self.fields)] = record
            good.append(line)
        if self.dropped or (lines and lines[-1] != ""):
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in good))
            os.replace(tmp, self.path)

    def __contains__(self, spec: dict) -> bool:
        return key_of(spec, self.fields) in self.records

    def append(self, record: dict) -> None:
        line = json.dumps(record, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records[key_of(record, self.fields)] = record


def check_manifest(output: str, design: dict, backend: str | None) -> str:
    """One output folder holds one design on one backend (initial weights depend on it).

    Creates `output/study.json` on the first call; later calls must name the same design
    and backend, or `backend=None` (reading only) to accept the recorded one. Returns the
    study's backend.
    """
    path = os.path.join(output, "study.json")
    wanted = {"design": design["name"], "version": design["version"], "backend": backend}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        if backend is None:
            wanted["backend"] = manifest.get("backend")
        found = {k: manifest.get(k) for k in wanted}
        if found != wanted:
            raise SystemExit(
                f"{output} holds a study with {found}, this one is {wanted}. Resume it with the same "
                "settings (e.g. --backend), or pass another --output."
            )
        return found["backend"]
    if backend is None:
        return None
    os.makedirs(output, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**wanted, "created": time.strftime("%Y-%m-%d %H:%M:%S")}, f, indent=1)
    return backend


def hold_lock(output: str):
    """One study process per output folder: two would run and record the same runs twice.

    Returns the open lock file (the lock lasts as long as it stays open), or None where
    `fcntl` is missing (Windows).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    handle = open(os.path.join(output, ".lock"), "w")  # held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SystemExit(
            f"Another sensitivity study is running on {output}: wait for it, stop it (Ctrl-C or kill "
            "its PID; it records the run in progress first), or pass another --output."
        ) from None
    return handle


def sessions(output: str) -> list[dict]:
    path = os.path.join(output, "sessions.jsonl")
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def log_session(output: str, entry: dict) -> None:
    with open(os.path.join(output, "sessions.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


HEARTBEAT = "session.running.json"


def beat(output: str, entry: dict) -> None:
    """Records the running session after every run, so a killed one still counts its wall time."""
    path = os.path.join(output, HEARTBEAT)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(entry, f)
    os.replace(path + ".tmp", path)


def recover_killed_session(output: str) -> dict | None:
    """Moves the heartbeat of a session that died without its end record into sessions.jsonl."""
    path = os.path.join(output, HEARTBEAT)
    try:
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
    except (OSError, json.JSONDecodeError):
        return None
    entry["status"] = "killed"
    log_session(output, entry)
    os.remove(path)
    return entry
