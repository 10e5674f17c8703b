"""What the instability design adds to a run: noisy labels, a sequence task, two models.

- `noisy_labels`: a share of the training labels replaced by uniformly random classes,
  the same for every seed and regime (one fixed generator per data set and noise level).
- `make_sequences`: a synthetic sequence classification task made offline (the class
  token that occurs most often), for the small transformer.
- `widening_cnn`: a plain CNN without normalisation or skips whose second half has
  twice the channels (depth 4, width 32: the issue's 32-32-64-64 probe), global pooling.
- `transformer`: KerasHub's `TransformerEncoder` stacked on a token-and-position
  embedding (post-norm, as KerasHub builds it by default), mean pooling, a head.
"""

from __future__ import annotations

import numpy as np

SEQUENCE_LENGTH = 12
SEQUENCE_VOCABULARY = 16  # 0-3: the classes, 4-15: filler
SEQUENCE_CLASSES = 4


def noisy_labels(y: np.ndarray, fraction: float, num_classes: int, data: str) -> np.ndarray:
    """`y` with `fraction` of its entries replaced by uniformly random classes.

    The entries and their new classes come from a generator seeded by the data set's
    name and the noise level only: every seed and every regime sees the same labels.
    A replaced label may draw its own class again (so 40 % replaced is about 36 %
    wrong on 10 classes, 20 % on 2).

    Example:

    >>> y = np.zeros(1000, dtype="int32")
    >>> noisy = noisy_labels(y, 0.4, 10, "digits")
    >>> bool(np.array_equal(noisy, noisy_labels(y, 0.4, 10, "digits")))
    True
    >>> 0.3 < float(np.mean(noisy != 0)) < 0.42
    True
    """
    if not fraction:
        return y
    tag = sum(ord(ch) for ch in data)
    rng = np.random.default_rng([2205_09180, tag, round(1000 * fraction)])
    out = np.array(y, copy=True)
    chosen = rng.choice(len(y), size=round(fraction * len(y)), replace=False)
    out[chosen] = rng.integers(0, num_classes, size=len(chosen)).astype(out.dtype)
    return out


def make_sequences(num_train: int = 2000, num_test: int = 1000, seed: int = 0):
    """A counting task: the class is the class token that occurs most often.

    Each sequence has `SEQUENCE_LENGTH` tokens: filler tokens (4-15) at random, the
    label's class token (0-3) three times and every other class token zero to two times,
    at random positions. Chance is 25 %. (A retrieval task, the token after a marker,
    stayed at 58 % for every rate tried in 15 epochs: too slow to learn for this study.)

    Returns:
        `((x_train, y_train), (x_test, y_test))`: int32 token ids `(n, SEQUENCE_LENGTH)`
        and int32 labels.
    """
    rng = np.random.default_rng([seed, 24])
    n = num_train + num_test
    x = rng.integers(SEQUENCE_CLASSES, SEQUENCE_VOCABULARY, size=(n, SEQUENCE_LENGTH))
    y = rng.integers(0, SEQUENCE_CLASSES, size=n)
    for i in range(n):
        tokens = [y[i]] * 3
        for c in range(SEQUENCE_CLASSES):
            if c != y[i]:
                tokens += [c] * int(rng.integers(0, 3))
        where = rng.choice(SEQUENCE_LENGTH, size=len(tokens), replace=False)
        x[i, where] = tokens
    x, y = x.astype("int32"), y.astype("int32")
    return (x[:num_train], y[:num_train]), (x[num_train:], y[num_train:])


def widening_cnn(input_shape: tuple, num_classes: int, *, depth: int, width: int):
    """`depth` 3x3 convs with ReLU (no normalisation, no skips), `width` channels in the
    first half and `2 * width` in the second, global average pooling and a head."""
    import keras

    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs
    for i in range(depth):
        channels = width if i < depth // 2 else 2 * width
        x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"wcnn_d{depth}_w{width}")


def transformer(input_shape: tuple, num_classes: int, *, depth: int, width: int):
    """`depth` KerasHub `TransformerEncoder` layers of dimension `width` (2 heads, feed-forward
    `2 * width`) over a token-and-position embedding, mean pooling and a head."""
    import keras
    import keras_hub

    inputs = keras.Input(tuple(input_shape), dtype="int32", name="tokens")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        SEQUENCE_VOCABULARY, input_shape[0], width, name="embedding"
    )(inputs)
    for i in range(depth):
        x = keras_hub.layers.TransformerEncoder(2 * width, num_heads=2, name=f"encoder{i}")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"transformer_d{depth}_w{width}")
