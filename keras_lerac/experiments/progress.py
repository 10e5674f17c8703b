"""A progress bar for a whole comparison: runs done of the total, elapsed and time left.

On a terminal it redraws one line (`\\r`); otherwise (a file, a pipe, CI logs) it writes
one plain line per finished run, with no control characters.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts finished runs and shows `done / total`, elapsed time and the time left.

    The time left is the mean wall time of the runs done so far times the runs left.

    Args:
        total: The number of runs.
        stream: Where to write. Defaults to `sys.stdout`.
        tty: Draw a redrawn bar (`True`) or plain lines (`False`). Defaults to
            `stream.isatty()`.
        width: Characters of the bar itself.

    Example:

    ```python
    from keras_lerac.experiments.progress import Progress

    progress = Progress(4)
    for run in range(4):
        ...  # train
        progress.advance(f"run {run}: accuracy 91.2 %")
    progress.close()
    ```
    """

    def __init__(self, total: int, stream: TextIO | None = None, tty: bool | None = None, width: int = 24):
        self.total = int(total)
        self.done = 0
        self.stream = stream if stream is not None else sys.stdout
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.width = width
        self.start = time.perf_counter()
        self._drawn = False
        if self.tty:
            self._draw()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float | None:
        """Seconds left, estimated from the runs done (None before the first one)."""
        if self.done == 0:
            return None
        return self.elapsed() / self.done * (self.total - self.done)

    def status(self) -> str:
        """`3/10 runs, elapsed 0:42, about 1:38 left`."""
        left = self.left()
        text = f"{self.done}/{self.total} runs, elapsed {_clock(self.elapsed())}"
        if self.done < self.total:
            text += ", time left unknown" if left is None else f", about {_clock(left)} left"
        return text

    def _draw(self) -> None:
        filled = round(self.width * self.done / max(1, self.total))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.status()}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def write(self, line: str) -> None:
        """Prints `line` above the bar (or as a plain line)."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
        self.stream.write(line + "\n")
        if self.tty:
            self._draw()
        else:
            self.stream.flush()

    def advance(self, note: str = "") -> None:
        """Counts one finished run; `note` (e.g. its result) goes on its line."""
        self.done += 1
        if self.tty:
            if note:
                self.write(note)
            else:
                self._draw()
        else:
            self.write(f"[{self.status()}]" + (f" {note}" if note else ""))

    def close(self) -> None:
        """Ends the bar's line (terminal only)."""
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
