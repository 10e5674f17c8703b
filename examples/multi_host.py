"""Past one machine with LeRaC: each Keras backend's own engine, checked against one process.

The backend is `KERAS_BACKEND` (JAX when it is not set). Modes:

- `--mode data-parallel`, by backend:
  - JAX: `keras.distribution.initialize(job_addresses=..., num_processes=N,
    process_id=i)`, then `keras.distribution.DataParallel` over every device of every
    process, the model compiled with LeRaC and trained with `fit`. The inputs are NumPy
    arrays, so `auto_shard_dataset = False` and each process feeds its own slice of every
    global batch (JAX assembles the global batch across processes).
  - PyTorch: `torch.distributed` (gloo on CPU, NCCL on GPUs) and a custom loop: the
    Keras model (a `torch.nn.Module` on this backend) wrapped in
    `torch.nn.parallel.DistributedDataParallel`, each process's slice of the global
    batch forward and backward, DDP all-reducing (averaging) the gradients, and LeRaC
    applying them: `optimizer.apply(grads, model.trainable_weights)`. Keras 3.15's `fit`
    does not wrap a torch model in DDP, hence the loop. The script checks the applied
    rates against `opt.learning_rates_at(step)` at every step.
  - TensorFlow: `tf.distribute.MirroredStrategy` around `fit`, one process, every device
    of this host (2 logical CPUs without an accelerator). Keras 3.15's `fit` under
    `MultiWorkerMirroredStrategy` fails for plain optimizers too, so TensorFlow stops at
    one host.

  On JAX and PyTorch, each worker writes its final weights to `--output`. Run without
  `--process-id`, the script launches the N workers itself on 127.0.0.1 (CPU), waits for
  them, trains the same model on the same global batches in one process, and checks the
  weights agree (atol 1e-5). TensorFlow checks the same in its one process.

- `--mode model-parallel` (JAX only): `keras.distribution.ModelParallel` with a
  `LayoutMap` that splits every Dense kernel's output dimension over a `model` mesh axis
  of 2 devices (2 host CPU devices via `XLA_FLAGS=--xla_force_host_platform_device_count=2`
  when there is no accelerator). LeRaC's bucket optimizers create their slots from the
  variables, so each momentum is sharded like its kernel: the script prints both
  shardings and checks they match. On another backend it prints a one-line note naming
  the command to run instead and exits 0.

The data are scikit-learn's bundled digits (offline), the model an MLP; put your own
data and model in `data()` and `mlp()`.

Full size, on two hosts (a GPU or more each), one command per host (JAX or PyTorch):

    python examples/multi_host.py --mode data-parallel --coordinator HOST0:1234 \
        --num-processes 2 --process-id 0 --output weights/     # on HOST0
    python examples/multi_host.py --mode data-parallel --coordinator HOST0:1234 \
        --num-processes 2 --process-id 1 --output weights/     # on HOST1
    KERAS_BACKEND=jax python examples/multi_host.py --mode model-parallel  # 2+ devices

Smoke run (JAX: two CPU processes on 127.0.0.1, then model parallel on 2 host devices;
PyTorch: two DDP processes on 127.0.0.1; TensorFlow: MirroredStrategy on 2 logical CPUs):

    KERAS_BACKEND=torch python examples/multi_host.py --smoke
"""

import argparse
import datetime
import os
import socket
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
BACKEND = os.environ["KERAS_BACKEND"]


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


def check_rates(optimizer, step):
    """The rates in the optimizer's state equal the plan at `step`."""
    import numpy as np

    np.testing.assert_allclose(
        optimizer.current_learning_rates(), optimizer.learning_rates_at(step), rtol=1e-5
    )


def save_weights(model, args):
    import numpy as np

    output = args.output or os.path.join("lerac-results", "multi_host")
    os.makedirs(output, exist_ok=True)
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    path = os.path.join(output, f"weights_process{args.process_id}.npz")
    np.savez(path, **weights)
    print(f"process {args.process_id}: wrote its weights to {path}")


def torch_train(model, optimizer, x, y, batch_size, epochs, ddp=None):
    """The custom loop: forward (through DDP when given), backward, LeRaC applies the grads.

    Returns the number of steps; checks the rates against the plan before every step.
    """
    import keras
    import torch

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    forward = ddp if ddp is not None else model
    optimizer.build(model.trainable_weights)
    step = 0
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            check_rates(optimizer, step)
            xb, yb = (
                torch.from_numpy(x[start : start + batch_size]),
                torch.from_numpy(y[start : start + batch_size]),
            )
            loss = loss_fn(yb, forward(xb, training=True))
            model.zero_grad(set_to_none=True)
            loss.backward()  # under DDP: the gradients arrive all-reduced (averaged over processes)
            grads = [v.value.grad for v in model.trainable_weights]
            with torch.no_grad():
                optimizer.apply(grads, model.trainable_weights)
            step += 1
    check_rates(optimizer, step)
    return step


