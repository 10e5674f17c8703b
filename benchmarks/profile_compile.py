"""JAX only: where LeRaC's first epoch goes, tracing and lowering vs XLA's compile.

`benchmarks.overhead` measures the first epoch as a whole; this splits the train step's one-time
cost in two for plain, plain with a runtime rate schedule, and LeRaC, on the same MLP:

    KERAS_BACKEND=jax python -m benchmarks.profile_compile            # 96-layer MLP, SGD
    KERAS_BACKEND=jax python -m benchmarks.profile_compile --optimizer adam --depth 24

It prints one line per arm: trace + lower seconds, XLA compile seconds, and the StableHLO
op counts that differ from plain. Each arm runs in a fresh process (no warm caches).
`--output DIR` also writes `DIR/profile_compile_<optimizer>.json` and `.md`
(`benchmarks.report`: the command, the machine, the load average, every arm's numbers).
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time

from benchmarks import report as report_writer
from benchmarks.workers import module_command, module_env

ARMS = ("plain", "plain-schedule", "lerac")


def measure(arm: str, depth: int, width: int, optimizer: str) -> dict:
    import jax
    import keras
    import numpy as np

    from keras_lerac import LeRaC

    keras.utils.set_random_seed(0)
    inputs = keras.Input((width,))
    x = inputs
    for _ in range(depth):
        x = keras.layers.Dense(width, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    rate = 0.01 if optimizer == "sgd" else 1e-3
    if arm == "plain-schedule":
        rate = keras.optimizers.schedules.CosineDecay(rate, 1000)
    base = keras.optimizers.SGD(rate, momentum=0.9) if optimizer == "sgd" else keras.optimizers.Adam(rate)
    opt = base
    if arm == "lerac":
        opt = LeRaC(base, min_learning_rate=rate * 1e-4, curriculum_steps=1000, model=model)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.optimizer.build(model.trainable_variables)
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(64, width)).astype("float32"), rng.integers(0, 10, 64))
    start = time.perf_counter()
    lowered = jax.jit(model.train_step).lower(state, data)
    traced = time.perf_counter()
    executable = lowered.compile()
    compiled = time.perf_counter()
    kernels = executable.as_text().count(" fusion(")
    ops = collections.Counter(re.findall(r"= \"?(stablehlo\.[a-z_]+)", lowered.as_text()))
    return {
        "arm": arm,
        "trace_lower_s": round(traced - start, 3),
        "compile_s": round(compiled - traced, 3),
        "fusions": kernels,
        "ops": dict(ops),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=96)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--output", default=None, help="also write the results files into this folder")
    parser.add_argument("--arm", choices=ARMS, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arm is not None:
        print(json.dumps(measure(args.arm, args.depth, args.width, args.optimizer)))
        return 0
    env = dict(module_env("jax"), TF_CPP_MIN_LOG_LEVEL="3")
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "jax"  # the machine info reads the backend's version
    report = report_writer.new_report("benchmarks.profile_compile", argv, "full", None) if args.output else {}
    start = time.perf_counter()
    results = {}
    for arm in ARMS:
        command = module_command("benchmarks.profile_compile", "--arm", arm, "--depth", str(args.depth))
        command += ["--width", str(args.width), "--optimizer", args.optimizer]
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        results[arm] = json.loads(proc.stdout.strip().splitlines()[-1])
    plain = results["plain"]["ops"]
    print(f"JAX, MLP depth {args.depth} width {args.width}, {args.optimizer}:")
    rows = []
    for arm, r in results.items():
        r["ops_vs_plain"] = {k: v - plain.get(k, 0) for k, v in r["ops"].items() if v != plain.get(k, 0)}
        print(
            f"  {arm:<15} trace+lower {r['trace_lower_s']:.2f} s  XLA compile {r['compile_s']:.2f} s  "
            f"fusions {r['fusions']}  ops vs plain {r['ops_vs_plain']}"
        )
        rows.append(
            [arm, f"{r['trace_lower_s']:.2f}", f"{r['compile_s']:.2f}", r["fusions"], r["ops_vs_plain"]]
        )
    if args.output:
        report.update(
            depth=args.depth,
            width=args.width,
            optimizer=args.optimizer,
            arms=results,
            wall_s=time.perf_counter() - start,
        )
        columns = ("arm", "trace + lower s", "XLA compile s", "fusions", "StableHLO ops vs plain")
        title = (
            f"JAX, MLP depth {args.depth} width {args.width}, {args.optimizer}; each arm in a fresh process."
        )
        text = report_writer.document(report_writer.table(columns, rows), title)
        report_writer.write(args.output, f"profile_compile_{args.optimizer}", report, text, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
