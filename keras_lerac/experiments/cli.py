"""The `keras-lerac` command: `compare` training regimes and print a curriculum `plan`.

Usage:

    keras-lerac compare [--backend B] [--epochs N] [--seeds N] [--output DIR] [--shard I/N] ...
    keras-lerac report DIR
    keras-lerac plan [--model NAME_OR_FILE.keras] [--backend B] ...
    keras-lerac --version
    python -m keras_lerac ...

This module imports only the standard library at the top: `--help`, `--version` and
argument errors answer without loading Keras or a backend. `--backend` sets
`KERAS_BACKEND` before Keras is first imported (Keras picks its backend once per
process). Bad arguments give a one-line error on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence

from keras_lerac import __version__
from keras_lerac.experiments import custom, models, runner
from keras_lerac.experiments import data as datasets

PROG = "keras-lerac"
BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_OUTPUT = "lerac-results"
DEFAULT_PLAN_TOTAL_STEPS = 12 * 43  # compare's defaults: 12 epochs of 1,347 digits at batch 32


class CLIError(Exception):
    """A bad argument: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (still exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{PROG}: error: {message} (see `{self.prog} --help`)\n")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `keras-lerac` command."""
    parser = _Parser(
        prog=PROG,
        description="Learning Rate Curriculum (LeRaC) for Keras 3: compare training regimes, "
        "print curriculum plans.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{compare,report,plan}", parser_class=_Parser)
    sub.required = True

    def common(p):
        p.add_argument(
            "--backend",
            default=None,
            help="Keras backend: tensorflow, jax or torch (default: KERAS_BACKEND, else "
            "~/.keras/keras.json, else tensorflow).",
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
            help="LeRaC start rate of the bucket nearest the output (default: the one LeRaC picks "
            "from the training's length).",
        )
        p.add_argument(
            "--schedule",
            default="exponential",
            help="LeRaC curriculum: a registered schedule (exponential (default), linear, stepwise, "
            "...), or MODULE:NAME to import MODULE and use the schedule NAME it registers.",
        )
        p.add_argument(
            "--import",
            dest="imports",
            action="append",
            default=[],
            metavar="MODULE",
            help="Import MODULE first (repeatable): a module that registers schedules with "
            "keras_lerac.register_schedule (on PYTHONPATH).",
        )

    compare = sub.add_parser(
        "compare",
        help="Paired A/B: train one model under several regimes (conventional, warmup, LeRaC, anti, CBS).",
        description="Train the same model under several regimes (same base optimizer, rate and epochs; per "
        "seed the same initial weights and batch order) over several seeds; print test accuracy mean +- std "
        "per regime and the paired differences to conventional (and LeRaC - warmup); write results.json, "
        "curriculum.png and accuracy.png.",
    )
    common(compare)
    compare.add_argument("--epochs", type=_int, default=12, help="Training epochs per run (default 12).")
    compare.add_argument("--seeds", type=_int, default=3, help="Seeds per regime: 0..N-1 (default 3).")
    compare.add_argument(
        "--output",
        default=DEFAULT_OUTPUT,
        help=f"Output directory (default {DEFAULT_OUTPUT}). Each run is recorded there as it ends; the same "
        "command again trains only the runs that are missing.",
    )
    compare.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="Train only the I-th of N deterministic shares of the (seed, regime) runs (0 <= I < N), "
        "e.g. one per GPU or per job of an array; all shards write into one --output, and "
        "`keras-lerac report DIR` compares what they recorded.",
    )
    compare.add_argument(
        "--model",
        default="digits_cnn",
        help=f"Model: {', '.join(models.MODELS)}, mlp_d<depth>_w<width>[_res][_bn] / "
        "cnn_d<depth>_w<width>[_res][_bn] (default digits_cnn), or a .keras file (its architecture, fresh "
        "weights per seed).",
    )
    compare.add_argument(
        "--data",
        default="digits",
        help=f"Data set: {', '.join(datasets.DATASETS)} (default digits), or an .npz file with x_train, "
        "y_train, x_test, y_test.",
    )
    compare.add_argument("--batch-size", type=_int, default=32, help="Batch size (default 32).")
    compare.add_argument(
        "--curriculum-epochs",
        type=_int,
        default=None,
        help="LeRaC curriculum length K in epochs (default: the K LeRaC picks from the training's "
        "length, keras_lerac.curriculum.suggested_curriculum).",
    )
    compare.add_argument(
        "--regimes",
        nargs="+",
        default=None,
        metavar="REGIME",
        help=f"Regimes to run, among {', '.join(runner.ALL_REGIMES)} (default: {' '.join(runner.REGIMES)}; "
        "a default one the model cannot run, such as cbs without a convolution, is skipped with a note).",
    )
    compare.add_argument("--cbs-sigma", type=_float, default=1.0, help="CBS initial sigma (default 1.0).")
    compare.add_argument(
        "--cbs-decay", type=_float, default=0.9, help="CBS sigma decay factor (default 0.9)."
    )
    compare.add_argument(
        "--cbs-every", type=_int, default=5, help="CBS: epochs between two sigma decays (default 5)."
    )
    compare.add_argument("--quiet", action="store_true", help="No progress output: only the final tables.")
    compare.add_argument("--limit", type=_int, default=None, help=argparse.SUPPRESS)
    compare.set_defaults(func=cmd_compare)

    report = sub.add_parser(
        "report",
        help="Print and write the comparison of the runs recorded in an output directory.",
        description="Derive results.json, the tables and the plots from the run records of `keras-lerac "
        "compare` (DIR/runs/*.json), whether one process or several shards wrote them; loads no backend.",
    )
    report.add_argument("output", metavar="DIR", help="An output directory of `keras-lerac compare`.")
    report.set_defaults(func=cmd_report)

    plan = sub.add_parser(
        "plan",
        help="Print the LeRaC curriculum plan (one row per depth bucket) of a model.",
        description="Print the LeRaC plan of a built-in model (built for the digits data) or of a saved "
        ".keras file. A file compiled with LeRaC is shown with its own settings; otherwise its "
        "optimizer (or, if it has none, --optimizer/--learning-rate) is wrapped in LeRaC with the "
        "flags' settings.",
    )
    common(plan)
    plan.add_argument(
        "--model",
        default="digits_cnn",
        help=f"A built-in model ({', '.join(models.MODELS)}, a family name; default digits_cnn) "
        "or a .keras file.",
    )
    plan.add_argument(
        "--curriculum-steps",
        type=_int,
        default=None,
        help="K in iterations (default: the K LeRaC picks for --total-steps).",
    )
    plan.add_argument(
        "--total-steps",
        type=_int,
        default=DEFAULT_PLAN_TOTAL_STEPS,
        help=f"The training's length in steps, from which LeRaC picks K and the start rates the "
        f"flags leave out (default {DEFAULT_PLAN_TOTAL_STEPS}: compare's default 12 epochs of the digits "
        "training split at batch size 32).",
    )
    plan.add_argument(
        "--num-buckets", type=_int, default=None, help="Group the depth levels into this many buckets."
    )
    plan.set_defaults(func=cmd_plan)
    return parser


