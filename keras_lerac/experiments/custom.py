"""Schedules of the user's in the `keras-lerac` command.

`--import MODULE` imports a module that registers schedules
(`keras_lerac.register_schedule`), `--schedule MODULE:NAME` imports `MODULE` and uses
the schedule `NAME`, and `plan --model saved.keras` imports the module a saved model
records for its schedule (`schedule_module` in LeRaC's config) when that schedule is not
registered yet. The schedule names come from the registry, so this module imports the
library (and Keras) only inside its functions: the command's `--help`, `--version` and
argument errors load no Keras. Every error is a `ValueError` of one line.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = [
    "import_modules",
    "import_saved_schedules",
    "resolve_schedule",
    "saved_schedules",
    "split_schedule",
]


def split_schedule(flag: str) -> tuple[str | None, str]:
    """`(module, name)` of a `--schedule` value: `"module:name"` or a bare `"name"`.

    Example:

    >>> split_schedule("my_schedules:cosine"), split_schedule("linear")
    (('my_schedules', 'cosine'), (None, 'linear'))
    """
    if ":" not in flag:
        return None, flag
    module, _, name = flag.rpartition(":")
    if not module or not name:
        raise ValueError(
            f"--schedule {flag!r}: give a registered schedule's name, or --schedule MODULE:NAME to "
            "import MODULE (which registers NAME) and use NAME"
        )
    return module, name


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def import_modules(modules: Sequence[str]) -> None:
    """Imports each module (each registers its schedules as it is imported).

    Raises:
        ValueError: One line naming the module: not found, or failing as it is imported
            (a schedule refused by `register_schedule`'s check, for one).
    """
    for module in dict.fromkeys(modules):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is None or not module.startswith(error.name):
                raise ValueError(f"importing module {module!r} failed: {_first_line(error)}") from None
            raise ValueError(
                f"cannot import module {module!r} ({error}): put the directory that holds it on PYTHONPATH"
            ) from None
        except Exception as error:  # the user's module: whatever it raises, in one line
            raise ValueError(f"importing module {module!r} failed: {_first_line(error)}") from None


def resolve_schedule(flag: str, imports: Sequence[str] = ()) -> str:
    """The name of the schedule `--schedule flag` names, its modules imported first.

    Args:
        flag: `--schedule`: a registered name, or `module:name`.
        imports: The `--import` modules.

    Returns:
        The schedule's name, registered.

    Raises:
        ValueError: One line: a module that cannot be imported, or a name not registered
            (listing the registered names).
    """
    module, name = split_schedule(flag)
    import_modules([*imports, *([module] if module else [])])
    from keras_lerac.schedules import schedule_names

    names = schedule_names()
    if name not in names:
        where = f"module {module!r} registers no schedule of that name; " if module else ""
        raise ValueError(
            f"unknown schedule {name!r}: {where}choose one of {', '.join(names)}, or register yours in a "
            "module and pass --import MODULE (or --schedule MODULE:NAME)"
        )
    return name


def _walk(value: Any) -> Iterator[dict]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def saved_schedules(path: str) -> list[tuple[str, str]]:
    """`(schedule, module)` of every LeRaC optimizer in a `.keras` file that records the
    module of its schedule (a schedule of the user's); empty for a file that cannot be read
    (loading it then says what is wrong)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    found = {}
    for entry in _walk(config.get("compile_config")):
        if isinstance(entry.get("schedule_module"), str) and isinstance(entry.get("schedule"), str):
            found[entry["schedule"]] = entry["schedule_module"]
    return list(found.items())


def import_saved_schedules(path: str) -> None:
    """Imports the module that registers each schedule of the user's a saved model uses,
    where that schedule is not registered yet.

    Raises:
        ValueError: One line naming the schedule, its module, and `--import`, when the
            module cannot be imported.
    """
    from keras_lerac.schedules import schedule_names

    for name, module in saved_schedules(path):
        if name in schedule_names() or module == "__main__":  # __main__: loading says what to do
            continue
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            raise ValueError(
                f"{path!r} uses the schedule {name!r}, registered by module {module!r}, which cannot be "
                f"imported here ({error}): put its directory on PYTHONPATH, or pass --import MODULE "
                f"naming a module that registers {name!r}"
            ) from None
        except Exception as error:  # the user's module: whatever it raises, in one line
            raise ValueError(f"importing module {module!r} failed: {_first_line(error)}") from None
