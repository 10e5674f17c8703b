"""Where LeRaC's extra time per step goes: the optimizer update alone, plain vs LeRaC.

Usage::

    python -m benchmarks.profile_apply [--backends tensorflow,jax,torch] [--calls 200]
        [--output DIR] [--cprofile]

One subprocess per backend. For the overhead benchmark's models (the residual CNN and
the 24-layer MLP) and base optimizers, the worker builds the optimizer on the model's
trainable variables, feeds it fixed gradients and measures ONLY the update
(`optimizer.apply` / `stateless_apply`), the part LeRaC changes:

- TensorFlow: `tf.function(optimizer.apply)` (graph, as `model.fit` runs it without
  XLA) and `tf.function(jit_compile=True)` (XLA); op count = operations in the traced
  graph.
- JAX: `jax.jit(optimizer.stateless_apply)`; op count = instructions of the optimized
  HLO module (all computations) and the number of top-level instructions of the ENTRY
  computation (roughly: kernels launched).
- torch (eager): `optimizer.apply(grads)`; op count = aten/dispatcher calls seen by
  `torch.profiler` in one update. `--cprofile` also prints the top Python functions
  (by own time) of LeRaC's update.

Reports microseconds per update (median of batches of calls), extra time and extra ops
per bucket.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks import report as report_writer
from benchmarks.overhead import CURRICULUM_STEPS, MIN_RATE, base_optimizer, build_model
from benchmarks.workers import apply_threads, module_command, module_env, write_result

MODULE = "benchmarks.profile_apply"


def _median_us(fn, calls: int, sync=lambda r: r) -> float:
    for _ in range(max(3, calls // 10)):
        sync(fn())
    samples = []
    chunk = max(1, calls // 10)
    for _ in range(10):
        start = time.perf_counter()
        for _ in range(chunk):
            out = fn()
        sync(out)
        samples.append((time.perf_counter() - start) / chunk * 1e6)
    return statistics.median(samples)


def _make(arm, opt_name, model):

    from keras_lerac import LeRaC

    opt = base_optimizer(opt_name)
    if arm == "lerac":
        opt = LeRaC(opt, min_learning_rate=MIN_RATE[opt_name], curriculum_steps=CURRICULUM_STEPS, model=model)
    opt.build(model.trainable_variables)
    return opt


def profile_one(backend, kind, opt_name, arm, calls, use_cprofile=False) -> dict:
    import keras
    import numpy as np
    from keras import ops

    keras.utils.set_random_seed(0)
    model = build_model(kind)
    tvars = model.trainable_variables
    grads_np = [np.full(v.shape, 1e-3, dtype="float32") for v in tvars]
    opt = _make(arm, opt_name, model)
    row = {"model": kind, "optimizer": opt_name, "arm": arm, "opt_vars": len(opt.variables)}
    if arm == "lerac":
        row["buckets"] = len(opt.bucket_optimizers)
    if backend == "tensorflow":
        import tensorflow as tf

        grads = [tf.constant(g) for g in grads_np]
        for jit in (False, True):
            fn = tf.function(lambda: opt.apply(grads, tvars), jit_compile=jit)
            graph = fn.get_concrete_function().graph
            key = "xla" if jit else "graph"
            row[f"ops_{key}"] = len(graph.get_operations())
            row[f"us_{key}"] = _median_us(fn, calls)
        row["us"], row["ops"] = row["us_graph"], row["ops_graph"]
    elif backend == "jax":
        import jax

        grads = [jax.numpy.asarray(g) for g in grads_np]
        opt_vals = [v.value for v in opt.variables]
        tv_vals = [v.value for v in tvars]
        fn = jax.jit(lambda ov, g, tv: opt.stateless_apply(ov, g, tv))
        compiled = fn.lower(opt_vals, grads, tv_vals).compile()
        text = compiled.as_text()
        row["ops"] = sum(
            1 for line in text.splitlines() if " = " in line and not line.lstrip().startswith("//")
        )
        entry = text[text.index("ENTRY") :]
        entry = entry[: entry.index("\n}") if "\n}" in entry else len(entry)]
        row["entry_ops"] = sum(1 for line in entry.splitlines() if " = " in line)
        row["fusions"] = entry.count(" fusion(")
        state = {"ov": opt_vals, "tv": tv_vals}

        def step():
            tv, ov = compiled(state["ov"], grads, state["tv"])
            state["ov"], state["tv"] = ov, tv
            return tv

        row["us"] = _median_us(step, calls, sync=lambda r: jax.block_until_ready(r))
    elif backend == "torch":
        import torch

        grads = [ops.convert_to_tensor(g) for g in grads_np]
        with torch.no_grad():
            row["us"] = _median_us(lambda: opt.apply(grads, tvars), calls)
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                opt.apply(grads, tvars)
            events = prof.key_averages()
            row["ops"] = int(sum(e.count for e in events if e.key.startswith("aten::")))
            row["top_aten"] = sorted(
                ((e.key, int(e.count)) for e in events if e.key.startswith("aten::")), key=lambda kv: -kv[1]
            )[:8]
            if use_cprofile:
                import cProfile
                import io
                import pstats

                pr = cProfile.Profile()
                pr.enable()
                for _ in range(50):
                    opt.apply(grads, tvars)
                pr.disable()
                buf = io.StringIO()
                stats = pstats.Stats(pr, stream=buf)
                row["py_calls_per_update"] = stats.total_calls / 50
                stats.sort_stats("tottime").print_stats(18)
                row["cprofile"] = buf.getvalue()
    return row


def worker(backend, calls, use_cprofile, models, optimizers) -> list[dict]:
    rows = []
    for kind in models:
        for opt_name in optimizers:
            plain = profile_one(backend, kind, opt_name, "plain", calls, use_cprofile)
            lerac = profile_one(backend, kind, opt_name, "lerac", calls, use_cprofile)
            n = lerac["buckets"]
            entry = {
                "backend": backend,
                "model": kind,
                "optimizer": opt_name,
                "buckets": n,
                "plain": plain,
                "lerac": lerac,
                "extra_us": lerac["us"] - plain["us"],
                "extra_us_per_bucket": (lerac["us"] - plain["us"]) / n,
                "extra_ops": lerac["ops"] - plain["ops"],
                "extra_ops_per_bucket": (lerac["ops"] - plain["ops"]) / n,
            }
            rows.append(entry)
            print(
                f"[{backend}] {kind}/{opt_name}: plain {plain['us']:.0f} us ({plain['ops']} ops), "
                f"lerac {lerac['us']:.0f} us ({lerac['ops']} ops), {n} buckets",
                file=sys.stderr,
                flush=True,
            )
    return rows


COLUMNS = (
    "backend",
    "model",
    "opt",
    "buckets",
    "update us plain",
    "update us LeRaC",
    "extra us / bucket",
    "ops plain",
    "ops LeRaC",
    "extra ops / bucket",
    "notes",
)


def markdown(rows) -> str:
    """The update-cost table (`report.table`)."""
    lines = []
    for r in rows:
        p, le = r["plain"], r["lerac"]
        note = ""
        if r["backend"] == "tensorflow":
            note = f"XLA: {p['us_xla']:.0f} / {le['us_xla']:.0f} us, {p['ops_xla']} / {le['ops_xla']} ops"
        elif r["backend"] == "jax":
            note = (
                f"ENTRY instrs {p['entry_ops']} / {le['entry_ops']}, fusions {p['fusions']} / {le['fusions']}"
            )
        lines.append(
            [
                r["backend"],
                r["model"],
                r["optimizer"],
                r["buckets"],
                f"{p['us']:.0f}",
                f"{le['us']:.0f}",
                f"{r['extra_us_per_bucket']:.1f}",
                p["ops"],
                le["ops"],
                f"{r['extra_ops_per_bucket']:.1f}",
                note,
            ]
        )
    return report_writer.document(report_writer.table(COLUMNS, lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="optimizer update cost: plain vs LeRaC")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--models", default="cnn,mlp")
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--output", default="lerac-results/benchmarks")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads per backend")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    models, optimizers = args.models.split(","), args.optimizers.split(",")
    if args.worker:
        apply_threads(args.worker, args.threads)
        return write_result(args.json_out, worker(args.worker, args.calls, args.cprofile, models, optimizers))
    os.makedirs(args.output, exist_ok=True)
    rows = []
    for backend in args.backends.split(","):
        path = os.path.join(args.output, f"profile_{backend}.json")
        cmd = module_command(
            MODULE,
            "--worker",
            backend,
            "--json-out",
            path,
            "--calls",
            str(args.calls),
            "--models",
            args.models,
            "--optimizers",
            args.optimizers,
        )
        if args.cprofile:
            cmd.append("--cprofile")
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, env=module_env(backend, args.threads), stderr=subprocess.PIPE, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            continue
        with open(path) as f:
            rows.extend(json.load(f))
    report_writer.write(args.output, "profile", rows, markdown(rows))
    for r in rows:
        if "py_calls_per_update" in r["lerac"]:
            print(
                f"{r['model']}/{r['optimizer']}: Python calls per update plain "
                f"{r['plain'].get('py_calls_per_update')}, LeRaC {r['lerac']['py_calls_per_update']}"
            )
        if "cprofile" in r["lerac"]:
            print(f"--- cProfile, torch LeRaC update x50, {r['model']}/{r['optimizer']}")
            print(r["lerac"]["cprofile"])
            print("top aten ops (LeRaC):", r["lerac"]["top_aten"], "\n(plain):", r["plain"]["top_aten"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
