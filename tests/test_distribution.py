"""LeRaC under Keras' distribution engines, each in a fresh process (device set-up
must happen before the backend's runtime starts)."""

import os
import subprocess
import sys
import textwrap

from conftest import only_backends

COMMON = """
import numpy as np
import keras
from keras_lerac import LeRaC

def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x @ rng.normal(size=(6, 3))).argmax(1).astype("int32")
    return x, y

def model_and_opt():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu")(x_in)
    h = keras.layers.Dense(16, activation="relu")(h)
    model = keras.Model(x_in, keras.layers.Dense(3)(h))
    opt = LeRaC(keras.optimizers.SGD(0.05, momentum=0.9), min_learning_rate=1e-4,
                curriculum_steps=6, model=model)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, opt

def check(model, opt, replicas):
    x, y = data()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    step = int(keras.ops.convert_to_numpy(opt.iterations))
    assert step == 8, step
    assert np.allclose(opt.current_learning_rates(), opt.learning_rates_at(step), rtol=1e-5)
    assert np.isfinite(history.history["loss"]).all()
    print("REPLICAS", replicas, "OK", opt.learning_rates_at(step))
"""


def run(code, env_extra):
    env = dict(os.environ, **env_extra)
    script = textwrap.dedent(COMMON) + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@only_backends("jax")
def test_jax_data_parallel_on_two_host_devices():
    out = run(
        """
        import jax
        assert len(jax.devices()) == 2, jax.devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
        model, opt = model_and_opt()
        check(model, opt, len(jax.devices()))
        keras.distribution.set_distribution(None)
        single, single_opt = model_and_opt()  # same seed, one device
        check(single, single_opt, 1)
        for a, b in zip(model.weights, single.weights):
            np.testing.assert_allclose(np.asarray(a.value), np.asarray(b.value), rtol=1e-4, atol=1e-5)
        """,
        {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    assert "REPLICAS 2 OK" in out


@only_backends("tensorflow")
def test_tf_mirrored_strategy_on_two_logical_cpus():
    out = run(
        """
        import tensorflow as tf
        import keras_lerac  # importing the package must not start TF's runtime
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            model, opt = model_and_opt()
        check(model, opt, strategy.num_replicas_in_sync)
        single, single_opt = model_and_opt()  # same seed, no strategy
        check(single, single_opt, 1)
        for a, b in zip(model.weights, single.weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
        """,
        {"KERAS_BACKEND": "tensorflow"},
    )
    assert "REPLICAS 2 OK" in out


DDP_WORKER = """
import datetime
import gc
import os
import torch
import torch.distributed as dist

def train(rank, world, port, out):
    x, y = data()
    if rank >= 0:  # this process's half of every global batch of 16
        # Loopback for gloo's pairs too, and a peer that never comes fails in a minute
        # (torch's default waits 30): a rendezvous problem fails the test, never hangs it.
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
            timeout=datetime.timedelta(seconds=60),
        )
        x = x.reshape(-1, 16, 6)[:, rank * 8 : (rank + 1) * 8].reshape(-1, 6)
        y = y.reshape(-1, 16)[:, rank * 8 : (rank + 1) * 8].reshape(-1)
    model, opt = model_and_opt()
    forward = torch.nn.parallel.DistributedDataParallel(model) if rank >= 0 else model
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    opt.build(model.trainable_weights)
    batch, step = len(x) // 4, 0
    for epoch in range(2):
        for i in range(4):
            assert np.allclose(opt.current_learning_rates(), opt.learning_rates_at(step), rtol=1e-5), step
            rows = slice(i * batch, (i + 1) * batch)
            xb, yb = torch.from_numpy(x[rows]), torch.from_numpy(y[rows])
            loss = loss_fn(yb, forward(xb, training=True))
            model.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                opt.apply([v.value.grad for v in model.trainable_weights], model.trainable_weights)
            step += 1
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == step == 8
    assert np.allclose(opt.current_learning_rates(), opt.learning_rates_at(8), rtol=1e-5)
    np.savez(out, *model.get_weights())
    if rank >= 0:
        # DDP (its reducer) goes before its process group. The other way round, the
        # reducer's destructor, run as `train` returned, could wait forever (1 run in 9).
        del forward
        gc.collect()
        dist.destroy_process_group()

if __name__ == "__main__":
    import faulthandler
    import sys
    # A worker stuck anywhere prints every thread's stack and exits: the test then fails
    # with where it hung, instead of waiting out its timeout.
    faulthandler.dump_traceback_later(120, exit=True)
    torch.set_num_threads(1)
    train(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
"""


@only_backends("torch")
def test_torch_ddp_two_processes_equal_one_on_the_same_global_batches(tmp_path):
    import socket

    import numpy as np

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(COMMON) + DDP_WORKER)
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="")
    runs = {rank: tmp_path / f"rank{rank}.npz" for rank in (0, 1)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(rank), "2", port, str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank, out in runs.items()
    ]
    try:
        namespace = {"__name__": "reference"}  # meanwhile, here: one process, no DDP
        exec(compile(script.read_text(), str(script), "exec"), namespace)
        namespace["train"](-1, 1, port, str(tmp_path / "one.npz"))
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, out[-2000:] + err[-3000:]
    weights = {rank: np.load(out) for rank, out in runs.items()}
    one = np.load(tmp_path / "one.npz")
    reference = [one[k] for k in sorted(one.files)]
    gap = 0.0
    for rank in (0, 1):
        got = [weights[rank][k] for k in sorted(weights[rank].files)]
        for a, b in zip(got, reference):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
            gap = max(gap, float(np.abs(a - b).max()))
    print(f"DDP: 2 processes == 1 process, largest weight difference {gap:.1e}")
