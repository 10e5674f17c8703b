"""Running the study: the run loop (one or more workers, clean stops), the estimate, `main`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable

from benchmarks.report import machine_info
from benchmarks.sensitivity.design import (
    CONTROLS_OUTPUT,
    DEFAULT_BACKEND,
    DEFAULT_OUTPUT,
    DESIGNS,
    INSTABILITY_OUTPUT,
    RUN_FIELDS,
    SEEDS,
    TUNE_FIELDS,
    choose_base_rates,
    config_key,
    config_label,
    distinct_configs,
    key_of,
    study_specs,
    tuning_specs,
)
from benchmarks.sensitivity.report import write_report
from benchmarks.sensitivity.store import (
    HEARTBEAT,
    RunStore,
    beat,
    check_manifest,
    hold_lock,
    log_session,
    recover_killed_session,
    sessions,
)
from benchmarks.sensitivity.train import configure_process, execute

# ----------------------------------------------------------------------------- running
_STOP: list[int] = []  # signals received: the study stops after the run in progress


def request_stop(signum, frame) -> None:
    """SIGINT/SIGTERM handler: finish the run in progress, record it, stop; twice: stop now.

    Raising from a signal handler at an arbitrary point is unreliable (inside a weakref
    callback during garbage collection the exception is printed and dropped, and the study
    went on), so the first signal only sets a flag that the run loop reads between runs.
    """
    if _STOP:
        raise KeyboardInterrupt(f"signal {signum} (second)")
    _STOP.append(signum)
    print(f"== signal {signum}: stopping after the run in progress (send it again to stop now)", flush=True)


def _worker_init(*setup) -> None:
    """A worker leaves Ctrl-C to the parent, which stops the pool cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_process(*setup)


def _check_stop() -> None:
    if _STOP:
        raise KeyboardInterrupt(f"signal {_STOP[0]}")


def describe(spec: dict) -> str:
    text = f"{config_label(spec)} lr={spec['base_lr']:g} seed={spec['seed']}"
    if spec.get("regime") not in (None, "conventional"):
        cell = f"K={100 * spec['k_fraction']:g}% r={spec['start_ratio']:g}"
        text += f" {spec['regime']} {spec['schedule'][:3]} {cell}"
    elif spec["split"] == "validation":
        text += " tune"
    else:
        text += " conventional"
    return text


def run_specs(
    specs: list[dict],
    store: RunStore,
    output: str,
    workers: int,
    setup: tuple,
    log: Callable[[str], None],
    limit: int | None = None,
) -> tuple[int, list[str]]:
    """Runs what `store` lacks; returns (runs done, failures). Ctrl-C stops cleanly."""
    todo = [s for s in specs if s not in store]
    if limit is not None:
        todo = todo[:limit]
    if not todo:
        return 0, []
    done, failures, start = 0, [], time.perf_counter()

    def finished(spec: dict, record: dict | None, error: str | None) -> None:
        nonlocal done
        if record is None:
            failures.append(f"{describe(spec)}: {error}")
            log(f"FAILED {describe(spec)}: {error}")
            return
        store.append(record)
        done += 1
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (len(todo) - done - len(failures))
        log(
            f"[{done}/{len(todo)}] {describe(spec)}: final {100 * record['final_acc']:.2f} "
            f"best {100 * record['best_acc']:.2f} ({record['wall_s']:.1f} s; ETA {eta / 60:.0f} min)"
        )

    if workers <= 1:
        configure_process(*setup)
        for spec in todo:
            _check_stop()
            try:
                record = execute(spec, output)
            except Exception as error:  # noqa: BLE001 - one bad run must not stop a long study
                finished(spec, None, f"{type(error).__name__}: {error}")
            else:
                finished(spec, record, None)
        return done, failures

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: each worker picks its backend and threads before importing Keras.
    context = multiprocessing.get_context("spawn")

    def collect(future) -> None:
        error = future.exception()
        if error is None:
            finished(futures[future], future.result(), None)
        else:
            finished(futures[future], None, f"{type(error).__name__}: {error}")

    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init, initargs=setup) as pool:
        futures = {pool.submit(execute, spec, output): spec for spec in todo}
        waiting = set(futures)
        for future in as_completed(futures):
            waiting.discard(future)
            collect(future)
            if _STOP:  # let the runs in progress finish and record them; drop the queue
                pool.shutdown(wait=True, cancel_futures=True)
                for rest in waiting:
                    if rest.done() and not rest.cancelled():
                        collect(rest)
                _check_stop()
    return done, failures


