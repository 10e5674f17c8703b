"""LoRA fine-tuning of a KerasHub GPT-2 causal LM with LeRaC, saved and reloaded with its curriculum.

`backbone.enable_lora(rank=4)` freezes the backbone and leaves trainable only the LoRA
kernels of the attention layers (and their biases), inside each transformer block.
LeRaC, given the task (`model=lm`), puts each block's LoRA variables in one bucket, the
first block nearest the input: the plan printed below has one row per block. The script
trains, saves with `lm.save(...)`, reloads with `keras_lerac.load_model` (plain
`keras.saving.load_model` gives a KerasHub task back with the default optimizer its
constructor compiles), shows that LeRaC came back with its buckets and its step count, and
trains on. Keras saves LoRA layers with their adapters merged into the kernels, so the
reloaded task gets LoRA enabled again before LeRaC's state is restored (see `main`).

Everything is built offline: a GPT-2 byte-level BPE tokenizer from an in-memory
vocabulary and merge list, and a small randomly initialised GPT-2 (LoRA on random weights
shows the mechanics, not a useful model). To LoRA-tune real GPT-2 weights, pass
`--preset DIR`, a KerasHub preset directory on disk (e.g. written by
`keras_hub.models.GPT2CausalLM.from_preset("gpt2_base_en").save_to_preset(DIR)` where you
have a network; this script never downloads), and `--text-file` with one training text a
line.

Full size (a GPU):

    KERAS_BACKEND=jax python examples/lora_causal_lm.py --preset ./gpt2_base_en \
        --text-file train.txt --epochs 3 --output gpt2-lora-lerac.keras

Smoke run (tiny GPT-2, a few sentences):

    KERAS_BACKEND=torch python examples/lora_causal_lm.py --smoke
"""

import argparse
import os
import tempfile

import keras
import keras_hub
import numpy as np

import keras_lerac
from keras_lerac import LeRaC

# GPT-2's byte-level BPE: "Ġ" marks a leading space; every piece of every merge rule is
# in the vocabulary, so the vocabulary is derived from the merges.
MERGES = ["a i", "ai r", "p l", "pl a", "n e", "pla ne", "p o", "r t", "po rt", "t h", "th e"]
MERGES += ["Ġ a", "Ġa t", "Ġ t", "Ġt h", "Ġth e", "Ġ p", "Ġp l", "Ġpl a", "Ġpla ne", "Ġa i", "Ġai r"]
TEXTS = ["airplane at airport", "the airplane", "airport at the air", "the plane at the airport"] * 4


def tiny_vocabulary():
    vocabulary = {"<|endoftext|>": 0}
    for rule in MERGES:
        for token in rule.split() + [rule.replace(" ", "")]:
            vocabulary.setdefault(token, len(vocabulary))
    for char in "aeilnoprt!Ġ":
        vocabulary.setdefault(char, len(vocabulary))
    return vocabulary


