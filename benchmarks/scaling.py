"""LeRaC / plain step time and first epoch against the number of buckets, on every backend.

Usage::

    python -m benchmarks.scaling [--backends tensorflow,jax,torch] [--tiny]
                                 [--output DIR] [--sizes 4,16,64,128,256] [--width 32]
                                 [--rounds R] [--block-seconds S] [--steps N]
                                 [--first-repeats F] [--optimizers sgd,adam] [--threads N]

For each bucket count `n` in `--sizes`, an MLP of `n - 1` hidden Dense(`--width`) layers
and a head (`mlp_d<n-1>_w<width>`, 64 input features, batch 128, 10 classes): LeRaC
(default settings, one bucket per depth level, so `n` buckets, curriculum active
throughout) against the plain optimizer, SGD (momentum 0.9) and Adam, with the `plain2`
noise floor. Everything is measured as in `benchmarks.overhead`, whose models and arms
this module reuses (`benchmarks.timing` measures): one worker process per backend,
interleaved rounds in a Williams order, blocks calibrated to about `--block-seconds`,
the median of the paired ratios with a 95% CI, the first epoch (trace + compile) of each
arm.

Writes `DIR/scaling.json` (every number), `DIR/scaling.md` (the table) and
`DIR/scaling.png` (the ratios against the number of buckets, log axis, one line per
backend x optimizer, with the noise floor and the targets).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial

from benchmarks import overhead, timing
from benchmarks import report as report_writer
from benchmarks.workers import (
    ALL_BACKENDS,
    apply_threads,
    check_backends,
    spawn_workers,
    stderr_log,
    worker_header,
    write_result,
)

MODULE = "benchmarks.scaling"

SIZES = (4, 16, 64, 128, 256)
WIDTH = 32
ARMS = ("plain", "plain2", "lerac")

MODES = {
    # as overhead.MODES; rounds a multiple of 6, the Williams period of three arms
    "full": {
        "sizes": SIZES,
        "width": WIDTH,
        "rounds": 12,
        "block_s": 0.3,
        "steps": None,
        "steps_range": (3, 300),
        "first_steps": 5,
        "first_repeats": 1,
        "warm_up": True,
        "optimizers": ("sgd", "adam"),
    },
    "tiny": {
        "sizes": (3, 6),
        "width": 8,
        "rounds": 2,
        "block_s": 0.0,
        "steps": 2,
        "steps_range": (2, 2),
        "first_steps": 2,
        "first_repeats": 1,
        "warm_up": False,
        "optimizers": ("sgd", "adam"),
    },
}

COLORS = {"tensorflow": "tab:orange", "jax": "tab:blue", "torch": "tab:red"}
STYLES = {"sgd": "-", "adam": "--"}


def model_name(buckets: int, width: int) -> str:
    """The family MLP with `buckets` depth levels: `buckets - 1` hidden layers and a head."""
    if buckets < 2:
        raise ValueError(f"an MLP has at least 2 buckets (a hidden layer and the head); got {buckets}")
    return f"mlp_d{buckets - 1}_w{width}"


# ---------------------------------------------------------------------- worker
def run_worker(
    backend: str,
    mode: str = "full",
    sizes=None,
    width: int | None = None,
    rounds: int | None = None,
    steps: int | None = None,
    block_s: float | None = None,
    first_repeats: int | None = None,
    optimizers=None,
    arms=ARMS,
    log=print,
) -> dict:
    """Every bucket count x optimizer on the current process' backend; returns a dict."""
    header = worker_header(backend, mode)
    settings = MODES[mode]
    sizes = tuple(sizes or settings["sizes"])
    width = width or settings["width"]
    timed = timing.options(settings, rounds, steps, block_s, first_repeats)
    optimizers = tuple(optimizers or settings["optimizers"])
    t0 = time.perf_counter()
    out = {
        **header,
        "sizes": list(sizes),
        "width": width,
        "rounds": timed["rounds"],
        "block_s": timed["block_s"],
        "loadavg_start": list(os.getloadavg()),
        "results": [],
    }
    if settings["warm_up"]:
        out["warm_up_s"] = overhead.warm_up_process()
    batch = overhead.DEFAULT_BATCH
    index = 0
    for opt_name in optimizers:
        for n in sizes:
            start = time.perf_counter()
            kind = model_name(n, width)
            _, measured = timing.measure_model(
                partial(overhead.build_model, kind),
                partial(overhead.make_arm, opt_name=opt_name, extras={}),
                list(arms),
                partial(overhead.make_data, kind, batch=batch),
                batch,
                first_steps=settings["first_steps"],
                rotate=index,
                **timed,
            )
            index += 1
            row = {
                "model": kind,
                "model_name": kind,
                "optimizer": opt_name,
                "buckets_planned": n,
                "depth": n - 1,
                "width": width,
                "batch_size": batch,
                **measured,
            }
            overhead.summarise(row, overhead.targets_for(kind, row["buckets"]))
            plain_ms = row["arms"]["plain"]["step_ms_median"]
            ratio = row["ratios"]["lerac/plain"]
            row["extra_us_per_bucket"] = report_writer.extra_us_per_bucket(row, n)
            row["wall_s"] = time.perf_counter() - start
            out["results"].append(row)
            floor = row["floor"]["step"]["median"] if row.get("floor") else float("nan")
            log(
                f"[{backend}] {opt_name} {n} buckets: {row['steps']} steps x {row['rounds']} rounds, plain "
                f"{plain_ms:.2f} ms, LeRaC/plain {ratio:.3f}, floor {floor:.3f}, 1st epoch "
                f"{row['ratios']['first_epoch lerac/plain']:.3f} ({row['wall_s']:.0f} s, "
                f"{time.perf_counter() - t0:.0f} s so far)"
            )
    out["loadavg_end"] = list(os.getloadavg())
    out["worker_s"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------- report
COLUMNS = ("backend", "opt", "buckets", "model", *report_writer.BUCKET_TIMING_COLUMNS)
LEGEND = (
    report_writer.LEGEND
    + " Targets past 97 buckets extend the issue's (1.03 per step; first epoch 1.10 up to "
    "25 buckets, 1.15 beyond)." + report_writer.EXTRA_US_LEGEND
)


def markdown(report: dict) -> str:
    """The scaling table, its legend and notes (`report.table`)."""
    rows, notes = [], []
    for worker in report_writer.succeeded(report, rows):
        for row in worker["results"]:
            rows.append(
                [
                    worker["backend"],
                    row["optimizer"],
                    row["buckets"],
                    row["model_name"],
                    *report_writer.bucket_timing_cells(row),
                ]
            )
            if row["buckets"] != row["buckets_planned"]:
                notes.append(
                    f"{worker['backend']} {row['model_name']}: {row['buckets']} buckets, "
                    f"not {row['buckets_planned']}"
                )
    return report_writer.document(report_writer.table(COLUMNS, rows), LEGEND, notes)


def plot(report: dict, path: str) -> str:
    """Writes the ratios against the number of buckets to `path` (PNG); returns the path.

    Two panels: step time and first epoch, LeRaC / plain, one line per backend x
    optimizer with the 95% CI as error bars; a grey band spans the noise floors'
    (plain2 / plain) CIs of all lines; a line at 1.0 and the targets (dashed).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = (
        ("step", "step_time", "step time"),
        ("first_epoch", "first_epoch", "first epoch (trace + compile)"),
    )
    all_sizes: set[int] = set()
    for ax, (key, check_name, title) in zip(axes, panels):
        floors: dict[int, list[float]] = {}
        series = 0
        targets: dict[int, float] = {}
        for worker in report["workers"]:
            if "error" in worker:
                continue
            by_opt: dict[str, list[dict]] = {}
            for row in worker["results"]:
                by_opt.setdefault(row["optimizer"], []).append(row)
            for opt_name, rows in by_opt.items():
                rows = sorted(rows, key=lambda r: r["buckets"])
                # Nudge each line sideways a little (log axis) so error bars do not overlap.
                nudge = 2 ** (0.03 * (series - 2.5))
                series += 1
                xs = [r["buckets"] * nudge for r in rows]
                ys = [r["checks"][check_name]["value"] for r in rows]
                cis = [r["checks"][check_name]["ci"] or [y, y] for r, y in zip(rows, ys)]
                yerr = [
                    [max(0.0, y - c[0]) for y, c in zip(ys, cis)],
                    [max(0.0, c[1] - y) for y, c in zip(ys, cis)],
                ]
                ax.errorbar(
                    xs,
                    ys,
                    yerr=yerr,
                    color=COLORS.get(worker["backend"], "black"),
                    linestyle=STYLES.get(opt_name, ":"),
                    marker="o",
                    markersize=4,
                    capsize=3,
                    label=f"{worker['backend']} {opt_name}",
                )
                for r in rows:
                    all_sizes.add(r["buckets"])
                    targets[r["buckets"]] = r["targets"][key]
                    if r.get("floor"):
                        floors.setdefault(r["buckets"], []).extend(r["floor"][key]["ci"])
        if floors:
            xs = sorted(floors)
            ax.fill_between(
                xs,
                [min(floors[x]) for x in xs],
                [max(floors[x]) for x in xs],
                color="0.5",
                alpha=0.25,
                linewidth=0,
                label="noise floor (plain2/plain, 95% CI)",
            )
        ax.axhline(1.0, color="black", linewidth=0.8)
        if targets:
            xs = sorted(targets)
            ax.plot(
                xs,
                [targets[x] for x in xs],
                color="tab:green",
                linestyle="--",
                drawstyle="steps-mid",
                label="target",
            )
        ax.set_xscale("log", base=2)
        if all_sizes:
            ticks = sorted(all_sizes)
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(t) for t in ticks])
            ax.minorticks_off()
        ax.set_xlabel("buckets (MLP depth + 1)")
        ax.set_ylabel("LeRaC / plain")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle("LeRaC overhead against the number of buckets (median paired ratio, 95% CI)")
    fig.savefig(path, dpi=120)
    return path


# ---------------------------------------------------------------------- driver
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(ALL_BACKENDS))
    parser.add_argument("--tiny", action="store_true", help="2 tiny MLPs, 2 steps, 2 rounds (tests)")
    parser.add_argument("--output", default="lerac-results/benchmarks")
    parser.add_argument("--sizes", default=None, help="bucket counts (full: 4,16,64,128,256)")
    parser.add_argument("--width", type=int, default=None, help="hidden units (full: 32)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per point (full: 12)")
    parser.add_argument("--steps", type=int, default=None, help="fixed steps per timed block")
    parser.add_argument("--block-seconds", type=float, default=None, help="target block length (full: 0.3)")
    parser.add_argument("--first-repeats", type=int, default=None, help="first-epoch measurements per arm")
    parser.add_argument("--optimizers", default=None, help="sgd,adam")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads per backend")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _ints(text):
    return tuple(int(v) for v in text.split(",")) if text else None


def main(argv=None) -> int:
    args = parse_args(argv)
    mode = "tiny" if args.tiny else "full"
    if args.worker:
        apply_threads(args.worker, args.threads)
        result = run_worker(
            args.worker,
            mode,
            sizes=_ints(args.sizes),
            width=args.width,
            rounds=args.rounds,
            steps=args.steps,
            block_s=args.block_seconds,
            first_repeats=args.first_repeats,
            optimizers=tuple(args.optimizers.split(",")) if args.optimizers else None,
            log=stderr_log,
        )
        result["threads"] = args.threads
        return write_result(args.json_out, result)
    backends = check_backends(args.backends)
    for n in _ints(args.sizes) or ():
        model_name(n, 1)  # fail early on a bad size
    os.makedirs(args.output, exist_ok=True)
    report = report_writer.new_report(MODULE, argv, mode, args.threads)
    start = time.perf_counter()
    options = ("tiny", "sizes", "width", "rounds", "steps", "block_seconds", "first_repeats", "optimizers")
    report["workers"].extend(spawn_workers(MODULE, backends, args.output, args, options, args.threads))
    report["wall_s"] = time.perf_counter() - start
    report_writer.write(args.output, "scaling", report, markdown(report))
    png = plot(report, os.path.join(args.output, "scaling.png"))
    print(
        f"total {report['wall_s']:.0f} s; wrote {args.output}/scaling.json, scaling.md "
        f"and {os.path.basename(png)}"
    )
    return 0 if all("error" not in w for w in report["workers"]) else 1


if __name__ == "__main__":
    sys.exit(main())
