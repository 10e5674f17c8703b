"""The torch backend on CPU: keep convolution training off oneDNN's kernels that hang.

On CPUs without AVX-512 (oneDNN picks its AVX2 kernels), torch 2.13's oneDNN (mkldnn)
convolution hangs in the backward pass for the weights of some small channels-last 1x1
strided convolutions (`jit_avx2_1x1_convolution_bwd_weights` spinning under
`GOMP_parallel`; a ResNet-18 of width 4 hits it in its first shortcut conv, and a bare
`torch.nn.Conv2d(3, 8, 1, stride=2)` on a channels-last 8x3x32x32 input does too).
Machines with AVX-512 never take that kernel, which is why a suite can pass on one
machine and never finish on the next. `ONEDNN_MAX_CPU_ISA=AVX2` reproduces it anywhere.

ATen's own convolution kernels do not hang, and on the 2-core CI machine they train the
full-width ResNet-18 no slower (4.3 s against 5.0 s a step of batch 64 with oneDNN), so
the application's training entry points (the `keras-lerac` command, the recipes, the
examples, the test suite) turn oneDNN off for torch on CPU. The library never does: it
touches no global setting of a user's process; `compare_regimes` does only when asked
(`torch_cpu_guard=True`, which the command passes).
"""

from __future__ import annotations


def avoid_onednn_hang() -> bool:
    """Turns oneDNN (mkldnn) off when Keras runs on torch without a GPU.

    Returns:
        True if it turned oneDNN off (torch backend, no CUDA device), else False.
    """
    import keras

    if keras.backend.backend() != "torch":
        return False
    import torch

    if torch.cuda.is_available():
        return False
    torch.backends.mkldnn.enabled = False
    return True
