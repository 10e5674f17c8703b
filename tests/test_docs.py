"""Every page of the docs (README.md and the site under docs/) is tested: each Python block
runs alone and prints what it says it prints, each `keras-lerac` command parses."""

import contextlib
import io
import pathlib
import re
import shlex

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# README.md and every page of the site (docs/, the mkdocs hooks aside)
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_hooks" not in p.parts)]
GETTING_STARTED = ROOT / "docs" / "getting-started.md"


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


BLOCKS = [(path, i, block) for path in DOCS for i, block in enumerate(python_blocks(path))]
IDS = [f"{p.relative_to(ROOT)}[{i}]" for p, i, _ in BLOCKS]


@pytest.mark.parametrize(("path", "index", "block"), BLOCKS, ids=IDS)
def test_every_python_block_runs_alone(path, index, block, tmp_path, monkeypatch):
    # Each block runs alone, in a fresh namespace, as a reader who copies only that block
    # would run it: a block that relies on another's imports or variables fails.
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(block, f"{path.name}[block {index}]", "exec"), {"__name__": "__main__"})


def test_the_docs_have_python_blocks():
    assert len(BLOCKS) >= 10, "no Python blocks found in README.md and docs/"
    assert [p for p, _, _ in BLOCKS].count(ROOT / "README.md") >= 1
    assert [p for p, _, _ in BLOCKS].count(GETTING_STARTED) >= 3


def test_readme_example_prints_what_it_says():
    (block,) = python_blocks(ROOT / "README.md")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    (said,) = re.findall(r"^print\(.*?\)\s+# ([^:]*):", block, flags=re.M)
    assert out.getvalue().split() == said.split()


def test_usage_example_prints_the_documented_rates():
    (block,) = [b for b in python_blocks(GETTING_STARTED) if "print(opt.learning_rates_at(0))" in b]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "getting-started.md", "exec"), {})
    printed = [eval(line) for line in out.getvalue().splitlines()]
    documented = re.findall(r"print\(opt\.learning_rates_at\(\d+\)\)\s+# (\[.*\])", block)
    assert len(printed) == len(documented) == 3
    for got, doc in zip(printed, documented):
        numbers = [float(x.rstrip(".")) for x in re.findall(r"[0-9.e-]+", doc)]
        assert len(got) == len(numbers)
        for g, n in zip(got, numbers):
            assert abs(g - n) <= 1e-3 * abs(n) + 1e-9 or str(g).startswith(str(n).rstrip("."))


def _documented_objects():
    """Every module of the package, and the classes, functions and methods defined in it."""
    import importlib
    import inspect
    import pkgutil

    import keras_lerac

    for info in pkgutil.walk_packages(keras_lerac.__path__, prefix="keras_lerac."):
        module = importlib.import_module(info.name)
        yield info.name, module
        for _, obj in inspect.getmembers(module, lambda o: inspect.isclass(o) or inspect.isfunction(o)):
            if obj.__module__ != info.name:
                continue
            yield f"{info.name}.{obj.__qualname__}", obj
            if inspect.isclass(obj):
                for _, method in inspect.getmembers(obj, inspect.isfunction):
                    if method.__qualname__.startswith(obj.__name__ + "."):
                        yield f"{info.name}.{method.__qualname__}", method


def test_every_docstring_example_runs(tmp_path, monkeypatch):
    import doctest
    import inspect

    monkeypatch.chdir(tmp_path)
    ran, failures = 0, []
    for name, obj in _documented_objects():
        doc = inspect.getdoc(obj) or ""
        for block in re.findall(r"```python\n(.*?)```", doc, flags=re.S):
            ran += 1
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(block, name, "exec"), {})
            except Exception as error:  # noqa: BLE001 - collected, reported together
                failures.append(f"{name}: {type(error).__name__}: {error}")
        if ">>>" in doc and not inspect.ismodule(obj):
            globs = dict(vars(inspect.getmodule(obj)))  # a doctest sees its module's names
            for test in doctest.DocTestFinder(recurse=False).find(obj, name, globs=globs):
                ran += 1
                result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test, out=lambda _: None)
                if result.failed:
                    failures.append(f"{name}: doctest failed")
    assert ran >= 15, "the docstring examples were not found"
    assert failures == [], "\n".join(failures)


