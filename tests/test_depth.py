"""Depth discovery: longest path from the input, nested models, shared layers, KerasHub."""

import keras
import numpy as np
import pytest
from helpers import residual_cnn

from keras_lerac import LeRaC, depth_buckets, layer_depths


def layer_names(buckets):
    """Names of the layers whose variables each bucket holds (from the paths; a
    Sequential model puts its own name first, nested ones included)."""
    models = {"sequential", "inner"}
    names = []
    for bucket in buckets:
        heads = set()
        for v in bucket:
            parts = [p for p in v.path.split("/") if p not in models]
            heads.add(parts[0])
        names.append(sorted(heads))
    return names


def test_skip_connection_does_not_make_a_layer_shallower():
    # stem -> a -> b -> add <- shortcut <- stem: b is at depth 3 although the add
    # is also reachable in 2 hops; shortcut and a share depth 2.
    depths = {layer.name: d for layer, d in layer_depths(residual_cnn())}
    assert depths == {"stem": 1, "block_a": 2, "shortcut": 2, "block_b": 3, "bn": 5, "head": 7}


def test_nested_sequential_is_expanded():
    inner = keras.Sequential(
        [keras.layers.Dense(4, name="in_a"), keras.layers.Dense(4, name="in_b")], name="inner"
    )
    x_in = keras.Input((3,))
    x = keras.layers.Dense(4, name="first")(x_in)
    x = inner(x)
    out = keras.layers.Dense(2, name="last")(x)
    model = keras.Model(x_in, out)
    assert layer_names(depth_buckets(model)) == [["first"], ["in_a"], ["in_b"], ["last"]]


def test_nested_functional_is_expanded():
    sub_in = keras.Input((4,))
    a = keras.layers.Dense(4, name="sub_a")(sub_in)
    b = keras.layers.Dense(4, name="sub_b")(a)
    sub = keras.Model(sub_in, keras.layers.Add()([a, b]), name="sub")
    x_in = keras.Input((4,))
    out = keras.layers.Dense(2, name="last")(sub(keras.layers.Dense(4, name="first")(x_in)))
    model = keras.Model(x_in, out)
    assert layer_names(depth_buckets(model)) == [["first"], ["sub_a"], ["sub_b"], ["last"]]


def test_shared_layer_takes_its_shallowest_use():
    shared = keras.layers.Dense(4, name="shared")
    x_in = keras.Input((4,))
    a = keras.layers.Dense(4, name="a")(x_in)
    b = keras.layers.Dense(4, name="b")(a)
    out = keras.layers.Add()([shared(x_in), shared(b)])
    model = keras.Model(x_in, keras.layers.Dense(1, name="head")(out))
    depths = {layer.name: d for layer, d in layer_depths(model)}
    assert depths["shared"] == 1
    buckets = depth_buckets(model)
    assert layer_names(buckets) == [["a", "shared"], ["b"], ["head"]]
    assert sum(len(b) for b in buckets) == len(model.trainable_variables)


def test_layers_without_trainable_variables_use_no_bucket():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(4, name="a"),
            keras.layers.Dropout(0.1),
            keras.layers.Activation("relu"),
            keras.layers.Dense(2, name="b"),
        ]
    )
    assert layer_names(depth_buckets(model)) == [["a"], ["b"]]


def test_num_buckets_must_be_positive():
    with pytest.raises(ValueError, match="num_buckets"):
        depth_buckets(residual_cnn(), num_buckets=0)


def test_unbuilt_model_is_an_error():
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        depth_buckets(model)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.first = keras.layers.Dense(4)
        self.second = keras.layers.Dense(2)

    def call(self, x):
        return self.second(self.first(x))


def test_subclassed_model_falls_back_to_tracking_order_with_a_warning():
    model = Subclassed()
    model(np.zeros((1, 3), "float32"))
    with pytest.warns(UserWarning, match="subclassed model.*buckets="):
        buckets = depth_buckets(model)
    assert [[id(v) for v in b] for b in buckets] == [
        [id(v) for v in model.first.trainable_variables],
        [id(v) for v in model.second.trainable_variables],
    ]