# --------------------------------------------------------------------------- validation
def _check_output_dir(path: str) -> None:
    from keras_lerac.experiments.records import RecordError, check_output

    try:
        check_output(path)  # creates nothing: a bad input leaves nothing behind
    except RecordError as error:
        raise CLIError(str(error)) from None


def _shard(text: str | None) -> tuple[int, int] | None:
    from keras_lerac.experiments.records import parse_shard

    try:
        return None if text is None else parse_shard(text)
    except ValueError as error:
        raise CLIError(f"--shard: {error}") from None


def _at_least(args: argparse.Namespace, flags: Sequence[str], minimum: int) -> None:
    for flag in flags:
        value = getattr(args, flag)
        if value is not None and value < minimum:
            raise CLIError(f"--{flag.replace('_', '-')} must be >= {minimum}, got {value}")


def _model_error(name: str) -> str | None:
    try:
        models.check_model_name(name)
    except ValueError as error:
        return str(error)
    return None


def _validate(args: argparse.Namespace) -> None:
    if args.command == "report":
        return  # its one argument is checked when read
    if args.backend is not None and args.backend not in BACKENDS:
        raise CLIError(f"unknown backend {args.backend!r}: choose one of {', '.join(BACKENDS)}")
    if args.optimizer not in runner.OPTIMIZERS:
        raise CLIError(f"unknown optimizer {args.optimizer!r}: choose one of {', '.join(runner.OPTIMIZERS)}")
    try:  # the form only: the names come from the registry (_check_schedule)
        custom.split_schedule(args.schedule)
    except ValueError as error:
        raise CLIError(str(error)) from None
    base = (
        args.learning_rate if args.learning_rate is not None else runner.DEFAULT_LEARNING_RATE[args.optimizer]
    )
    if not base > 0:
        raise CLIError(f"--learning-rate must be > 0, got {base}")
    if args.min_learning_rate is not None and not 0 < args.min_learning_rate <= base:
        raise CLIError(
            f"--min-learning-rate must be in (0, --learning-rate={base:g}], got {args.min_learning_rate}"
        )
    if args.command == "compare":
        _at_least(args, ("epochs", "seeds", "batch_size", "curriculum_epochs", "cbs_every", "limit"), 1)
        if runner.is_model_file(args.model):
            if not os.path.isfile(args.model):
                raise CLIError(f"model file {args.model!r} does not exist")
        else:
            error = _model_error(args.model)
            if error:
                raise CLIError(f"{error} Or give a .keras file.")
        if runner.is_data_file(args.data):
            if not os.path.isfile(args.data):
                raise CLIError(f"data file {args.data!r} does not exist")
        elif args.data not in datasets.DATASETS:
            raise CLIError(
                f"unknown data {args.data!r}: choose one of {', '.join(datasets.DATASETS)} or an .npz file"
            )
        if not (args.cbs_sigma >= 0 and 0 < args.cbs_decay <= 1):
            raise CLIError("--cbs-sigma must be >= 0 and --cbs-decay in (0, 1]")
        args.explicit_regimes = args.regimes is not None
        regimes = list(dict.fromkeys(args.regimes or runner.REGIMES))
        unknown = [r for r in regimes if r not in runner.ALL_REGIMES]
        if unknown:
            raise CLIError(f"unknown regime {unknown[0]!r}: choose among {', '.join(runner.ALL_REGIMES)}")
        args.skipped = {}
        args.regimes = regimes
        args.shard = _shard(args.shard)
        _check_schedule(args)
        _check_output_dir(args.output)
    elif args.command == "plan":
        _at_least(args, ("curriculum_steps",), 0)
        _at_least(args, ("total_steps",), 1)
        _at_least(args, ("num_buckets",), 1)
        error = _model_error(args.model)
        if error:
            if not args.model.endswith(".keras"):
                raise CLIError(f"{error} Or give a .keras file.")
            if not os.path.isfile(args.model):
                raise CLIError(f"model file {args.model!r} does not exist")
        _check_schedule(args)


