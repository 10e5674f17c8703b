"""Fused multi-bucket updates for the torch backend's eager mode.

Keras' torch SGD, Adam and AdamW update all their variables with a handful of batched
`torch._foreach_*` calls. Called once per bucket, that fixed cost repeats per bucket:
about 0.1-0.2 ms per bucket per step on a CPU, +16-23 % on a 24-layer MLP. The torch
`_foreach` ops also accept a list of per-tensor factors, so the updates below run
Keras' torch `SGD` and `Adam` op for op (AdamW's update is Adam's; its decay comes
before, per bucket) over the variables of every bucket at once, each bucket's rate
entering where Keras' scalar rate enters. With every multiplier 1 (curriculum off, or
after K) the result is Keras' bit for bit (tests/test_fast_paths.py). The state still
lives in the bucket optimizers (`opt.bucket_optimizers[j].variables`); only the
dispatch is shared.

On TensorFlow and JAX, LeRaC runs one pass of Keras' own update loop over all the
variables instead (`LeRaC.update_step`); other torch optimizers update bucket by bucket
(each with its own `_foreach` ops): `fused_update` returns None for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import ops

from keras_lerac import _keras


def fused_update(optimizers: Sequence[keras.optimizers.Optimizer]) -> Callable | None:
    """The fused update for these bucket optimizers, or None where none applies."""
    if keras.backend.backend() != "torch":
        return None
    classes = _keras.torch_fusable_classes()
    kinds = {type(o) for o in optimizers}
    if kinds == {classes["sgd"]}:
        return _sgd
    if kinds <= {classes["adam"], classes["adamw"]} and not any(o.amsgrad for o in optimizers):
        return _adam
    return None


def _gather(optimizers, groups, per_bucket, state_attrs):
    """Flat lists over all buckets: grads, variables, each state list, and the
    bucket's entry of `per_bucket` repeated for each of its variables."""
    grads, variables, factors = [], [], []
    states = [[] for _ in state_attrs]
    for inner, factor, (bucket_grads, bucket_vars) in zip(optimizers, per_bucket, groups):
        for grad, variable in zip(bucket_grads, bucket_vars):
            grads.append(grad)
            variables.append(variable.value)
            factors.append(factor)
            for state, attr in zip(states, state_attrs):
                state.append(_keras.slots(inner, attr, variable).value)
    return grads, variables, factors, states


def _sgd(optimizers, groups, rates):
    import torch

    first = optimizers[0]
    with torch.no_grad():
        # Keras: `_foreach_add_(x, grads, alpha=-lr)`, x + (-lr) * g in torch's add
        # kernel (a fused multiply-add where the CPU has one). A per-tensor `alpha`:
        # `_foreach_addcmul_(x, grads, [-lr_j, ...])`, x + g * (-lr_j) (value 1), which
        # rounds as `add` does on torch's default, AVX2 and AVX-512 CPU kernels; so each
        # bucket's rate enters where Keras' lr enters. Multiplying first
        # (`_foreach_mul(grads, -lr_j)`, then add) rounds twice: not Keras.
        neg_rates = torch.unbind(-rates)
        attrs = ["momentums"] if first.momentum != 0 else []
        grads, variables, neg_lrs, states = _gather(optimizers, groups, neg_rates, attrs)
        if first.momentum == 0:
            torch._foreach_addcmul_(variables, grads, neg_lrs)
            return
        (bufs,) = states
        torch._foreach_mul_(bufs, first.momentum)
        torch._foreach_addcmul_(bufs, grads, neg_lrs)
        if first.nesterov:
            torch._foreach_addcmul_(variables, grads, neg_lrs)
            torch._foreach_add_(variables, bufs, alpha=first.momentum)
        else:
            torch._foreach_add_(variables, bufs)