# ----------------------------------------------------------------------------- estimate
def estimate(design: dict, output: str, setup: tuple, log) -> dict:
    """Times every config's runs and sizes the whole study from the design's run list.

    Per config, at the middle base rate of its optimizer's grid: a conventional, a LeRaC
    (centre cell) and a tuning run, each twice with two seeds. On JAX the first of a pair
    compiles and the second finds the program in the compilation cache, as every seed
    after the first does in the study; the other backends pay the same every time, so they
    time one of each. The total adds, over the run list in order, the first cost for the
    first run of each program (the same config, rate and cell) and the second for the rest.
    """
    backend, threads, _ = setup
    scratch = os.path.join(output, "estimate-scratch")
    configure_process(backend, threads, os.path.join(scratch, "cache"))
    pairs = 2 if backend == "jax" else 1
    k0, r0 = design["centre"]
    first = distinct_configs(design)[0]
    execute(
        {**first, "base_lr": 0.01, "seed": 0, "split": "test", "regime": "conventional"}, scratch
    )  # imports
    costs = {}
    for cfg in distinct_configs(design):
        rates = design["base_rates"][cfg["optimizer"]]
        base = {**cfg, "base_lr": rates[len(rates) // 2], "split": "test"}
        kinds = {
            "conventional": {**base, "regime": "conventional"},
            "lerac": {
                **base,
                "regime": "lerac",
                "schedule": "exponential",
                "k_fraction": k0,
                "start_ratio": r0,
            },
            "tuning": {**base, "split": "validation"},
        }
        entry = {}
        for kind, spec in kinds.items():
            seeds = (1000, 1001) if kind == "tuning" else (0, 1)
            times = [execute({**spec, "seed": seed}, scratch)["wall_s"] for seed in seeds[:pairs]]
            entry[kind] = {"first_s": times[0], "repeat_s": times[-1]}
        costs[config_key(cfg)] = entry
        log(
            f"{config_label(cfg)}: "
            + ", ".join(f"{k} {v['first_s']:.2f}/{v['repeat_s']:.2f} s" for k, v in entry.items())
            + " (first/repeat)"
        )
    rates = {
        config_key(c): {"base_lr": design["base_rates"][c["optimizer"]][0]} for c in distinct_configs(design)
    }
    total, counts, seen = 0.0, {"tuning": 0, "conventional": 0}, set()
    for spec in tuning_specs(design) + study_specs(design, rates):
        kind = "tuning" if spec["split"] == "validation" else spec["regime"]
        counts[kind] = counts.get(kind, 0) + 1
        kind = kind if kind in ("tuning", "conventional") else "lerac"  # a control costs what LeRaC costs
        program = key_of(spec, [f for f in RUN_FIELDS if f != "seed"]) + spec["split"]
        cost = costs[config_key(spec)][kind]
        total += cost["repeat_s" if program in seen else "first_s"]
        seen.add(program)
    result = {
        "backend": backend,
        "threads": threads,
        "seeds": len(design["seeds"]),
        "per_config": [{"config": config_label(c), **costs[config_key(c)]} for c in distinct_configs(design)],
        "runs": counts,
        "estimated_total_s_one_worker": round(total, 1),
        "load_average": os.getloadavg(),
    }
    log(
        f"runs: {counts}; estimated total with --workers 1: {total / 3600:.2f} h "
        f"(load average now {os.getloadavg()[0]:.1f})"
    )
    return result


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="LeRaC sensitivity study over K, start ratio and more")
    parser.add_argument(
        "--design",
        choices=sorted(DESIGNS),
        default="full",
        help="full: the sensitivity study; controls: LeRaC against warm-up and anti-curriculum; "
        "instability: LeRaC against two warm-ups where training is unstable; "
        "smoke, smoke-controls, smoke-instability: tiny versions (tests)",
    )
    parser.add_argument("--smoke", action="store_true", help="the same as --design smoke")
    parser.add_argument(
        "--output",
        default=None,
        help=f"default {DEFAULT_OUTPUT} (full), {CONTROLS_OUTPUT} (controls), {INSTABILITY_OUTPUT} "
        "(instability); required for smoke designs",
    )
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        help=f"Keras backend of every run (default {DEFAULT_BACKEND}, the fastest here; not KERAS_BACKEND)",
    )
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per worker (0: default)")
    parser.add_argument(
        "--seeds", type=int, default=None, help=f"seeds per cell (default {SEEDS}; instability 24; smoke 2)"
    )
    parser.add_argument("--limit", type=int, default=None, help="stop after this many new runs (pilots)")
    parser.add_argument("--report-only", action="store_true", help="re-aggregate the recorded runs")
    parser.add_argument("--estimate", action="store_true", help="time each config, estimate the total")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    args = parser.parse_args(argv)
    if args.backend not in ("jax", "tensorflow", "torch"):
        parser.error(f"--backend must be jax, tensorflow or torch, not {args.backend!r}")
    name = "smoke" if args.smoke else args.design
    make, default_output = DESIGNS[name]
    design = make(args.seeds) if args.seeds else make()  # each design's own default seeds
    output = args.output or default_output
    if output is None:
        parser.error(f"--design {name} needs --output DIR (a smoke design writes no committed results)")
    setup = (args.backend, args.threads, os.path.join(output, "cache"))

    def log(text: str) -> None:
        if not args.quiet or text.startswith(("FAILED", "==")):
            print(text, flush=True)

    env_backend = os.environ.get("KERAS_BACKEND")
    if env_backend and env_backend != args.backend and not args.report_only:
        log(f"== runs use --backend {args.backend}; KERAS_BACKEND={env_backend} is not used")
    if args.estimate:
        os.makedirs(output, exist_ok=True)
        result = estimate(design, output, setup, log)
        with open(os.path.join(output, f"estimate-{args.backend}.json"), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        return 0

    # --report-only reads whatever backend the study was run on.
    backend = check_manifest(output, design, None if args.report_only else args.backend)
    if args.report_only and backend and "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = backend  # the machine info names the study's backend
    os.makedirs(output, exist_ok=True)
    lock = None if args.report_only else hold_lock(output)  # noqa: F841  (held until exit)
    tuning = RunStore(os.path.join(output, "tuning.jsonl"), TUNE_FIELDS)
    runs = RunStore(os.path.join(output, "runs.jsonl"), RUN_FIELDS)
    for store in (tuning, runs):
        if store.dropped:
            log(f"== dropped {store.dropped} unreadable line(s) from {store.path}: those runs are redone")
    if argv is None:  # as a script: Ctrl-C or `kill PID` finish the run in progress, log, report, exit
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
    command = "python -m benchmarks.sensitivity " + " ".join(argv if argv is not None else sys.argv[1:])
    started, wall0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
    recorded = len(tuning.records) + len(runs.records)
    done, failures, status = 0, [], "complete"
    if not args.report_only:
        killed = recover_killed_session(output)
        if killed is not None:
            log(f"== session {killed['started']} was killed; its {killed['wall_s']:.0f} s are counted")
        session = {
            "command": command,
            "started": started,
            "workers": args.workers,
            "backend": args.backend,
            "threads": args.threads,
        }

        def progress(text: str) -> None:
            """The per-run log line, and the session's heartbeat."""
            log(text)
            done_now = len(tuning.records) + len(runs.records) - recorded
            beat(output, {**session, "wall_s": round(time.perf_counter() - wall0, 1), "runs_done": done_now})

        limit = args.limit
        try:
            specs = tuning_specs(design)
            log(f"== tuning: {sum(s not in tuning for s in specs)} of {len(specs)} runs to do")
            n, failed = run_specs(specs, tuning, output, args.workers, setup, progress, limit)
            failures += failed
            limit = None if limit is None else limit - n
            rates = choose_base_rates(design, tuning.records)
            specs = study_specs(design, rates)
            log(f"== study: {sum(s not in runs for s in specs)} of {len(specs)} runs to do")
            if limit is None or limit > 0:
                _, failed = run_specs(specs, runs, output, args.workers, setup, progress, limit)
                failures += failed
        except KeyboardInterrupt:
            status = "interrupted"
            log("== stopped: every finished run is recorded; rerun the same command to continue")
        done = len(tuning.records) + len(runs.records) - recorded
        if failures:
            status = "failures"
        elif args.limit is not None:
            status = "limited"
        log_session(
            output,
            {
                "command": command,
                "started": started,
                "wall_s": round(time.perf_counter() - wall0, 1),
                "runs_done": done,
                "failures": len(failures),
                "status": status,
                "workers": args.workers,
                "backend": args.backend,
                "threads": args.threads,
                "load_average_end": os.getloadavg(),
            },
        )
        if os.path.exists(os.path.join(output, HEARTBEAT)):  # absent when nothing ran
            os.remove(os.path.join(output, HEARTBEAT))
    history = sessions(output)
    meta = {
        "backend": backend,
        "threads": args.threads,
        "sessions": history,
        "wall_s": sum(s["wall_s"] for s in history),
        "machine": machine_info(),
        "pending_runs": len(
            [s for s in study_specs(design, choose_base_rates(design, tuning.records)) if s not in runs]
        )
        + len([s for s in tuning_specs(design) if s not in tuning]),
    }
    summary = write_report(output, design, runs, tuning, meta)
    maps = " and the heat maps" if summary["heatmaps"] else ""
    log(f"== {done} new runs ({status}); wrote {output}/summary.json, summary.md{maps}")
    for failure in failures:
        log(f"FAILED {failure}")
    return 1 if failures else 0