def _check_schedule(args: argparse.Namespace) -> None:
    """`--import` and `--schedule` against the registry. Last of the checks: importing the
    user's modules imports Keras, so the backend is selected first."""
    select_backend(args.backend)
    try:
        args.schedule = custom.resolve_schedule(args.schedule, args.imports)
    except ValueError as error:
        raise CLIError(str(error)) from None


def select_backend(backend: str | None) -> None:
    """Makes Keras load `backend` (it must not be loaded with another one already)."""
    if backend is None:
        return
    keras = sys.modules.get("keras")
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend
        return
    loaded = keras.backend.backend()
    if loaded != backend:
        raise CLIError(
            f"Keras is already loaded with the {loaded} backend in this process, and picks its backend "
            f"once: run `keras-lerac ... --backend {backend}` in a new process "
            f"(or set KERAS_BACKEND={backend})"
        )


# --------------------------------------------------------------------------- commands
def cmd_compare(args: argparse.Namespace) -> int:
    """`keras-lerac compare`: see the module docstring and docs/cli.md."""
    import keras

    from keras_lerac.experiments import paired
    from keras_lerac.experiments.progress import Progress
    from keras_lerac.summary import plan

    quiet = args.quiet
    settings = runner.Settings.from_args(args)
    try:
        data = runner.load_data(settings)
        if not args.explicit_regimes:  # the default list skips what cannot run on the model
            settings, args.skipped = runner.runnable(settings, data)
    except paired.InputError as error:
        raise CLIError(_with_hint(error)) from None
    spe = data.steps_per_epoch(settings.batch_size)
    progress = False if quiet else Progress(len(settings.seeds) * len(settings.regimes))
    say = progress.write if progress else (lambda line: None)
    shown: list = []

    def start():  # once the inputs are checked, before the first run trains
        say(
            f"keras-lerac compare: backend={keras.backend.backend()} model={settings.model} "
            f"data={settings.data} ({len(data.train[0])} train / {len(data.test[0])} test) "
            f"epochs={settings.epochs} seeds={len(settings.seeds)} batch={settings.batch_size} "
            f"optimizer={settings.optimizer} lr={settings.base_rate:g} regimes={' '.join(settings.regimes)}"
        )
        for regime, reason in args.skipped.items():
            (say if progress else print)(f"note: skipping regime {regime!r}: {reason}")
        total = runner.total_steps(settings, data)
        curricula = [r for r in settings.regimes if r in paired.CURRICULUM_REGIMES]
        if curricula and settings.curriculum_epochs is not None:
            k = settings.curriculum_epochs * spe
            if k >= total:
                print(
                    f"warning: the curriculum (K = {settings.curriculum_epochs} epochs = {k} iterations) "
                    f"is not shorter than the training ({settings.epochs} epochs = {total} iterations): the "
                    "deepest buckets train at a reduced rate throughout. Pass --curriculum-epochs smaller "
                    "than --epochs, or leave it out for the K LeRaC picks from the length of the training.",
                    file=sys.stderr,
                )

    def before_fit(regime, seed, model, optimizer):
        if not shown:
            shown.append("start")
            start()
        if not quiet and regime in paired.CURRICULUM_REGIMES and regime not in shown:
            shown.append(regime)  # each curriculum's plan, before its first run trains
            progress.write(f"[{regime}] " + plan(model, optimizer, print_fn=lambda text: None))

    extra = {
        "model": settings.model,
        "data": settings.data,
        "optimizer_name": "adam" if settings.optimizer == "adam" else "sgd (momentum 0.9)",
        "learning_rate": settings.base_rate,
        "skipped_regimes": args.skipped,
        "limit": settings.limit,
        "curves": "per epoch History: loss/accuracy on the training split, val_* on the test split",
    }
    try:
        result = runner.comparison(
            settings,
            data=data,
            progress=progress,
            before_fit=before_fit,
            output=args.output,
            shard=args.shard,
            extra_settings=extra,
        )
    except paired.InputError as error:
        raise CLIError(_with_hint(error)) from None
    except KeyboardInterrupt:
        if progress:
            progress.close()
        print(f"\n{PROG}: interrupted. {_recorded(args.output, args.argv)}", file=sys.stderr)
        return 130
    if progress:
        progress.close()
    print()
    print(result.table())
    print(f"Wrote {', '.join(result.written)}")
    return 0


