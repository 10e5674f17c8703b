"""The one report writer of the benchmarks: markdown tables, the header, `NAME.json` + `NAME.md`.

Every harness builds its rows as lists of cells (a timing row's through `timing_cells`,
the workers that ran through `succeeded`) and hands them to `table`; a driver starts
its report with `new_report` (the command, the machine from
`keras_lerac.experiments.report.machine_info`, the load) and ends with `write`, which
writes the JSON with every number and the markdown with the header and the table.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence

LEGEND = (
    "Ratios are LeRaC / plain: the median over rounds of the ratio within a round, with its "
    "95% CI (order statistics); `floor` is the same statistic for `plain2` / `plain`, two "
    "arms doing identical work (1st epoch: over the repeats; one repeat gives one value). "
    "PASS: ratio <= target; `PASS?` / `MISS?`: the target lies within the noise (the CI "
    "half-width or the floor's distance from 1), more rounds needed. `after`: LeRaC with the "
    "curriculum over (`curriculum_steps=1`). Opt state: bytes of optimizer variables beyond "
    "plain's, allowed a few scalars per bucket."
)


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table: a header row, the rule, one line per row (no trailing newline).

    A row shorter than `columns` (a worker's error) is padded with empty cells.
    """
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [str(c) for c in row] + [""] * (len(columns) - len(row))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def error_row(backend: str, error: str) -> list[str]:
    """The row of a worker that failed: its backend and the first 80 characters of the error."""
    return [backend, f"ERROR: {error[:80]}"]


def document(body: str, legend: str | None = None, notes: Sequence[str] = ()) -> str:
    """A table (or tables), its legend, and the notes as a bullet list (duplicates once)."""
    text = body + "\n"
    if legend:
        text += "\n" + legend + "\n"
    notes = list(dict.fromkeys(notes))
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return text


