"""Tiny KerasHub tasks built offline (no presets, no downloads), for the tests."""

import keras_hub
import numpy as np

BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox", "jumped"]
BERT_VOCAB += ["over", "lazy", "dog", "good", "bad", "movie"]
TEXTS = ["the quick brown fox", "the lazy dog", "good movie", "bad movie", "the fox jumped over the dog"]
TEXTS += ["good dog", "bad fox", "the movie"]
LABELS = np.array([0, 1, 0, 1, 0, 0, 1, 1])


def bert_classifier(seq_len=8):
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=BERT_VOCAB, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=seq_len)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=seq_len,
        dropout=0.0,  # deterministic training: runs can be compared weight for weight
    )
    return keras_hub.models.BertTextClassifier(
        backbone=backbone, num_classes=2, preprocessor=preprocessor, dropout=0.0
    )


def resnet_classifier(size=16):
    # ResNetBackbone wants 64 filters in its first stage (and stem, for basic blocks).
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(size, size, 3),
    )
    converter = keras_hub.layers.ResNetImageConverter(image_size=(size, size), scale=1 / 255.0)
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    return keras_hub.models.ResNetImageClassifier(backbone=backbone, num_classes=3, preprocessor=preprocessor)


def images(n=8, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, size, size, 3)).astype("float32"), rng.integers(0, 3, n)


# GPT-2's byte-level BPE: "Ġ" marks a leading space; every piece of every merge rule must
# be in the vocabulary, so the vocabulary is derived from the merges.
GPT2_MERGES = ["a i", "ai r", "p l", "pl a", "n e", "pla ne", "p o", "r t", "po rt", "t h", "th e"]
GPT2_MERGES += ["Ġ a", "Ġa t", "Ġ t", "Ġt h", "Ġth e", "Ġ p", "Ġp l", "Ġpl a", "Ġpla ne", "Ġa i", "Ġai r"]
GPT2_TEXTS = ["airplane at airport", "the airplane", "airport at the air", "the plane at the airport"]


def _gpt2_vocabulary():
    vocabulary = {"<|endoftext|>": 0}
    for rule in GPT2_MERGES:
        for token in rule.split() + [rule.replace(" ", "")]:
            vocabulary.setdefault(token, len(vocabulary))
    for char in "aeilnoprt!Ġ":
        vocabulary.setdefault(char, len(vocabulary))
    return vocabulary


def gpt2_causal_lm(seq_len=8, num_layers=2):
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=_gpt2_vocabulary(), merges=GPT2_MERGES)
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=seq_len)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=seq_len,
        dropout=0.0,
    )
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=preprocessor)
