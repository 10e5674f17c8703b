"""LeRaC under JAX distribution: multi-process data parallel, and model parallel with a LayoutMap.

JAX only (this script sets `KERAS_BACKEND=jax`). Two parts:

(a) `--mode data-parallel`: `keras.distribution.initialize(job_addresses=...,
    num_processes=N, process_id=i)` then `keras.distribution.DataParallel` over every
    device of every process, the model compiled with LeRaC and trained with `fit`. The
    inputs are NumPy arrays, so `auto_shard_dataset = False` and each process feeds its
    own slice of every global batch (JAX assembles the global batch across processes).
    Each worker writes its final weights to `--output`. Run without `--process-id`, the
    script launches the N workers itself on 127.0.0.1 (CPU, gloo collectives), waits for
    them, trains the same model on the same global batches in one process, and checks the
    weights agree (atol 1e-5).

(b) `--mode model-parallel`: `keras.distribution.ModelParallel` with a `LayoutMap` that
    splits every Dense kernel's output dimension over a `model` mesh axis of 2 devices
    (2 host CPU devices via `XLA_FLAGS=--xla_force_host_platform_device_count=2` when
    there is no accelerator). LeRaC's bucket optimizers create their slots from the
    variables, so each momentum is sharded like its kernel: the script prints both
    shardings and checks they match.

The data are scikit-learn's bundled digits (offline), the model an MLP; put your own
data and model in `data()` and `mlp()`.

Full size, on two hosts (a GPU or more each), one command per host:

    python examples/multi_host.py --mode data-parallel --coordinator HOST0:1234 \
        --num-processes 2 --process-id 0 --output weights/     # on HOST0
    python examples/multi_host.py --mode data-parallel --coordinator HOST0:1234 \
        --num-processes 2 --process-id 1 --output weights/     # on HOST1
    python examples/multi_host.py --mode model-parallel        # on a host with 2+ devices

Smoke run (two CPU processes on 127.0.0.1, then model parallel on 2 host devices):

    python examples/multi_host.py --smoke
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

os.environ["KERAS_BACKEND"] = "jax"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("both", "data-parallel", "model-parallel"), default="both")
    parser.add_argument("--coordinator", default=None, help="HOST:PORT of process 0 (default: local launch)")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--process-id", type=int, default=None, help="this worker's id; none: launch them")
    parser.add_argument(
        "--output",
        default=None,
        help="directory for each worker's final weights (default: multi_host_weights)",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--global-batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--min-lr", type=float, default=1e-5, help="LeRaC: start rate of the head")
    parser.add_argument("--curriculum-steps", type=int, default=40, help="LeRaC: K, in iterations")
    parser.add_argument("--max-batches", type=int, default=None, help="global batches per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="16 steps, two local CPU processes")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.global_batch_size, args.max_batches, args.curriculum_steps = 1, 32, 16, 8
    return args


def data():
    """Digits as vectors; training examples cut to whole global batches later."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.data / 16.0).astype("float32"), digits.target.astype("int32")


def mlp(keras):
    inputs = keras.Input((64,))
    x = keras.layers.Dense(128, activation="relu", name="dense_1")(inputs)
    x = keras.layers.Dense(128, activation="relu", name="dense_2")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="dense_3")(x))


def compiled_model(keras, args):
    from keras_lerac import LeRaC

    keras.utils.set_random_seed(args.seed)  # the same initial weights in every process
    model = mlp(keras)
    optimizer = LeRaC(
        keras.optimizers.SGD(args.learning_rate, momentum=0.9),
        min_learning_rate=args.min_lr,
        curriculum_steps=args.curriculum_steps,
        model=model,
    )
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, optimizer


def global_batches(args):
    """`(x, y)` cut to whole global batches, in order: the batches every run sees."""
    x, y = data()
    batches = len(x) // args.global_batch_size
    if args.max_batches:
        batches = min(batches, args.max_batches)
    n = batches * args.global_batch_size
    return x[:n], y[:n]


def local_shard(x, global_batch, process_id, num_processes):
    """This process's slice of every global batch, concatenated."""
    local = global_batch // num_processes
    batches = x.reshape(-1, global_batch, *x.shape[1:])
    return batches[:, process_id * local : (process_id + 1) * local].reshape(-1, *x.shape[1:])