def _with_hint(error: Exception) -> str:
    """The one-line message of a comparison's input error, with what the command cannot do."""
    from keras_lerac.experiments.inputs import LabelError

    if isinstance(error, LabelError):
        return (
            f"{error} (the command compares classifiers; for regression or other targets call "
            "keras_lerac.experiments.paired.compare_regimes with loss=, metrics= and greater_is_better=: "
            "docs/cli.md)"
        )
    return str(error)


def _recorded(output: str, argv: Sequence[str]) -> str:
    """How many runs `output` holds, and the commands that go on from there."""
    import shlex

    from keras_lerac.experiments.records import RunStore

    done = len(RunStore(output).read())
    again = " ".join(shlex.quote(a) for a in [PROG, *argv])
    return (
        f"{done} finished run(s) are recorded in {output}; `{again}` trains only the missing ones, "
        f"`{PROG} report {shlex.quote(output)}` compares what is there."
    )


def cmd_report(args: argparse.Namespace) -> int:
    """`keras-lerac report DIR`: the comparison of the runs recorded in DIR."""
    from keras_lerac.experiments.comparison import ABComparison
    from keras_lerac.experiments.inputs import InputError
    from keras_lerac.experiments.pairing import PairingError

    if not os.path.isdir(args.output):
        raise CLIError(f"{args.output!r} is not a directory: give the --output of `{PROG} compare`")
    try:
        result = ABComparison.from_directory(args.output)
    except (InputError, PairingError) as error:
        raise CLIError(str(error)) from None
    written = result.write(args.output)
    print(result.table())
    print(f"Wrote {', '.join(written)}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """`keras-lerac plan`: see the module docstring and docs/cli.md."""
    import keras

    from keras_lerac import LeRaC, find_lerac, load_model
    from keras_lerac.optimizer import unwrap_loss_scale
    from keras_lerac.saving import compile_skipped
    from keras_lerac.summary import plan

    settings = runner.Settings(optimizer=args.optimizer, learning_rate=args.learning_rate)
    print(f"Keras backend: {keras.backend.backend()}")
    saved = None
    if _model_error(args.model) is None:
        model = models.get_model(args.model, (8, 8, 1), 10)
        base = runner.base_optimizer(settings)
    else:
        try:  # the module a schedule of the user's was registered by
            custom.import_saved_schedules(args.model)
        except ValueError as error:
            raise CLIError(str(error)) from None
        try:
            model = load_model(args.model)
        except Exception as error:  # a broken or foreign file is a bad argument
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CLIError(f"could not load {args.model!r}: {message}") from None
        if compile_skipped(model):
            print(
                f"note: {type(model).__name__} overrides compile(), so keras.saving.load_model gives it back "
                "with its default optimizer; keras_lerac.load_model restored the saved one."
            )
        # A model saved without compile() has no `optimizer` attribute at all: the flags give it.
        own = getattr(model, "optimizer", None)
        try:
            saved = find_lerac(own) if own is not None else None
        except TypeError:
            saved = None
        base = own if own is not None and saved is None else runner.base_optimizer(settings)
        base = unwrap_loss_scale(base)
    if saved is not None:
        print(f"Using the LeRaC optimizer saved in {args.model} (curriculum flags ignored).")
        optimizer = saved
    else:
        try:
            optimizer = LeRaC(
                base,
                min_learning_rate=args.min_learning_rate,
                curriculum_steps=args.curriculum_steps,
                total_steps=args.total_steps,
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
    args.argv = argv
    try:
        _validate(args)
        select_backend(getattr(args, "backend", None))
        return args.func(args)
    except CLIError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