def test_public_api_signature_names_every_parameter_of_lerac():
    import ast
    import inspect

    from keras_lerac import LeRaC

    page = (ROOT / "docs" / "curriculum.md").read_text()
    api = page[page.index("## The public API") :]
    (signature,) = re.findall(r"^\| `(LeRaC\(.*?\))` \|", api, flags=re.M)
    # The documented signature, read as Python: names, kinds (keyword-only) and defaults.
    (doc,) = ast.parse(f"def {signature}: pass").body
    documented = {a.arg: None for a in doc.args.args}
    for arg, default in zip(doc.args.kwonlyargs, doc.args.kw_defaults):
        documented[arg.arg] = ast.literal_eval(default) if default is not None else inspect.Parameter.empty
    parameters = inspect.signature(LeRaC.__init__).parameters
    named = {n: p for n, p in parameters.items() if n != "self" and p.kind is not p.VAR_KEYWORD}
    missing = [n for n in named if n not in documented]
    assert missing == [], f"docs/curriculum.md's public API signature of LeRaC(...) omits {missing}"
    unknown = [n for n in documented if n not in named]
    assert unknown == [], (
        f"docs/curriculum.md's public API signature of LeRaC(...) names no parameter {unknown}"
    )
    assert list(documented) == list(named), "docs/curriculum.md lists LeRaC's parameters in another order"
    assert [a.arg for a in doc.args.args] == [
        n for n, p in named.items() if p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    for n, p in named.items():
        if p.kind is p.KEYWORD_ONLY:
            assert documented[n] == p.default, (
                f"docs/curriculum.md: {n}={documented[n]!r}, LeRaC: {n}={p.default!r}"
            )
    assert doc.args.kwarg is not None, (
        "docs/curriculum.md's signature omits LeRaC's **kwargs (wrapper options)"
    )


def _commands(text: str) -> list[str]:
    """Every `keras-lerac ...` command of a page: in inline code, and in shell blocks (a line
    that starts with it, after `$ ` or environment settings, continued by `\\`). Synopses
    (`[--flag X]`) are left out: they are the usage, not a command."""
    found = [" ".join(span.split()) for span in re.findall(r"`(keras-lerac [^`]+)`", text)]
    for block in re.findall(r"^```(?:bash|shell|console)?\n(.*?)^```", text, flags=re.S | re.M):
        block = block.replace("\\\n", " ")
        found += re.findall(r"^(?:\$ )?(?:[A-Z_]+=\S+ )*(keras-lerac(?: .*)?)$", block, flags=re.M)
    return [c.split("  #")[0].split(" # ")[0].strip() for c in found if "[" not in c]


COMMANDS = [(path, command) for path in DOCS for command in dict.fromkeys(_commands(path.read_text()))]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[f"{p.name}: {c}" for p, c in COMMANDS])
def test_every_command_in_the_docs_parses(path, command):
    """The command exists as written: `keras-lerac`'s own parser accepts its flags."""
    from keras_lerac.experiments.cli import build_parser

    argv = shlex.split(command)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exit_:
        assert exit_.code == 0 and "--help" in argv, f"{path.name}: `{command}` does not parse"


def test_the_docs_have_commands():
    assert len(COMMANDS) >= 8
    assert any(p.name == "README.md" for p, _ in COMMANDS)


def test_cli_doc_states_the_rates_the_logger_logs():
    # docs/cli.md gives the logged value as an expression: evaluate it after a real fit.
    import keras
    import numpy as np

    from keras_lerac import CurriculumLogger, LeRaC

    text = (ROOT / "docs" / "cli.md").read_text()
    section = text[text.index("### `keras_lerac.CurriculumLogger`") :]
    (expression,) = re.findall(r"to the epoch logs: `([^`]+)`", section)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(4, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(4, activation="relu")(hidden)))
    optimizer = LeRaC(keras.optimizers.SGD(0.05), min_learning_rate=1e-4, curriculum_steps=10, model=model)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[CurriculumLogger()])
    iterations = int(keras.ops.convert_to_numpy(optimizer.iterations))
    scale = np.asarray(optimizer.rate_scale, "float64")  # an array: `rate_scale * [rates]` is a product
    namespace = {"optimizer": optimizer, "iterations": iterations, "rate_scale": scale}
    stated = np.asarray(eval(expression, namespace), "float64")
    logged = [history.history[f"lr_bucket_{j}"][-1] for j in range(len(stated))]
    np.testing.assert_allclose(logged, stated, rtol=1e-12, err_msg=f"docs/cli.md says `{expression}`")


def test_package_license_is_an_spdx_string_that_setuptools_reads_without_warning():
    # A `license = { text = ... }` table makes setuptools >= 77 warn at every build
    # (`make install` printed it three times); the SPDX string needs setuptools >= 77.
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == "Apache-2.0"
    assert not any("License ::" in c for c in config["project"].get("classifiers", []))
    (setuptools_pin,) = [r for r in config["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools_pin)
    assert minimum and int(minimum.group(1)) >= 77, setuptools_pin