def data_parallel_worker(args):
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives across processes
    import keras
    import numpy as np

    keras.utils.set_random_seed(args.seed)  # before initialize: no seed to agree on across processes
    keras.distribution.initialize(
        job_addresses=args.coordinator, num_processes=args.num_processes, process_id=args.process_id
    )
    distribution = keras.distribution.DataParallel()  # every device of every process
    distribution.auto_shard_dataset = False  # NumPy inputs: each process feeds its own shard
    keras.distribution.set_distribution(distribution)
    print(f"process {jax.process_index()}/{jax.process_count()}: {len(jax.devices())} devices in all")

    x, y = global_batches(args)
    local_batch = args.global_batch_size // args.num_processes
    x_local = local_shard(x, args.global_batch_size, args.process_id, args.num_processes)
    y_local = local_shard(y, args.global_batch_size, args.process_id, args.num_processes)
    model, optimizer = compiled_model(keras, args)
    history = model.fit(
        x_local, y_local, batch_size=local_batch, epochs=args.epochs, shuffle=False, verbose=0
    )
    step = int(keras.ops.convert_to_numpy(optimizer.iterations))
    np.testing.assert_allclose(
        optimizer.current_learning_rates(), optimizer.learning_rates_at(step), rtol=1e-5
    )
    print(f"process {args.process_id}: {step} steps, final loss {history.history['loss'][-1]:.4f}")
    output = args.output or "multi_host_weights"
    os.makedirs(output, exist_ok=True)
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    np.savez(os.path.join(output, f"weights_process{args.process_id}.npz"), **weights)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_local(args, argv):
    """Starts the workers on 127.0.0.1, then checks them against one process on the same batches."""
    output = args.output or tempfile.mkdtemp(prefix="lerac-multi-host-")
    coordinator = f"127.0.0.1:{free_port()}"
    common = [sys.executable, os.path.abspath(__file__), *argv, "--mode", "data-parallel"]
    common += ["--coordinator", coordinator, "--output", output]
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="")  # one CPU device per process
    workers = [
        subprocess.Popen([*common, "--process-id", str(i)], env=env) for i in range(args.num_processes)
    ]
    try:
        import jax

        jax.config.update("jax_platforms", "cpu")  # the workers' platform: the same arithmetic
        import keras
        import numpy as np

        # Meanwhile, the reference: one process, one device, the same global batches.
        x, y = global_batches(args)
        model, _ = compiled_model(keras, args)
        model.fit(x, y, batch_size=args.global_batch_size, epochs=args.epochs, shuffle=False, verbose=0)
        reference = model.get_weights()
        deadline = time.monotonic() + 600
        # Wait for all; a worker that fails leaves its peers waiting for it: stop them.
        while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
            if any(w.poll() not in (None, 0) for w in workers):
                break
            time.sleep(0.2)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    codes = [w.wait() for w in workers]
    assert codes == [0] * args.num_processes, f"worker exit codes {codes}"
    gap = 0.0
    for i in range(args.num_processes):
        saved = np.load(os.path.join(output, f"weights_process{i}.npz"))
        worker = [saved[f"w{k}"] for k in range(len(reference))]
        for a, b in zip(worker, reference):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
            gap = max(gap, float(np.max(np.abs(a - b))))
    print(
        f"data parallel: {args.num_processes} processes == 1 process on the same global batches "
        f"(largest weight difference {gap:.1e}); weights in {output}"
    )


def model_parallel(args):
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")  # before JAX starts
    import keras
    import numpy as np

    devices = keras.distribution.list_devices()[:2]
    mesh = keras.distribution.DeviceMesh((1, 2), axis_names=("batch", "model"), devices=devices)
    layout_map = keras.distribution.LayoutMap(mesh)
    layout_map["dense.*kernel"] = (None, "model")  # each device holds half of the output columns
    layout_map["dense.*bias"] = ("model",)
    keras.distribution.set_distribution(keras.distribution.ModelParallel(layout_map=layout_map))

    x, y = global_batches(args)
    model, optimizer = compiled_model(keras, args)
    model.fit(x, y, batch_size=args.global_batch_size, epochs=args.epochs, shuffle=False, verbose=0)
    step = int(keras.ops.convert_to_numpy(optimizer.iterations))
    np.testing.assert_allclose(
        optimizer.current_learning_rates(), optimizer.learning_rates_at(step), rtol=1e-5
    )

    kernel = model.get_layer("dense_2").kernel
    # The bucket optimizer that owns the kernel, and the kernel's momentum in it.
    j = next(j for j, bucket in enumerate(optimizer.buckets) if any(v is kernel for v in bucket))
    i = next(i for i, v in enumerate(optimizer.buckets[j]) if v is kernel)
    momentum = optimizer.bucket_optimizers[j].momentums[i]
    print(f"model parallel on {[str(d) for d in devices]}, {step} steps")
    print(f"kernel   {kernel.path}: shape {kernel.shape}, sharding {kernel.value.sharding}")
    print(
        f"momentum {momentum.path} (bucket {j}): shape {momentum.shape}, sharding {momentum.value.sharding}"
    )
    assert kernel.value.sharding.is_equivalent_to(momentum.value.sharding, len(kernel.shape))
    shards = [s.data.shape for s in momentum.value.addressable_shards]
    print(f"momentum shards per device: {shards}")
    assert shards == [(kernel.shape[0], kernel.shape[1] // 2)] * 2, shards


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.mode == "model-parallel":
        model_parallel(args)
    elif args.process_id is not None:
        data_parallel_worker(args)
    elif args.mode == "data-parallel":
        launch_local(args, strip(argv, "--mode"))
    else:  # both: each part in its own processes (devices are fixed when JAX starts)
        launch_local(args, strip(argv, "--mode"))
        command = [
            sys.executable,
            os.path.abspath(__file__),
            *strip(argv, "--mode"),
            "--mode",
            "model-parallel",
        ]
        subprocess.run(command, check=True, timeout=600)


def strip(argv, flag):
    """`argv` without `flag` and its value."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == flag:
            skip = True
        elif not a.startswith(flag + "="):
            out.append(a)
    return out


if __name__ == "__main__":
    main()