def build_causal_lm(args):
    if args.preset:
        if not os.path.isdir(args.preset):
            raise SystemExit(f"--preset {args.preset!r}: give a preset directory on disk (no downloads here)")
        return keras_hub.models.GPT2CausalLM.from_preset(args.preset)
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=tiny_vocabulary(), merges=MERGES)
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=args.seq_len)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        hidden_dim=args.hidden_dim,
        intermediate_dim=4 * args.hidden_dim,
        max_sequence_length=args.seq_len,
    )
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=preprocessor)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=None, help="a KerasHub GPT-2 preset directory on disk")
    parser.add_argument("--text-file", default=None, help="training texts, one a line")
    parser.add_argument("--rank", type=int, default=4, help="LoRA rank")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=4, help="without --preset")
    parser.add_argument("--num-heads", type=int, default=4, help="without --preset")
    parser.add_argument("--hidden-dim", type=int, default=256, help="without --preset")
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--min-lr", type=float, default=5e-7, help="LeRaC: start rate of the last block")
    parser.add_argument("--curriculum-epochs", type=int, default=1, help="LeRaC: K, in epochs")
    parser.add_argument("--output", default=None, help="the .keras file (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a 2-block GPT-2 of width 8, 2 epochs")
    args = parser.parse_args()
    if args.smoke:
        args.epochs, args.batch_size, args.seq_len = 2, 4, 8
        args.num_layers, args.num_heads, args.hidden_dim = 2, 2, 8
        args.learning_rate = 1e-2
    texts = TEXTS
    if args.text_file:
        with open(args.text_file) as f:
            texts = [line.strip() for line in f if line.strip()]
    steps_per_epoch = int(np.ceil(len(texts) / args.batch_size))
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}; {len(texts)} texts")

    keras.utils.set_random_seed(args.seed)
    lm = build_causal_lm(args)
    lm.backbone.enable_lora(rank=args.rank)  # the backbone frozen, LoRA kernels trainable
    optimizer = LeRaC(
        keras.optimizers.Adam(args.learning_rate),
        min_learning_rate=args.min_lr,
        curriculum_steps=args.curriculum_epochs * steps_per_epoch,
        model=lm,
    )
    keras_lerac.plan(lm, optimizer)  # one bucket per transformer block
    lm.compile(optimizer=optimizer)  # KerasHub's loss and metric stay
    history = lm.fit(texts, batch_size=args.batch_size, epochs=args.epochs, shuffle=False, verbose=0)
    losses = history.history["loss"]
    print(f"trainable variables: {len(lm.trainable_variables)} (LoRA kernels and attention biases)")
    print(f"training loss per epoch: {' '.join(f'{loss:.4f}' for loss in losses)}")

    path = args.output or os.path.join(tempfile.mkdtemp(), "gpt2_lora_lerac.keras")
    lm.save(path)
    print(f"saved {path}")
    # Keras saves a LoRA layer with its adapters merged into the kernel, and KerasHub
    # rebuilds the task without LoRA, every layer trainable; LeRaC's buckets were saved for
    # the LoRA variables. So: load the model, enable LoRA again (the same rank), then
    # compile it as saved and restore the optimizer's state. (`keras_lerac.load_model(path)`
    # alone stops with "`bucket_assignment` has 12 entries but the optimizer is built on
    # 36 variables".) Loading weights into a LoRA layer zeroes its adapters: the merged
    # kernels carry what they learned, and they train on from zero.
    restored = keras_lerac.load_model(path, compile=False)
    restored.backbone.enable_lora(rank=args.rank)
    keras_lerac.restore_compile(restored, path)

    saved_step = int(keras.ops.convert_to_numpy(optimizer.iterations))
    restored_opt = restored.optimizer
    restored_step = int(keras.ops.convert_to_numpy(restored_opt.iterations))
    print(
        f"reloaded: optimizer {type(restored_opt).__name__} with {len(restored_opt.bucket_optimizers)} "
        f"buckets of {type(restored_opt.bucket_optimizers[0]).__name__}, step {restored_step} "
        f"(saved at step {saved_step}), rates {[f'{r:.3g}' for r in restored_opt.current_learning_rates()]}"
    )
    assert isinstance(restored_opt, LeRaC), type(restored_opt)
    assert restored_step == saved_step > 0, (restored_step, saved_step)
    assert restored_opt.get_config()["bucket_assignment"] == optimizer.get_config()["bucket_assignment"]
    tokens, _, _ = lm.preprocessor(texts[: args.batch_size])
    gap = float(np.max(np.abs(keras.ops.convert_to_numpy(lm(tokens) - restored(tokens)))))
    print(f"logits of the trained and the reloaded model: largest difference {gap:.2e}")
    assert gap < 1e-4, gap

    # The reloaded task trains on, its curriculum from where it stopped.
    history = restored.fit(texts, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0)
    step = int(keras.ops.convert_to_numpy(restored_opt.iterations))
    print(f"reloaded, one more epoch: loss {history.history['loss'][-1]:.4f}, step {step}")
    assert step == saved_step + steps_per_epoch and np.isfinite(history.history["loss"][-1])


if __name__ == "__main__":
    main()