def _adam(optimizers, groups, rates):
    import torch

    first = optimizers[0]
    with torch.no_grad():
        # Keras computes `alpha` in the dtype of a call's first variable: the vector
        # serves every bucket when they all share one dtype, else each its own.
        dtypes = [bucket_vars[0].dtype for _, bucket_vars in groups if bucket_vars]
        if len(set(dtypes)) <= 1:
            alphas = torch.unbind(adam_alphas(first, rates, dtypes[0] if dtypes else "float32"))
        else:
            alphas = [
                adam_alphas(first, rate, bucket_vars[0].dtype) if bucket_vars else None
                for rate, (_, bucket_vars) in zip(torch.unbind(rates), groups)
            ]
        grads, variables, alpha_list, (m_list, v_list) = _gather(
            optimizers, groups, alphas, ["_momentums", "_velocities"]
        )
        # From here on, Keras' torch `Adam._parallel_update_step` op for op.
        torch._foreach_mul_(m_list, first.beta_1)
        torch._foreach_add_(m_list, grads, alpha=1 - first.beta_1)
        torch._foreach_mul_(v_list, first.beta_2)
        torch._foreach_add_(v_list, torch._foreach_mul(grads, grads), alpha=1 - first.beta_2)
        torch._foreach_add_(
            variables,
            torch._foreach_div(
                torch._foreach_mul(m_list, alpha_list),
                torch._foreach_add(torch._foreach_sqrt(v_list), first.epsilon),
            ),
            alpha=-1,
        )


# ----------------------------------------------------------------------------- TF and JAX
def adam_family(optimizers: Sequence[keras.optimizers.Optimizer], variables: Sequence) -> bool:
    """Whether the bucket optimizers are Keras' Adam / AdamW (no AMSGrad) on float32
    variables, so that the single pass can take every bucket's `alpha` from one vector."""
    adam = keras.optimizers.Adam
    return (
        bool(optimizers)
        and all(type(o).update_step is adam.update_step and not o.amsgrad for o in optimizers)
        and all(v.dtype == "float32" for v in variables)
    )


def adam_alphas(first: keras.optimizers.Optimizer, rates, dtype: str = "float32"):
    """Every bucket's Adam step size `lr_j * sqrt(1 - beta_2^t) / (1 - beta_1^t)`: element
    for element the scalar Keras' Adam computes from each rate, rounded as Keras rounds.

    Keras' order is `(lr * sqrt(...)) / (...)`, left to right; any other grouping rounds
    differently. Compilers regroup vector arithmetic: XLA (JAX, TF with `jit_compile`)
    turns a vector divided by a scalar into a product with the scalar's reciprocal (two
    roundings), and TensorFlow's graph optimizer reorders a chain of products of scalars
    and vectors (`base * multipliers * sqrt(...)`) to broadcast less. So on those
    backends each bucket's alpha is computed from its own scalar rate, as Keras does it,
    and the alphas stacked into one vector. Eager torch computes the vector element by
    element. The TF/JAX single pass and the torch `_foreach` pass both use this.

    The price under XLA: each bucket's scalar alpha is a small kernel of its own in every
    step (1273 fusions against 1176 for one vector op, plain Adam 1174, on the 96-layer
    MLP: `python -m benchmarks.profile_compile --optimizer adam`). The one vector op would
    move an Adam step by one float32 rounding of alpha (XLA's reciprocal, 6e-8 on the
    conformance model): exactness was chosen; its step-time cost is not measured yet.
    """
    lr = ops.cast(rates, dtype)
    local_step = ops.cast(first.iterations + 1, dtype)
    beta_1_power = ops.power(ops.cast(first.beta_1, dtype), local_step)
    beta_2_power = ops.power(ops.cast(first.beta_2, dtype), local_step)
    scale = ops.sqrt(1 - beta_2_power)
    denominator = 1 - beta_1_power
    if keras.backend.backend() == "torch" or len(lr.shape) == 0:
        return lr * scale / denominator
    return ops.stack([rate * scale / denominator for rate in ops.unstack(lr, num=lr.shape[0])])


def adam_step(optimizer: keras.optimizers.Optimizer, gradient, variable, alpha) -> None:
    """Keras' `Adam.update_step` for one variable, from its bucket's `alpha` on."""
    gradient = ops.cast(gradient, variable.dtype)
    m = _keras.slots(optimizer, "_momentums", variable)
    v = _keras.slots(optimizer, "_velocities", variable)
    optimizer.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - optimizer.beta_1))
    optimizer.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - optimizer.beta_2))
    optimizer.assign_sub(
        variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), optimizer.epsilon))
    )
