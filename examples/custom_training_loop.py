"""Custom training loops with LeRaC on TensorFlow, JAX and PyTorch, checked against the plan.

One script, three loops; it runs the one of the current Keras backend:

- TensorFlow: `tf.GradientTape` in a `tf.function`, then `optimizer.apply_gradients`.
- JAX: `model.stateless_call` and `optimizer.stateless_apply` inside `jax.jit`, the state
  carried by hand (as in Keras' guide "Writing a training loop from scratch in JAX") and
  written back into the model and the optimizer at the end.
- PyTorch: an eager loop, `loss.backward()` then `optimizer.apply(grads, variables)`.

The wrapped optimizer is plain SGD, so every update shows the rate it applied:
`w_after = w_before - rate_j * grad` for a variable of bucket `j`. After each step the
script measures each bucket's applied rate from the weights and the gradients, and checks
it against the plan, `opt.learning_rates_at(step)`; on TensorFlow and PyTorch it also reads
`opt.current_learning_rates()` (the live optimizer state) before each step. On JAX the
optimizer's state lives in the loop until it is written back; then the same check runs
once. Any mismatch stops the script with a non-zero exit status.

Data: scikit-learn's bundled digits (offline), an MLP of four Dense layers (4 buckets).

Run (any backend):

    KERAS_BACKEND=torch python examples/custom_training_loop.py --epochs 10

Smoke run (one epoch, K = 10 steps):

    KERAS_BACKEND=jax python examples/custom_training_loop.py --smoke
"""

import argparse

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from keras_lerac import LeRaC

BACKEND = keras.backend.backend()


def digits():
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return (x_train, y_train), (x_test, y_test)


def mlp():
    inputs = keras.Input((64,))
    x = keras.layers.Dense(64, activation="relu")(inputs)
    x = keras.layers.Dense(64, activation="relu")(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def batches(x, y, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x) - batch_size + 1, batch_size):  # full batches only
            idx = order[start : start + batch_size]
            yield x[idx], y[idx]


class RateCheck:
    """Measures each bucket's applied rate from one plain-SGD update; compares it to the plan."""

    def __init__(self, model, optimizer):
        self.optimizer = optimizer
        bucket_of = {id(v): j for j, bucket in enumerate(optimizer.buckets) for v in bucket}
        self.bucket_of = [bucket_of[id(v)] for v in model.trainable_variables]
        self.worst = 0.0

    def __call__(self, step, before, grads, after):
        planned = self.optimizer.learning_rates_at(step)
        num, den = np.zeros(len(planned)), np.zeros(len(planned))
        for j, w0, g, w1 in zip(self.bucket_of, before, grads, after):
            w0, g, w1 = (np.asarray(a, dtype="float64") for a in (w0, g, w1))
            # The update itself, to float32 rounding: w1 == w0 - rate * g, elementwise.
            np.testing.assert_allclose(w1, w0 - planned[j] * g, rtol=1e-5, atol=1e-7)
            num[j] += np.sum((w0 - w1) * g)
            den[j] += np.sum(g * g)
        applied = num / den  # least squares: the one rate that explains the bucket's update
        error = float(np.max(np.abs(applied / np.asarray(planned) - 1)))
        self.worst = max(self.worst, error)
        assert error < 1e-2, f"step {step}: applied {applied} but planned {planned}"
        return applied, planned


def host(values):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in values]  # copies (torch shares memory)


def train_tensorflow(model, optimizer, loss_fn, data, check, log):
    import tensorflow as tf

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, grads

    for step, (x, y) in enumerate(data):
        live = optimizer.current_learning_rates()  # read from the optimizer's state
        np.testing.assert_allclose(live, optimizer.learning_rates_at(step), rtol=1e-5)
        before = host(model.trainable_variables)
        loss, grads = train_step(x, y)
        log(
            step,
            loss,
            *check(step, before, host(grads), host(model.trainable_variables)),
        )