def test_keras_hub_bert_backbone_embeddings_then_blocks_then_head():
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=8,
    )
    classifier = keras_hub.models.BertTextClassifier(backbone=backbone, num_classes=2, preprocessor=None)
    for model, head in ((backbone, "pooled_dense"), (classifier, "logits")):
        names = layer_names(depth_buckets(model))
        flat = [n for bucket in names for n in bucket]
        first_block = flat.index("transformer_layer_0")
        assert {"token_embedding", "segment_embedding", "position_embedding", "embeddings_layer_norm"} == set(
            flat[:first_block]
        )
        # The embeddings are one level: the position embedding reads only the shape of
        # the token embeddings, so it sits beside them, not after them.
        assert set(names[0]) == {"token_embedding", "segment_embedding", "position_embedding"}
        assert names[1] == ["embeddings_layer_norm"]
        assert ["transformer_layer_0"] in names and ["transformer_layer_1"] in names
        assert names.index(["transformer_layer_0"]) < names.index(["transformer_layer_1"])
        assert names[-1] == [head]
    # The nested backbone is expanded inside the task model.
    assert len(depth_buckets(classifier)) == len(depth_buckets(backbone)) + 1


def test_keras_hub_resnet_backbone_stem_then_blocks():
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 64],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(16, 16, 3),
    )
    names = [n for bucket in layer_names(depth_buckets(backbone)) for n in bucket]
    assert names[:2] == ["conv1_conv", "conv1_bn"]
    stack0 = [i for i, n in enumerate(names) if n.startswith("stack0")]
    stack1 = [i for i, n in enumerate(names) if n.startswith("stack1")]
    assert max(stack0) < min(stack1)
    opt = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-6, curriculum_steps=10, model=backbone, num_buckets=4
    )
    opt.build(backbone.trainable_variables)
    assert len(opt.bucket_optimizers) == 4
    rates = opt.learning_rates_at(0)
    assert rates == sorted(rates, reverse=True)


def test_lora_buckets_follow_the_transformer_blocks():
    pytest.importorskip("keras_hub")
    from hub_models import bert_classifier, gpt2_causal_lm

    lm = gpt2_causal_lm()
    lm.backbone.enable_lora(rank=2)
    # Only LoRA kernels (and the query/value biases) are trainable, inside each block.
    buckets = depth_buckets(lm)
    assert [sorted({v.path.split("/")[0] for v in b}) for b in buckets] == [
        ["transformer_layer_0"],
        ["transformer_layer_1"],
    ]
    assert all("lora_kernel" in v.path or v.path.endswith("bias") for b in buckets for v in b)
    opt = LeRaC(keras.optimizers.Adam(1e-3), min_learning_rate=1e-6, curriculum_steps=10, model=lm)
    opt.build(lm.trainable_variables)
    assert len(opt.bucket_optimizers) == 2

    classifier = bert_classifier()
    classifier.backbone.enable_lora(rank=2)
    names = [sorted({v.path.split("/")[0] for v in b}) for b in depth_buckets(classifier)]
    assert names == [["transformer_layer_0"], ["transformer_layer_1"], ["logits"]]  # the head last


class _Positions(keras.layers.Layer):
    """A learned position table: its output depends on the shape of its input only."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=tuple(input_shape[1:]), name="table")

    def call(self, x):
        return keras.ops.broadcast_to(self.table, keras.ops.shape(x))


def test_a_registered_shape_only_layer_sits_beside_its_input(monkeypatch):
    from keras_lerac import depth

    inputs = keras.Input((5,), dtype="int32")
    tokens = keras.layers.Embedding(10, 4, name="tokens")(inputs)
    x = keras.layers.Add()([tokens, _Positions(name="positions")(tokens)])
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))

    def depths():
        return {layer.name: d for layer, d in layer_depths(model)}

    assert depths()["positions"] == depths()["tokens"] + 1  # unknown: after its input
    assert "keras_hub>PositionEmbedding" in depth.shape_only_layers()
    monkeypatch.setattr(depth, "_SHAPE_ONLY", set(depth._SHAPE_ONLY))  # the registry back after the test
    depth.register_shape_only_layer(_Positions)
    assert depths()["positions"] == depths()["tokens"]  # beside it
    assert keras.saving.get_registered_name(_Positions) in depth.shape_only_layers()
    assert not isinstance(depth.shape_only_layers(), (set, list))  # a copy, read-only
    with pytest.raises(TypeError, match="Layer subclass or its registered name"):
        depth.register_shape_only_layer(3)