def torch_ddp_worker(args):
    import keras
    import numpy as np
    import torch
    import torch.distributed as dist

    host, port = args.coordinator.rsplit(":", 1)
    os.environ.update(MASTER_ADDR=host, MASTER_PORT=port)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if host in ("127.0.0.1", "localhost"):  # gloo's pairs on loopback too, not the host name's address
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    # A peer that never comes fails within a minute instead of torch's 30-minute default.
    timeout = datetime.timedelta(seconds=60)
    dist.init_process_group(backend, rank=args.process_id, world_size=args.num_processes, timeout=timeout)
    try:
        x, y = global_batches(args)
        local_batch = args.global_batch_size // args.num_processes
        x_local = local_shard(x, args.global_batch_size, args.process_id, args.num_processes)
        y_local = local_shard(y, args.global_batch_size, args.process_id, args.num_processes)
        model, optimizer = compiled_model(keras, args)
        ddp = torch.nn.parallel.DistributedDataParallel(model)  # on GPUs: device_ids=[local rank]
        steps = torch_train(model, optimizer, x_local, y_local, local_batch, args.epochs, ddp=ddp)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y_local, model(x_local))
        print(
            f"process {args.process_id}: {steps} steps, applied rates == plan at every step, "
            f"final loss {float(np.asarray(keras.ops.convert_to_numpy(loss))):.4f}"
        )
        save_weights(model, args)
    finally:
        dist.destroy_process_group()


def tf_mirrored(args):
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]  # before TF's runtime starts
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        devices = ["/cpu:0", "/cpu:1"]
    else:
        devices = None  # every GPU
    import keras
    import numpy as np

    strategy = tf.distribute.MirroredStrategy(devices)
    x, y = global_batches(args)
    with strategy.scope():
        model, optimizer = compiled_model(keras, args)
    model.fit(x, y, batch_size=args.global_batch_size, epochs=args.epochs, shuffle=False, verbose=0)
    step = int(keras.ops.convert_to_numpy(optimizer.iterations))
    check_rates(optimizer, step)
    print(f"MirroredStrategy: {strategy.num_replicas_in_sync} replicas, {step} steps, rates == plan")
    single, _ = compiled_model(keras, args)  # the same seed, no strategy
    single.fit(x, y, batch_size=args.global_batch_size, epochs=args.epochs, shuffle=False, verbose=0)
    gap = 0.0
    for a, b in zip(model.get_weights(), single.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
        gap = max(gap, float(np.max(np.abs(a - b))))
    print(
        f"data parallel: {strategy.num_replicas_in_sync} replicas == 1 device on the same global batches "
        f"(largest weight difference {gap:.1e})"
    )


def data_parallel_worker(args):
    if BACKEND == "torch":
        return torch_ddp_worker(args)
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives across processes
    import keras

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
    check_rates(optimizer, step)
    print(f"process {args.process_id}: {step} steps, final loss {history.history['loss'][-1]:.4f}")
    save_weights(model, args)


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
    # One CPU device per process (JAX), one thread each (torch: 2 workers share the CPU).
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="", CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    workers = [
        subprocess.Popen([*common, "--process-id", str(i)], env=env) for i in range(args.num_processes)
    ]
    try:
        if BACKEND == "jax":
            import jax

            jax.config.update("jax_platforms", "cpu")  # the workers' platform: the same arithmetic
        import keras
        import numpy as np

        # Meanwhile, the reference: one process, one device, the same global batches.
        x, y = global_batches(args)
        model, optimizer = compiled_model(keras, args)
        if BACKEND == "torch":
            torch_train(model, optimizer, x, y, args.global_batch_size, args.epochs)
        else:
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
    if BACKEND != "jax":
        print(
            f"model parallel needs JAX's keras.distribution (this is {BACKEND}): "
            "run KERAS_BACKEND=jax python examples/multi_host.py --mode model-parallel"
        )
        return
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
    if BACKEND not in ("jax", "torch", "tensorflow"):
        raise SystemExit(f"KERAS_BACKEND={BACKEND!r}: choose jax, torch or tensorflow.")
    if args.mode == "model-parallel":
        model_parallel(args)
    elif BACKEND == "tensorflow":  # one process, every device of this host
        tf_mirrored(args)
        if args.mode == "both":
            model_parallel(args)  # the note naming the JAX command
    elif args.process_id is not None:
        data_parallel_worker(args)
    elif args.mode == "data-parallel":
        launch_local(args, strip(argv, "--mode"))
    elif BACKEND == "torch":
        launch_local(args, strip(argv, "--mode"))
        model_parallel(args)  # the note naming the JAX command
    else:  # JAX, both: each part in its own processes (devices are fixed when JAX starts)
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
