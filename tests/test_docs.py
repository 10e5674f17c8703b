"""The README's example runs and prints what the README says it prints."""

import contextlib
import io
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_usage_example_runs_and_prints_the_documented_rates():
    block = python_blocks(ROOT / "README.md")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    printed = [eval(line) for line in out.getvalue().splitlines()]
    documented = re.findall(r"print\(opt\.learning_rates_at\(\d+\)\)\s+# (\[.*\])", block)
    assert len(printed) == len(documented) == 3
    for got, doc in zip(printed, documented):
        numbers = [float(x.rstrip(".")) for x in re.findall(r"[0-9.e-]+", doc)]
        assert len(got) == len(numbers)
        for g, n in zip(got, numbers):
            assert abs(g - n) <= 1e-3 * abs(n) + 1e-9 or str(g).startswith(str(n).rstrip("."))
