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

The host's part of a step does not grow with the buckets: the flat lists (each
variable's tensor, its slots, its bucket) are made on the first step and kept; the
rates reach the variables in one `index_select` on the device, into a buffer whose
element views were listed once; nothing is read back from the device (no `.item()`,
no `float()` of a tensor: no synchronisation on a GPU).

On TensorFlow and JAX, LeRaC runs one pass of Keras' own update loop over all the
variables instead (`LeRaC.update_step`); other torch optimizers update bucket by bucket
(each with its own `_foreach` ops): `fused_update` returns None for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import ops

from keras_lerac import _keras


def fused_update(optimizers: Sequence[keras.optimizers.Optimizer]) -> FusedUpdate | None:
    """The fused update for these bucket optimizers, or None where none applies."""
    if keras.backend.backend() != "torch":
        return None
    classes = _keras.torch_fusable_classes()
    kinds = {type(o) for o in optimizers}
    if kinds == {classes["sgd"]}:
        return FusedUpdate(optimizers, _sgd, ["momentums"] if optimizers[0].momentum != 0 else [])
    if kinds <= {classes["adam"], classes["adamw"]} and not any(o.amsgrad for o in optimizers):
        return FusedUpdate(optimizers, _adam, ["_momentums", "_velocities"])
    return None


class Flat:
    """One list of variables as the flat lists the `_foreach` ops take, in its order.

    Built once per list of variables (`FusedUpdate.flat`): each variable's tensor, its
    slots' tensors, its bucket, and the dtype of each bucket's first variable (the dtype
    Keras computes a call's Adam step size in).
    """

    def __init__(self, optimizers, variables: Sequence, buckets: Sequence[int], state_attrs: Sequence[str]):
        self.values = [v.value for v in variables]
        self.states = [
            [_keras.slots(optimizers[b], attr, v).value for v, b in zip(variables, buckets)]
            for attr in state_attrs
        ]
        self.buckets = list(buckets)
        self.bucket_dtypes: dict[int, str] = {}
        for variable, bucket in zip(variables, buckets):
            self.bucket_dtypes.setdefault(bucket, variable.dtype)
        self._out = None

    def per_variable(self, per_bucket) -> list:
        """Each variable's entry of the vector `per_bucket` (by bucket), as 0-d tensors.

        One `index_select` on the device, into a buffer whose element views the
        returned list holds: the list is made once, its values are this step's.
        """
        import torch

        out = self._out
        if out is None or out.dtype != per_bucket.dtype or out.device != per_bucket.device:
            self._index = torch.tensor(self.buckets, dtype=torch.long, device=per_bucket.device)
            out = self._out = torch.empty(len(self.buckets), dtype=per_bucket.dtype, device=per_bucket.device)
            self._views = list(torch.unbind(out))
        torch.index_select(per_bucket, 0, self._index, out=out)
        return self._views


class FusedUpdate:
    """Every bucket's update in one `_foreach` chain: `update(grads, flat, rates)`.

    The flat lists of the variables LeRaC was built with are made on the first step
    and kept (Keras' torch variables and slots keep their tensors, updated in place);
    a step on other variables (None gradients dropped upstream) makes its own. So the
    host's work per step does not grow with the number of buckets, and nothing is read
    back from the device (tests/test_fast_paths.py counts the ops dispatched).
    """

    def __init__(self, optimizers: Sequence[keras.optimizers.Optimizer], update: Callable, state_attrs):
        self.optimizers = list(optimizers)
        self._update = update
        self._state_attrs = list(state_attrs)
        self._built: Flat | None = None

    def flat(self, variables: Sequence, buckets: Sequence[int], built: bool) -> Flat:
        """The flat lists of `variables` (bucket of each: `buckets`); kept when `built`
        (they are the variables LeRaC was built with) while their tensors stay the same."""
        if not built:
            return Flat(self.optimizers, variables, buckets, self._state_attrs)
        kept = self._built
        if kept is None or not variables or variables[0].value is not kept.values[0]:
            # First step, or the values are not the variables' own (a stateless scope).
            kept = self._built = Flat(self.optimizers, variables, buckets, self._state_attrs)
        return kept

    def __call__(self, grads: list, flat: Flat, rates) -> None:
        import torch

        with torch.no_grad():
            self._update(self.optimizers[0], grads, flat, rates)


def _sgd(first, grads, flat, rates):
    import torch

    # Keras: `_foreach_add_(x, grads, alpha=-lr)`, x + (-lr) * g in torch's add
    # kernel (a fused multiply-add where the CPU has one). A per-tensor `alpha`:
    # `_foreach_addcmul_(x, grads, [-lr_j, ...])`, x + g * (-lr_j) (value 1), which
    # rounds as `add` does on torch's default, AVX2 and AVX-512 CPU kernels; so each
    # bucket's rate enters where Keras' lr enters. Multiplying first
    # (`_foreach_mul(grads, -lr_j)`, then add) rounds twice: not Keras.
    neg_lrs = flat.per_variable(-rates)
    variables = flat.values
    if first.momentum == 0:
        torch._foreach_addcmul_(variables, grads, neg_lrs)
        return
    (bufs,) = flat.states
    torch._foreach_mul_(bufs, first.momentum)
    torch._foreach_addcmul_(bufs, grads, neg_lrs)
    if first.nesterov:
        torch._foreach_addcmul_(variables, grads, neg_lrs)
        torch._foreach_add_(variables, bufs, alpha=first.momentum)
    else:
        torch._foreach_add_(variables, bufs)


def _adam(first, grads, flat, rates):
    import torch

    # Keras computes `alpha` in the dtype of a call's first variable: one vector serves
    # every bucket when they all share one dtype, else one vector per dtype.
    dtypes = set(flat.bucket_dtypes.values())
    if len(dtypes) <= 1:
        alpha_list = flat.per_variable(adam_alphas(first, rates, dtypes.pop() if dtypes else "float32"))
    else:
        by_dtype = {d: torch.unbind(adam_alphas(first, rates, d)) for d in dtypes}
        alpha_list = [by_dtype[flat.bucket_dtypes[b]][b] for b in flat.buckets]
    m_list, v_list = flat.states
    variables = flat.values
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
    conformance model). Exactness was chosen: on JAX's 25- and 97-bucket dispatch-bound
    MLPs the two step costs overlap within their noise, and the exact program compiled
    faster (docs/benchmarks.md, "Dispatch results").
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
