"""Text classification with a KerasHub BERT: conventional vs LeRaC vs layer-wise rate decay.

Three runs of `keras_hub.models.BertTextClassifier` from the same seed and base rate
(AdamW): the conventional regime, LeRaC (every depth bucket, embeddings first and the
classifier head last, starts low and rises to the base rate over `--curriculum-epochs`)
and LLRD, the fine-tuning recipe: `LeRaC(opt, layer_decay=0.8, curriculum_steps=0,
model=task)` runs the head at the base rate and each bucket nearer the input at 0.8x the
next, for good. The script prints each plan and the accuracy of each regime.

Data: a TensorFlow Datasets text set, `glue/sst2` (evaluated on its validation split; its
test labels are hidden) or `imdb_reviews` (evaluated on test), read from `--data-dir`.
Nothing is downloaded: prepare the data once where you have a network
(`tfds.load("glue/sst2", data_dir=DIR)`) and pass `--data-dir DIR`.

The tokenizer is built offline. By default a WordPiece vocabulary is learned from the
training texts (`keras_hub.tokenizers.compute_word_piece_vocabulary`) and a small BERT is
trained from scratch. To start from a vocabulary file (one token per line, e.g. the
`vocab.txt` of a BERT checkpoint) pass `--vocabulary vocab.txt`. To fine-tune pretrained
weights instead, replace `build_classifier(...)` by a preset, e.g.
`keras_hub.models.BertTextClassifier.from_preset("bert_base_en_uncased", num_classes=2)`
(KerasHub downloads it once; a local preset directory works offline), and use the paper's
BERT rates (AdamW 5e-5, `--min-lr 5e-8`).

Full size (a GPU):

    KERAS_BACKEND=jax python examples/text_classification.py --data-dir ~/tensorflow_datasets \
        --dataset glue/sst2 --epochs 3

Smoke run (`tfds.testing.mock_data`, a tiny model and a tiny in-memory vocabulary; the
accuracies are those of random labels):

    KERAS_BACKEND=tensorflow python examples/text_classification.py --smoke
"""

import argparse
import contextlib
import time

import keras
import keras_hub
import tensorflow_datasets as tfds

import keras_lerac
from keras_lerac import LeRaC

# dataset -> (text feature, evaluation split)
DATASETS = {"glue/sst2": ("sentence", "validation"), "imdb_reviews": ("text", "test")}
# --smoke: mock texts are random words of the letters a-j; this vocabulary spells them.
LETTERS = "abcdefghij"
TINY_VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *LETTERS, *(f"##{c}" for c in LETTERS)]


def text_dataset(name, split, data_dir):
    """`tf.data` of `(text, label)` pairs, unbatched."""
    feature, _ = DATASETS[name]
    ds = tfds.load(name, split=split, data_dir=data_dir, download=False)
    return ds.map(lambda ex: (ex[feature], ex["label"]))


def build_classifier(vocabulary, args):
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=args.seq_len)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        hidden_dim=args.hidden_dim,
        intermediate_dim=4 * args.hidden_dim,
        max_sequence_length=args.seq_len,
    )
    return keras_hub.models.BertTextClassifier(backbone=backbone, num_classes=2, preprocessor=preprocessor)


def make_optimizer(regime, task, args, steps_per_epoch):
    base = keras.optimizers.AdamW(args.learning_rate, weight_decay=0.01)
    if regime == "lerac":
        return LeRaC(
            base,
            min_learning_rate=args.min_lr,
            curriculum_steps=args.curriculum_epochs * steps_per_epoch,
            model=task,
        )
    if regime == "llrd":
        return LeRaC(base, layer_decay=args.layer_decay, curriculum_steps=0, model=task)
    return base


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="glue/sst2")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory holding the prepared set")
    parser.add_argument("--vocabulary", default=None, help="WordPiece vocabulary file (one token a line)")
    parser.add_argument("--vocabulary-size", type=int, default=8000, help="when learning the vocabulary")
    parser.add_argument(
        "--regimes",
        nargs="+",
        choices=("conventional", "lerac", "llrd"),
        default=["conventional", "lerac", "llrd"],
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--min-lr", type=float, default=1e-7, help="LeRaC: start rate of the head")
    parser.add_argument("--curriculum-epochs", type=int, default=1, help="LeRaC: K, in epochs")
    parser.add_argument("--layer-decay", type=float, default=0.8, help="LLRD: the factor per bucket")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="mock data, a tiny BERT, one epoch")
    args = parser.parse_args()
    if args.smoke:
        args.epochs, args.batch_size, args.seq_len = 1, 8, 16
        args.num_layers, args.num_heads, args.hidden_dim = 2, 2, 16
        args.learning_rate, args.min_lr = 1e-3, 1e-6

    # In --smoke, every tfds.load below reads generated examples, offline.
    mock = tfds.testing.mock_data(num_examples=64) if args.smoke else contextlib.nullcontext()
    with mock:
        _, eval_split = DATASETS[args.dataset]
        train_texts = text_dataset(args.dataset, "train", args.data_dir)
        eval_texts = text_dataset(args.dataset, eval_split, args.data_dir)
        train = train_texts.cache().shuffle(100_000, seed=args.seed).batch(args.batch_size)
        evaluation = eval_texts.cache().batch(args.batch_size)
        steps_per_epoch = sum(1 for _ in train)  # reads (and caches) the data once
        sum(1 for _ in evaluation)
    if args.smoke:
        vocabulary = TINY_VOCABULARY
    elif args.vocabulary:
        vocabulary = args.vocabulary
    else:  # learned offline from the training texts
        vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
            train_texts.map(lambda text, label: text).batch(1000),
            vocabulary_size=args.vocabulary_size,
            lowercase=True,
            reserved_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        )
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    print(
        f"{args.dataset}: {steps_per_epoch} training batches of {args.batch_size}; evaluation on {eval_split}"
    )

    accuracies = {}
    for regime in args.regimes:
        keras.utils.set_random_seed(args.seed)  # the same initial weights in every regime
        task = build_classifier(vocabulary, args)
        optimizer = make_optimizer(regime, task, args, steps_per_epoch)
        if isinstance(optimizer, LeRaC):
            keras_lerac.plan(task, optimizer)
        task.compile(optimizer=optimizer)  # KerasHub's loss and accuracy metric stay
        start = time.perf_counter()
        task.fit(train, epochs=args.epochs, verbose=2 if not args.smoke else 0)
        seconds = time.perf_counter() - start
        results = task.evaluate(evaluation, verbose=0, return_dict=True)
        accuracies[regime] = results["sparse_categorical_accuracy"]
        print(f"{regime}: accuracy {100 * accuracies[regime]:.2f}% ({args.epochs} epochs, {seconds:.1f} s)")

    print("regime        accuracy %")
    for regime, accuracy in accuracies.items():
        print(f"{regime:<12}  {100 * accuracy:10.2f}")


if __name__ == "__main__":
    main()
