"""The `keras-lerac` command: `compare` training regimes and print a curriculum `plan`.

Usage:

    keras-lerac compare [--backend B] [--epochs N] [--seeds N] [--output DIR] ...
    keras-lerac plan [--model NAME_OR_FILE.keras] [--backend B] ...
    python -m keras_lerac ...

Keras picks its backend once per process, when it is first imported, and importing
`keras_lerac` (which runs before this module) imports Keras. So `--backend` works by
re-executing the command (`python -m keras_lerac ...`) with `KERAS_BACKEND` set when it
differs from the backend Keras already loaded. Arguments are validated before that and
before any data is loaded: a bad argument gives a one-line error on stderr and exit
status 2. Everything heavy (data, models, training) is imported inside the commands.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

PROG = "keras-lerac"
BACKENDS = ("tensorflow", "jax", "torch")
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
# Kept in sync with keras_lerac.models.MODELS (tests check it); listed here so that
# arguments are checked before any model code runs.
MODEL_NAMES = ("digits_cnn", "digits_mlp", "resnet_tiny")
CONV_MODELS = ("digits_cnn", "resnet_tiny")
DATASETS = ("digits",)
REGIMES = ("conventional", "lerac", "cbs")
OPTIMIZERS = ("sgd", "adam")
DEFAULT_LEARNING_RATE = {"sgd": 0.05, "adam": 1e-3}
MIN_RATE_FACTOR = 1e-5  # default min learning rate = base rate x 1e-5
DEFAULT_OUTPUT = "lerac-results"
_REEXEC_ENV = "_KERAS_LERAC_REEXEC_BACKEND"


class CLIError(Exception):
    """A bad argument: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (still exit status 2)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{PROG}: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `keras-lerac` command."""
    parser = _Parser(
        prog=PROG,
        description="Learning Rate Curriculum (LeRaC) for Keras 3: compare training regimes, "
        "print curriculum plans.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{compare,plan}", parser_class=_Parser)
    sub.required = True

    def common(p):
        p.add_argument(
            "--backend",
            choices=None,
            default=None,
            help="Keras backend: tensorflow, jax or torch (default: KERAS_BACKEND, else ~/.keras/keras.json, "
            "else tensorflow).",
        )
        p.add_argument(
            "--optimizer", default="sgd", help="Base optimizer: sgd (momentum 0.9, default) or adam."
        )
        p.add_argument(
            "--learning-rate",
            type=_float,
            default=None,
            help="Base rate eta_0 (default: 0.05 for sgd, 0.001 for adam).",
        )
        p.add_argument(
            "--min-learning-rate",
            type=_float,
            default=None,
            help="LeRaC start rate of the bucket nearest the output (default: base rate x 1e-5).",
        )
        p.add_argument(
            "--schedule",
            default="exponential",
            help="LeRaC curriculum: exponential (default, the paper's), linear or stepwise.",
        )

    compare = sub.add_parser(
        "compare",
        help="Train one model under the conventional regime, LeRaC and CBS over several seeds.",
        description="Train the same model under the conventional regime, LeRaC and Curriculum by Smoothing "
        "(same base optimizer, rate and epochs) over several seeds; print test accuracy mean +- std and "
        "wall time per regime; write results.json, curriculum.png and accuracy.png.",
    )
    common(compare)
    compare.add_argument(
        "--epochs", type=_positive_int, default=12, help="Training epochs per run (default 12)."
    )
    compare.add_argument(
        "--seeds", type=_positive_int, default=3, help="Seeds per regime: 0..N-1 (default 3)."
    )
    compare.add_argument(
        "--output", default=DEFAULT_OUTPUT, help=f"Output directory (default {DEFAULT_OUTPUT})."
    )
    compare.add_argument(
        "--model", default="digits_cnn", help=f"Model: {', '.join(MODEL_NAMES)} (default digits_cnn)."
    )
    compare.add_argument(
        "--data", default="digits", help="Data set: digits (scikit-learn's bundled digits, default)."
    )
    compare.add_argument("--batch-size", type=_positive_int, default=32, help="Batch size (default 32).")
    compare.add_argument(
        "--curriculum-epochs",
        type=_positive_int,
        default=3,
        help="LeRaC curriculum length K in epochs (default 3; K = epochs x steps per epoch).",
    )
    compare.add_argument(
        "--regimes",
        nargs="+",
        default=None,
        metavar="REGIME",
        help="Regimes to run, among conventional, lerac, cbs (default: all three; cbs needs a conv model).",
    )
    compare.add_argument("--cbs-sigma", type=_float, default=1.0, help="CBS initial sigma (default 1.0).")
    compare.add_argument(
        "--cbs-decay", type=_float, default=0.9, help="CBS sigma decay factor (default 0.9)."
    )
    compare.add_argument(
        "--cbs-every", type=_positive_int, default=5, help="CBS: epochs between two sigma decays (default 5)."
    )
    compare.add_argument("--quiet", action="store_true", help="No progress bars: only the final table.")
    compare.add_argument("--limit", type=_positive_int, default=None, help=argparse.SUPPRESS)
    compare.set_defaults(func=cmd_compare)

    plan = sub.add_parser(
        "plan",
        help="Print the LeRaC curriculum plan (one row per depth bucket) of a model.",
        description="Print the LeRaC plan of a built-in model (built for the digits data) or of a saved "
        ".keras file. A file compiled with LeRaC is shown with its own settings; otherwise its "
        "optimizer (or, if it has none, --optimizer/--learning-rate) is wrapped in LeRaC "
        "with the flags' settings.",
    )
    common(plan)
    plan.add_argument(
        "--model",
        default="digits_cnn",
        help=f"A built-in model ({', '.join(MODEL_NAMES)}; default digits_cnn) or a path to a .keras file.",
    )
    plan.add_argument(
        "--curriculum-steps",
        type=_positive_int,
        default=None,
        help="K in iterations (default: 3 epochs of the digits training split at batch size 32 = 129).",
    )
    plan.add_argument(
        "--num-buckets",
        type=_positive_int,
        default=None,
        help="Group the depth levels into this many buckets (default: one per level).",
    )
    plan.set_defaults(func=cmd_plan)
    return parser


# --------------------------------------------------------------------------- validation
def _check_output_dir(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".keras-lerac-", delete=True):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise CLIError(f"output directory {path!r} is not writable: {reason}") from None


def _validate(args: argparse.Namespace) -> None:
    if args.backend is not None and args.backend not in BACKENDS:
        raise CLIError(f"unknown backend {args.backend!r}: choose one of {', '.join(BACKENDS)}")
    if args.optimizer not in OPTIMIZERS:
        raise CLIError(f"unknown optimizer {args.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    if args.schedule not in ("exponential", "linear", "stepwise"):
        raise CLIError(f"unknown schedule {args.schedule!r}: choose exponential, linear or stepwise")
    if args.learning_rate is None:
        args.learning_rate = DEFAULT_LEARNING_RATE[args.optimizer]
    if not (args.learning_rate > 0 and math.isfinite(args.learning_rate)):
        raise CLIError(f"--learning-rate must be > 0, got {args.learning_rate}")
    if args.min_learning_rate is None:
        args.min_learning_rate = args.learning_rate * MIN_RATE_FACTOR
    if not 0 < args.min_learning_rate <= args.learning_rate:
        raise CLIError(
            f"--min-learning-rate must be in (0, --learning-rate={args.learning_rate:g}], "
            f"got {args.min_learning_rate}"
        )
    if args.command == "compare":
        for flag in ("epochs", "seeds", "batch_size", "curriculum_epochs", "cbs_every"):
            value = getattr(args, flag)
            if value < 1:
                raise CLIError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
        if args.limit is not None and args.limit < 1:
            raise CLIError(f"--limit must be >= 1, got {args.limit}")
        if args.model not in MODEL_NAMES:
            raise CLIError(f"unknown model {args.model!r}: choose one of {', '.join(MODEL_NAMES)}")
        if args.data not in DATASETS:
            raise CLIError(f"unknown data {args.data!r}: choose one of {', '.join(DATASETS)}")
        if not (args.cbs_sigma >= 0 and 0 < args.cbs_decay <= 1):
            raise CLIError("--cbs-sigma must be >= 0 and --cbs-decay in (0, 1]")
        explicit = args.regimes is not None
        regimes = list(dict.fromkeys(args.regimes or REGIMES))
        unknown = [r for r in regimes if r not in REGIMES]
        if unknown:
            raise CLIError(f"unknown regime {unknown[0]!r}: choose among {', '.join(REGIMES)}")
        args.skipped = {}
        if "cbs" in regimes:
            reason = None
            if args.model not in CONV_MODELS:
                reason = f"CBS smooths convolution outputs and {args.model} has no convolution"
            elif importlib.util.find_spec("keras_lerac.cbs") is None:
                reason = "keras_lerac.cbs is not available in this installation"
            if reason:
                if explicit:
                    raise CLIError(f"regime 'cbs' cannot run: {reason}")
                regimes.remove("cbs")
                args.skipped["cbs"] = reason
        args.regimes = regimes
        _check_output_dir(args.output)
    elif args.command == "plan":
        if args.curriculum_steps is not None and args.curriculum_steps < 0:
            raise CLIError(f"--curriculum-steps must be >= 0, got {args.curriculum_steps}")
        if args.num_buckets is not None and args.num_buckets < 1:
            raise CLIError(f"--num-buckets must be >= 1, got {args.num_buckets}")
        if args.model not in MODEL_NAMES:
            if not args.model.endswith(".keras"):
                raise CLIError(
                    f"unknown model {args.model!r}: choose one of {', '.join(MODEL_NAMES)} or a .keras file"
                )
            if not os.path.isfile(args.model):
                raise CLIError(f"model file {args.model!r} does not exist")


# --------------------------------------------------------------------------- backend
def _loaded_backend() -> str | None:
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    return keras.backend.backend()


def _ensure_backend(backend: str | None, argv: Sequence[str]) -> None:
    """Makes Keras run on `backend`, re-executing the command if another one is loaded."""
    if backend is None:
        return
    loaded = _loaded_backend()
    if loaded is None:  # Keras not imported yet: the environment variable is enough.
        os.environ["KERAS_BACKEND"] = backend
        return
    if loaded == backend:
        return
    if os.environ.get(_REEXEC_ENV) == backend:
        raise CLIError(f"could not switch Keras to the {backend} backend (it loaded {loaded})")
    if importlib.util.find_spec(BACKEND_MODULES[backend]) is None:
        raise CLIError(
            f"backend {backend!r} is not installed: pip install {BACKEND_MODULES[backend]} "
            f"(or keras-lerac[{backend}])"
        )
    env = dict(os.environ, KERAS_BACKEND=backend, **{_REEXEC_ENV: backend})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "keras_lerac", *argv], env)


def machine_info() -> dict:
    """Platform, processor, CPU count and library versions, for results.json."""
    processor = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    processor = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import keras
    import numpy as np

    info = {
        "platform": platform.platform(),
        "processor": processor,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    backend = keras.backend.backend()
    module = sys.modules.get(BACKEND_MODULES[backend])
    if module is not None:
        info[backend] = getattr(module, "__version__", "unknown")
    return info


# --------------------------------------------------------------------------- compare
def _base_optimizer(name: str, learning_rate: float):
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


def _load_data(name: str, limit: int | None):
    from keras_lerac import data

    if name == "digits":
        (x_train, y_train), (x_test, y_test) = data.load_digits(flat=False)
    else:  # pragma: no cover - validated before
        raise CLIError(f"unknown data {name!r}")
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    return (x_train, y_train), (x_test, y_test)


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _train_one(regime: str, seed: int, args, train, test, steps_per_epoch: int, verbose: int) -> dict:
    import keras

    from keras_lerac import models
    from keras_lerac.callbacks import CurriculumLogger
    from keras_lerac.optimizer import LeRaC

    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = train, test
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    model = models.get_model(args.model, x_train.shape[1:], num_classes)
    optimizer = _base_optimizer(args.optimizer, args.learning_rate)
    callbacks: list = []
    lerac = None
    if regime == "lerac":
        lerac = LeRaC(
            optimizer,
            min_learning_rate=args.min_learning_rate,
            curriculum_steps=args.curriculum_epochs * steps_per_epoch,
            schedule=args.schedule,
            model=model,
        )
        optimizer = lerac
        callbacks.append(CurriculumLogger())
    elif regime == "cbs":
        from keras_lerac import cbs

        model = cbs.add_smoothing(model, kernel_size=3, sigma=args.cbs_sigma)
        callbacks.append(cbs.SmoothingSchedule(decay=args.cbs_decay, every_epochs=args.cbs_every))
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    if lerac is not None and seed == args.first_seed and verbose:
        lerac.build(model.trainable_variables)
        from keras_lerac.plan import plan

        plan(model, lerac)
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        verbose=verbose,
        callbacks=callbacks,
    )
    wall = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    curves = {key: [float(v) for v in values] for key, values in history.history.items()}
    return {"accuracy": float(accuracy), "wall": wall, "curves": curves, "optimizer": lerac}


def format_table(regimes: dict) -> str:
    """The table `compare` prints: test accuracy mean +- std and wall time per regime."""
    headers = ("Regime", "Test accuracy % (mean +- std)", "Seeds", "Fit time / run (s)")
    rows = []
    for name, entry in regimes.items():
        rows.append(
            (
                name,
                f"{100 * entry['mean']:.2f} +- {100 * entry['std']:.2f}",
                str(len(entry["test_accuracy"])),
                f"{entry['mean_wall_time_s']:.1f}",
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(values):
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    rule = "-" * len(line(headers))
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def cmd_compare(args: argparse.Namespace) -> int:
    """`keras-lerac compare`: see the module docstring and docs/cli.md."""
    import keras

    quiet = args.quiet
    say = (lambda *a, **k: None) if quiet else print
    train, test = _load_data(args.data, args.limit)
    steps_per_epoch = math.ceil(len(train[0]) / args.batch_size)
    args.first_seed = 0
    seeds = list(range(args.seeds))
    verbose = 0 if quiet else 1
    say(
        f"keras-lerac compare: backend={keras.backend.backend()} model={args.model} data={args.data} "
        f"({len(train[0])} train / {len(test[0])} test) epochs={args.epochs} seeds={args.seeds} "
        f"batch={args.batch_size} optimizer={args.optimizer} lr={args.learning_rate:g}"
    )
    for regime, reason in args.skipped.items():
        print(f"note: skipping regime {regime!r}: {reason}")
    results: dict[str, Any] = {}
    last_lerac = None
    for regime in args.regimes:
        entry = {"seeds": seeds, "test_accuracy": [], "wall_time_s": [], "curves": []}
        for seed in seeds:
            say(f"--- {regime}, seed {seed} ---")
            run = _train_one(regime, seed, args, train, test, steps_per_epoch, verbose)
            entry["test_accuracy"].append(run["accuracy"])
            entry["wall_time_s"].append(run["wall"])
            entry["curves"].append(run["curves"])
            if run["optimizer"] is not None:
                last_lerac = run["optimizer"]
            say(f"[{regime} seed {seed}] test accuracy {100 * run['accuracy']:.2f}%  fit {run['wall']:.1f} s")
        entry["mean"], entry["std"] = _mean_std(entry["test_accuracy"])
        entry["mean_wall_time_s"] = sum(entry["wall_time_s"]) / len(entry["wall_time_s"])
        results[regime] = entry

    settings = {
        "backend": keras.backend.backend(),
        "model": args.model,
        "data": args.data,
        "train_examples": int(len(train[0])),
        "test_examples": int(len(test[0])),
        "epochs": args.epochs,
        "seeds": seeds,
        "batch_size": args.batch_size,
        "steps_per_epoch": steps_per_epoch,
        "optimizer": args.optimizer if args.optimizer == "adam" else "sgd (momentum 0.9)",
        "learning_rate": args.learning_rate,
        "curriculum": {
            "schedule": args.schedule,
            "min_learning_rate": args.min_learning_rate,
            "curriculum_epochs": args.curriculum_epochs,
            "curriculum_steps": args.curriculum_epochs * steps_per_epoch,
            "num_buckets": None if last_lerac is None else len(last_lerac.start_ratios),
        },
        "cbs": {
            "kernel_size": 3,
            "sigma": args.cbs_sigma,
            "decay": args.cbs_decay,
            "every_epochs": args.cbs_every,
        },
        "skipped_regimes": args.skipped,
        "curves": "per epoch History: loss/accuracy on the training split, val_* on the test split",
        "wall_time": "seconds of model.fit per run (tracing/compilation included)",
        "machine": machine_info(),
    }
    os.makedirs(args.output, exist_ok=True)
    json_path = os.path.join(args.output, "results.json")
    with open(json_path, "w") as f:
        json.dump({"settings": settings, "regimes": results}, f, indent=2)
    written = [json_path]
    try:
        from keras_lerac.plotting import plot_accuracy, plot_curriculum

        if last_lerac is not None:
            path = os.path.join(args.output, "curriculum.png")
            plot_curriculum(last_lerac, steps=args.epochs * steps_per_epoch, path=path)
            written.append(path)
        path = os.path.join(args.output, "accuracy.png")
        plot_accuracy(results, path=path)
        written.append(path)
    except ImportError as error:
        print(f"note: no plots: {error}")
    print()
    print(format_table(results))
    print(f"Wrote {', '.join(written)}")
    return 0


# --------------------------------------------------------------------------- plan
def cmd_plan(args: argparse.Namespace) -> int:
    """`keras-lerac plan`: see the module docstring and docs/cli.md."""
    import keras

    from keras_lerac import models
    from keras_lerac.optimizer import LeRaC
    from keras_lerac.plan import plan

    curriculum_steps = args.curriculum_steps
    if curriculum_steps is None:
        curriculum_steps = 3 * math.ceil(1347 / 32)
    print(f"Keras backend: {keras.backend.backend()}")
    if args.model in MODEL_NAMES:
        model = models.get_model(args.model, (8, 8, 1), 10)
        base = _base_optimizer(args.optimizer, args.learning_rate)
        saved = None
    else:
        try:
            import keras_lerac.cbs  # noqa: F401  (registers GaussianSmoothing for loading)
        except ImportError:
            pass
        try:
            model = keras.saving.load_model(args.model)
        except Exception as error:  # a broken or foreign file is a bad argument
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CLIError(f"could not load {args.model!r}: {message}") from None
        saved = model.optimizer
        while isinstance(saved, keras.optimizers.LossScaleOptimizer):
            saved = saved.inner_optimizer
        base = saved if saved is not None else _base_optimizer(args.optimizer, args.learning_rate)
    if isinstance(saved, LeRaC):
        print(f"Using the LeRaC optimizer saved in {args.model} (curriculum flags ignored).")
        optimizer = saved
    else:
        try:
            optimizer = LeRaC(
                base,
                min_learning_rate=args.min_learning_rate,
                curriculum_steps=curriculum_steps,
                schedule=args.schedule,
                num_buckets=args.num_buckets,
                model=model,
            )
        except (TypeError, ValueError) as error:
            raise CLIError(str(error).splitlines()[0]) from None
    try:
        plan(model, optimizer)
    except (TypeError, ValueError) as error:
        raise CLIError(str(error).splitlines()[0]) from None
    return 0


# --------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `keras-lerac` command.

    Args:
        argv: The arguments (without the program name). Defaults to `sys.argv[1:]`.

    Returns:
        The exit status: 0 on success, 2 for a bad argument.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        _validate(args)
        _ensure_backend(args.backend, argv)
        return args.func(args)
    except CLIError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
