"""The package's shape: modules import downward only, and Keras internals stay in one module."""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_lerac"


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The package modules `name` imports, at any level (function-level imports included)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        found |= {t for t in targets if t in MODULES and t != name}
    return found


def test_modules_import_downward_only():
    # The package's __init__ re-exports lazily (it imports its submodules by name on
    # first use), so it is the one module allowed to point at everything.
    graph = {m: imports(m) - {"keras_lerac"} for m in MODULES if m != "keras_lerac"}
    cycles, done = [], set()

    def visit(node, stack):
        if node in stack:
            cycles.append(" -> ".join(stack[stack.index(node) :] + [node]))
            return
        if node in done:
            return
        for child in sorted(graph.get(node, ())):
            visit(child, stack + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    assert cycles == []


def test_the_library_never_imports_the_application():
    app = ("keras_lerac", "keras_lerac.__main__")  # the lazy re-exports and `python -m keras_lerac`
    library = [m for m in MODULES if not m.startswith("keras_lerac.experiments") and m not in app]
    offenders = {m: sorted(t for t in imports(m) if t.startswith("keras_lerac.experiments")) for m in library}
    assert {m: t for m, t in offenders.items() if t} == {}


# Private Keras names the package relies on; only keras_lerac/_keras/ may touch them.
KERAS_PRIVATE = re.compile(
    r"keras\.src|\._(nodes_by_depth|flatten_layers|iterations|untrack_variable|track_variable|var_key"
    r"|learning_rate|variables|distribution_strategy|exclude_from_weight_decay\w*|get_variable_index"
    r"|trainable_variables\w*|inputs_struct|outputs_struct|use_weight_decay|apply_weight_decay"
    r"|get_current_learning_rate|model|layers|tracker|backend_update_step)\b"
)


def test_keras_internals_are_touched_in_one_module():
    offenders = []
    for name, path in MODULES.items():
        if name == "keras_lerac._keras" or name.startswith("keras_lerac._keras."):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if code.strip().startswith(("def _backend_update_step", "def _apply_weight_decay")):
                continue  # LeRaC's overrides of the hooks, documented in _keras/optimizers.py
            if KERAS_PRIVATE.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