def fmt(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def mark(check: dict) -> str:
    """PASS / MISS, with a `?` when the target lies within the noise."""
    if "resolved" in check and not check["resolved"]:
        return "PASS?" if check["pass"] else "MISS?"
    return "PASS" if check["pass"] else "MISS"


def interval(lo: float, hi: float) -> str:
    return f"{lo:.3f}" if abs(hi - lo) < 5e-4 else f"{lo:.3f}-{hi:.3f}"


def ratio_cell(check: dict | None, floor: dict | None) -> str:
    """`1.012 PASS (CI 0.998-1.025; floor 0.996-1.004)`: the ratio, its verdict, its 95% CI
    (when there is one) and the noise floor (plain2 / plain, its CI)."""
    if check is None:
        return "n/a"
    parts = []
    if check.get("ci") is not None:
        parts.append(f"CI {interval(*check['ci'])}")
    if floor is not None:
        parts.append(f"floor {interval(*floor['ci'])}")
    extra = f" ({'; '.join(parts)})" if parts else ""
    return f"{check['value']:.3f} {mark(check)}{extra}"


def timing_cells(
    row: dict, measure: str, suffixes: Sequence[str] = ("",), targets: dict | None = None
) -> list[str]:
    """A timing row's cells of one measure, `step` or `first_epoch` (`timing.summarise`).

    `step`: steps x rounds, plain's median ms/step, the target, and the ratio cell of each
    arm checked as `step_time<suffix>`; `first_epoch`: plain's first epoch in seconds, the
    target, and the ratio cells of `first_epoch<suffix>`. `targets` defaults to the row's.
    """
    plain = row["arms"]["plain"]
    if measure == "step":
        head, check = [f"{row['steps']} x {row['rounds']}", f"{plain['step_ms_median']:.2f}"], "step_time"
    else:
        head, check = [f"{plain['first_epoch_s']:.2f}"], "first_epoch"
    floor = (row.get("floor") or {}).get(measure)
    target = f"<= {(targets or row['targets'])[measure]:.2f}"
    return [*head, target, *(ratio_cell(row["checks"].get(check + suffix), floor) for suffix in suffixes)]


# The columns a per-bucket timing table (scaling.py, dispatch.py) shares after its keys.
BUCKET_TIMING_COLUMNS = (
    "steps x rounds",
    "plain ms/step",
    "step target",
    "LeRaC/plain step",
    "extra us / bucket / step",
    "1st epoch s plain",
    "1st epoch target",
    "LeRaC/plain 1st epoch",
)
EXTRA_US_LEGEND = " `extra us / bucket / step`: (ratio - 1) x plain step time / buckets."


def extra_us_per_bucket(row: dict, buckets: int | None = None) -> float:
    """What one bucket costs per step, in microseconds, from the median LeRaC / plain ratio.

    `buckets` stands in where the row measured none (an unbuilt optimizer)."""
    plain_ms = row["arms"]["plain"]["step_ms_median"]
    return 1000.0 * (row["ratios"]["lerac/plain"] - 1.0) * plain_ms / max(1, row["buckets"] or buckets or 1)


def bucket_timing_cells(row: dict) -> list[str]:
    """A row's cells under `BUCKET_TIMING_COLUMNS`."""
    extra = f"{row['extra_us_per_bucket']:.1f}"
    return [*timing_cells(row, "step"), extra, *timing_cells(row, "first_epoch")]


def succeeded(report: dict, rows: list) -> Iterator[dict]:
    """The report's workers that ran, in order; each one that failed adds its error row to `rows`."""
    for worker in report["workers"]:
        if "error" in worker:
            rows.append(error_row(worker["backend"], worker["error"]))
        else:
            yield worker


def floor_note(backend: str, name: str, floor: dict | None) -> str | None:
    """A note when the noise floor's CI excludes 1.0 (two identical arms differ)."""
    if floor and not floor["ci"][0] <= 1.0 <= floor["ci"][1]:
        return (
            f"{backend} {name}: the noise floor's CI ({interval(*floor['ci'])}) excludes 1.0: two "
            "identical arms differ, so the machine's noise (or an order effect) is larger than the CI says."
        )
    return None


def machine_info() -> dict:
    """The machine, as every results file of the package records it."""
    from keras_lerac.experiments.report import machine_info as info

    return info()


def new_report(module: str, argv, mode: str, threads) -> dict:
    """The driver's report: `python -m MODULE ARGS`, the machine, threads, load at start."""
    args = argv if argv is not None else sys.argv[1:]
    return {
        "command": " ".join(["-m", module, *args]),
        "mode": mode,
        "machine": machine_info(),
        "threads": threads,
        "loadavg_start": list(os.getloadavg()),
        "workers": [],
    }


def header(report: dict) -> str:
    """The lines above a timing table: the command, the machine, threads, load, wall time."""
    machine = report["machine"]
    threads = report.get("threads") or "backend default"
    return (
        f"Command: `python {report['command']}`  \n"
        f"Machine: {machine['processor']}, {machine['cpu_count']} cores; "
        f"intra-op threads: {threads}; load average at start "
        f"{report['loadavg_start'][0]:.1f}, at end {os.getloadavg()[0]:.1f}; "
        f"wall {report['wall_s'] / 60:.1f} min\n\n"
    )


def write(output: str, name: str, report, text: str, head: str | None = None, echo: bool = True) -> list[str]:
    """Writes `output/NAME.json` (`report`) and `output/NAME.md` (`head` + `text`); prints `text`.

    Returns the two paths. `head` defaults to `header(report)` for a driver's report
    (a dict with `machine`); pass `""` for none. `echo=False`: nothing printed.
    """
    os.makedirs(output, exist_ok=True)
    if head is None:
        head = header(report) if isinstance(report, dict) and "machine" in report else ""
    paths = [os.path.join(output, f"{name}.json"), os.path.join(output, f"{name}.md")]
    with open(paths[0], "w") as f:
        json.dump(report, f, indent=1)
    with open(paths[1], "w") as f:
        f.write(head + text)
    if echo:
        print(text)
    return paths
