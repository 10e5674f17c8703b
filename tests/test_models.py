"""The parameterised model families: shapes, depth buckets, residual and norm variants."""

import keras
import pytest

from keras_lerac import depth_buckets
from keras_lerac.experiments import models


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("norm", [False, True])
def test_mlp_depth_buckets_and_variants(residual, norm):
    model = models.mlp((13,), 3, depth=4, width=8, residual=residual, norm=norm)
    assert model.output_shape == (None, 3)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 5  # 4 hidden + head
    assert all(layer.use_bias is not norm for layer in dense[:-1])
    adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == (3 if residual else 0)
    # one bucket per layer with variables: dense (+ its batch norm) per hidden layer, and the head
    assert len(depth_buckets(model)) == (9 if norm else 5)


def test_mlp_flattens_images():
    model = models.mlp((8, 8, 1), 10, depth=2)
    assert model.output_shape == (None, 10) and model.name == "mlp_d2_w64"


@pytest.mark.parametrize("residual", [False, True])
def test_cnn_keeps_resolution_and_counts_layers(residual):
    model = models.cnn((8, 8, 1), 10, depth=3, width=4, residual=residual)
    assert model.output_shape == (None, 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 3 and all(c.output.shape[1:3] == (8, 8) for c in convs)
    assert model.name == "cnn_d3_w4" + ("_res" if residual else "") + "_bn"
    assert len(depth_buckets(model)) == 7  # conv, bn per layer, head


def test_bad_depth_is_an_error():
    with pytest.raises(ValueError, match="depth"):
        models.mlp((4,), 2, depth=0)
    with pytest.raises(ValueError, match="depth"):
        models.cnn((8, 8, 1), 2, depth=0)