def train_jax(model, optimizer, loss_fn, data, check, log):
    import jax

    def compute_loss(trainable, non_trainable, x, y):
        y_pred, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        return loss_fn(y, y_pred), non_trainable

    grad_fn = jax.value_and_grad(compute_loss, has_aux=True)

    @jax.jit
    def train_step(state, x, y):
        trainable, non_trainable, optimizer_variables = state
        (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y)
        trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, grads, trainable)
        return loss, grads, (trainable, non_trainable, optimizer_variables)

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
    )
    step = -1
    for step, (x, y) in enumerate(data):
        before = host(state[0])
        loss, grads, state = train_step(state, x, y)
        log(step, loss, *check(step, before, host(grads), host(state[0])))

    # Write the state back into the model and the optimizer, then read the live rates.
    trainable, non_trainable, optimizer_variables = state
    for variable, value in zip(model.trainable_variables, trainable):
        variable.assign(value)
    for variable, value in zip(model.non_trainable_variables, non_trainable):
        variable.assign(value)
    for variable, value in zip(optimizer.variables, optimizer_variables):
        variable.assign(value)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == step + 1
    np.testing.assert_allclose(
        optimizer.current_learning_rates(), optimizer.learning_rates_at(step + 1), rtol=1e-5
    )


def train_torch(model, optimizer, loss_fn, data, check, log):
    import torch

    for step, (x, y) in enumerate(data):
        live = optimizer.current_learning_rates()  # read from the optimizer's state
        np.testing.assert_allclose(live, optimizer.learning_rates_at(step), rtol=1e-5)
        before = host(model.trainable_variables)
        loss = loss_fn(y, model(x, training=True))
        model.zero_grad()
        loss.backward()
        grads = [v.value.grad for v in model.trainable_variables]
        with torch.no_grad():
            optimizer.apply(grads, model.trainable_variables)
        log(
            step,
            loss,
            *check(step, before, host(grads), host(model.trainable_variables)),
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--min-lr", type=float, default=1e-3, help="LeRaC: start rate of the head")
    parser.add_argument("--curriculum-steps", type=int, default=40, help="LeRaC: K, in iterations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="one epoch, K = 10")
    args = parser.parse_args()
    if args.smoke:
        args.epochs, args.curriculum_steps = 1, 10

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = digits()
    model = mlp()
    optimizer = LeRaC(
        keras.optimizers.SGD(args.learning_rate),  # plain SGD: the update shows the rate
        min_learning_rate=args.min_lr,
        curriculum_steps=args.curriculum_steps,
        model=model,
    )
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    check = RateCheck(model, optimizer)
    print(f"Keras {keras.__version__}, backend {BACKEND}")
    print(f"{len(optimizer.buckets)} buckets, K={args.curriculum_steps}, plain SGD {args.learning_rate}")

    shown = {0, args.curriculum_steps // 2, args.curriculum_steps}

    def log(step, loss, applied, planned):
        if step in shown:
            loss = float(keras.ops.convert_to_numpy(loss))
            print(
                f"step {step:4d}  loss {loss:.4f}  applied {' '.join(f'{r:.4e}' for r in applied)}"
                f"  planned {' '.join(f'{r:.4e}' for r in planned)}"
            )

    train = {"tensorflow": train_tensorflow, "jax": train_jax, "torch": train_torch}[BACKEND]
    data = batches(x_train, y_train, args.batch_size, args.epochs, args.seed)
    train(model, optimizer, loss_fn, data, check, log)

    steps = int(keras.ops.convert_to_numpy(optimizer.iterations))
    logits = keras.ops.convert_to_numpy(model.predict(x_test, verbose=0))
    accuracy = float(np.mean(logits.argmax(-1) == y_test))
    print(f"{BACKEND} loop: {steps} steps, applied rates == plan at every step")
    print(f"largest relative gap between an applied and a planned rate: {check.worst:.1e}")
    print(f"test accuracy {100 * accuracy:.2f}%")


if __name__ == "__main__":
    main()
