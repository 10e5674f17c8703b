"""The docs' figures against the committed results files they come from.

Each test reads one results file under `benchmarks/results/` (or `docs/demo/`), recomputes
the figures a page quotes from it (README.md or a page of the site under docs/), and finds
them in that page's text; every picture a page shows is redrawn by `benchmarks.figures`
from its results file and compared with the committed one. A re-run that changes a figure
(or an edit that drifts from its file) fails here until the two agree again. No training,
no timing: the files are read as they are committed.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = (ROOT / "README.md").read_text(encoding="utf-8")
RESULTS_PAGE = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
# README.md and every page of the site (docs/, the mkdocs hooks aside)
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_hooks" not in p.parts)]


def section(title: str, text: str | None = None) -> str:
    """The section headed `title` (at any level) of `text`, or of the one page that has it,
    up to the next heading of the same or a higher level (fenced code skipped)."""
    pages = [text] if text is not None else [p.read_text(encoding="utf-8") for p in DOCS]
    found = []
    for page in pages:
        lines, fenced, start, level = page.split("\n"), False, None, 0
        for i, line in enumerate(lines):
            if line.startswith("```"):
                fenced = not fenced
            heading = None if fenced else re.match(r"^(#+) (.*)$", line)
            if heading and start is not None and len(heading.group(1)) <= level:
                found.append("\n".join(lines[start:i]))
                start = None
            if heading and heading.group(2) == title:
                start, level = i, len(heading.group(1))
        if start is not None:
            found.append("\n".join(lines[start:]))
    assert len(found) == 1, f"{len(found)} sections headed {title!r}"
    return found[0]


def flat(text: str) -> str:
    """Text with line breaks and indentation collapsed (so sentences match across lines),
    and the typographic minus as an ASCII one."""
    return re.sub(r"\s+", " ", text).replace("\u2212", "-")


def load(relpath: str) -> dict:
    return json.loads((RESULTS / relpath).read_text(encoding="utf-8"))


def span(values, digits: int) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def expect(text: str, *figures: str) -> None:
    body = flat(text)
    missing = [f for f in figures if flat(f) not in body]
    assert not missing, f"the docs do not say (or no longer say) what the results file says: {missing}"


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The cells of the markdown table whose header row starts with `header_start`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


# ----------------------------------------------------------------------------- overhead
OVERHEAD_MODELS = {"residual CNN (15)": "resnet_small", "24-layer MLP (25)": "mlp_d24_w64"}
OVERHEAD_MODELS["96-layer MLP (97)"] = "mlp_d96_w32"
BACKENDS = {"TensorFlow": "tensorflow", "JAX": "jax", "torch": "torch"}


def _overhead_rows() -> dict:
    report = load("overhead/overhead.json")
    return {
        (worker["backend"], row["model_name"], row["optimizer"]): row
        for worker in report["workers"]
        for row in worker["results"]
    }


def _ratio(text: str) -> float:
    return float(re.match(r"\**([0-9.]+)", text).group(1))


def test_performance_table_is_the_overhead_results_file():
    rows = _overhead_rows()
    table = table_rows(section("Performance"), "| backend | model (buckets) |")
    assert len(table) == 9
    for backend, model, sgd, adam, step_target, first, first_target in table:
        for opt, cell in (("sgd", sgd), ("adam", adam)):
            row = rows[(BACKENDS[backend], OVERHEAD_MODELS[model], opt)]
            check = row["checks"]["step_time"]
            assert f"{_ratio(cell):.3f}" == f"{check['value']:.3f}", (backend, model, opt)
            assert step_target == f"<= {check['target']:.2f}"
            assert cell.startswith("**") == (not check["pass"]), (backend, model, opt, "bold = a miss")
            ci = re.search(r"CI ([0-9.]+)-([0-9.]+)", cell)
            if ci:
                assert [float(v) for v in ci.groups()] == [round(v, 2) for v in check["ci"]]
        for opt, cell in zip(("sgd", "adam"), first.split(" / ")):
            check = rows[(BACKENDS[backend], OVERHEAD_MODELS[model], opt)]["checks"]["first_epoch"]
            assert f"{_ratio(cell):.2f}" == f"{check['value']:.2f}", (backend, model, opt, "first epoch")
            assert cell.startswith("**") == (not check["pass"]), (backend, model, opt, "first epoch bold")
            assert first_target == f"<= {check['target']:.2f}"


def test_performance_text_is_the_overhead_results_file():
    report = load("overhead/overhead.json")
    rows = _overhead_rows()
    checks = [row["checks"] for row in rows.values()]
    passed = sum(c["step_time"]["pass"] for c in checks)

    def of(backend, field):
        return [value for (b, _, _), row in rows.items() if b == backend for value in field(row)]

    def floors(backend):
        return span(of(backend, lambda row: row["floor"]["step"]["ci"]), 2)

    def after(backend):
        return span(of(backend, lambda row: [row["checks"]["step_time_after"]["value"]]), 2)

    misses = [
        f"{c['step_time']['value']:.3f}, CI {c['step_time']['ci'][0]:.3f}-{c['step_time']['ci'][1]:.3f}"
        for c in checks
        if not c["step_time"]["pass"]
    ]
    torch = of("torch", lambda row: [row["checks"]["step_time"]["value"]])
    assert all(row["checks"]["step_time"]["pass"] for (b, _, _), row in rows.items() if b == "torch")
    excluding_one = [
        f"{row['floor']['step']['ci'][0]:.3f}-{row['floor']['step']['ci'][1]:.3f}"
        for row in rows.values()
        if not row["checks"]["step_time"]["pass"] and row["floor"]["step"]["ci"][0] > 1.0
    ]
    expect(
        section("Performance"),
        f"{report['wall_s'] / 60:.1f} min; every figure of this table",
        f"load average {report['loadavg_start'][0]:.1f} at the start",
        f"**Step time: {passed} of {len(checks)} within target**",
        f"spans {floors('tensorflow')} on TensorFlow, {floors('jax')} on JAX and {floors('torch')} on torch",
        *misses,
        "their floors exclude 1.0: " + " and ".join(excluding_one),
        f"**torch is at plain cost on every row** ({span(torch, 3)})",
        f"TensorFlow {after('tensorflow')}, JAX {after('jax')}, torch {after('torch')}",
    )
    extra = {c["opt_bytes"]["value"] for c in checks} | {c["opt_bytes_after"]["value"] for c in checks}
    assert len(extra) == 1
    expect(section("Performance"), f"plain's bytes + {extra.pop()} (the `rate_scale` scalar")


# ----------------------------------------------------------------------------- scaling
def test_scaling_text_is_the_scaling_results_file():
    report = load("scaling/scaling.json")
    rows = [(w["backend"], row) for w in report["workers"] for row in w["results"]]

    def values(backends, field, opt=None, min_buckets=0, max_buckets=10**6):
        return [
            row["checks"][field]["value"]
            for backend, row in rows
            if backend in backends
            and (opt is None or row["optimizer"] == opt)
            and min_buckets <= row["buckets"] <= max_buckets
        ]

    def row_at(backend, opt, buckets):
        return next(r for b, r in rows if b == backend and r["optimizer"] == opt and r["buckets"] == buckets)

    floors = [v for b, row in rows if b in ("tensorflow", "jax") for v in row["floor"]["step"]["ci"]]
    jax64 = row_at("jax", "sgd", 64)
    torch4 = [row_at("torch", opt, 4) for opt in ("sgd", "adam")]
    expect(
        section("Performance"),
        f"12 rounds, same machine, {report['wall_s'] / 60:.1f} min",
        f"On TensorFlow and JAX it reads {span(values(('tensorflow', 'jax'), 'step_time'), 2)} "
        f"from 4 to 256 buckets (the floor {span(floors, 2)})",
        f"JAX with SGD sits above 1 from 64 buckets on ({span(values(('jax',), 'step_time', 'sgd', 64), 2)})",
        f"(CI {jax64['checks']['step_time']['ci'][0]:.3f}-{jax64['checks']['step_time']['ci'][1]:.3f}, "
        f"floor {jax64['floor']['step']['ci'][0]:.3f}-{jax64['floor']['step']['ci'][1]:.3f})",
        f"torch it is {span(values(('torch',), 'step_time', min_buckets=16), 2)} from 16 buckets on",
        f"where a step takes {torch4[0]['arms']['plain']['step_ms_median']:.1f} ms, "
        f"{torch4[0]['checks']['step_time']['value']:.2f} with SGD and "
        f"{torch4[1]['checks']['step_time']['value']:.2f} with Adam",
        f"{span(values(('jax',), 'first_epoch', 'sgd', 16), 1)} x for SGD and "
        f"{span(values(('jax',), 'first_epoch', 'adam', 16), 1)} x for Adam",
        f"reads {span(values(('tensorflow',), 'first_epoch', 'sgd'), 2)} for SGD at every size and "
        f"{span(values(('tensorflow',), 'first_epoch', 'adam'), 2)} for Adam",
    )


# ----------------------------------------------------------------------------- dispatch
def _dispatch_rows(relpath: str) -> dict:
    report = load(relpath)
    return {
        (w["backend"], row["optimizer"], row["model"]): row for w in report["workers"] for row in w["results"]
    }


def test_short_step_text_is_the_dispatch_results_file():
    report = load("dispatch/dispatch.json")
    rows = _dispatch_rows("dispatch/dispatch.json")

    def steps(backend, keep=lambda key, row: True):
        return [r["checks"]["step_time"]["value"] for k, r in rows.items() if k[0] == backend and keep(k, r)]

    checks = [r["checks"]["step_time"] for r in rows.values()]
    ms = [r["arms"]["plain"]["step_ms_median"] for r in rows.values()]
    flat = {(w["backend"], f["optimizer"]): f for w in report["workers"] for f in w["flatness"]}
    torch4 = rows[("torch", "sgd", "mlp_d3_w8")]
    t4 = torch4["checks"]["step_time"]
    jax_small = [
        r["checks"]["step_time"]["value"]
        for k, r in rows.items()
        if k[0] == "jax" and k[2] in ("mlp_d3_w8", "mlp_d24_w8") and not r["checks"]["step_time"]["pass"]
    ]

    def pair(backend):
        return f"{flat[(backend, 'sgd')]['value']:+.3f} / {flat[(backend, 'adam')]['value']:+.3f}"

    expect(
        section("Performance"),
        f"({min(ms):.2f}-{max(ms):.0f} ms: JAX's are the shortest), 12 rounds, same machine, "
        f"{report['wall_s'] / 60:.1f} min",
        f"**Step time: {sum(c['pass'] for c in checks)} of {len(checks)} within target**",
        f"(TensorFlow {span(steps('tensorflow'), 3)}, JAX {span(steps('jax'), 3)}, "
        f"torch {span(steps('torch'), 3)})",
        f"JAX's 4- and 25-bucket MLPs ({span(jax_small, 3)}",
        f"({t4['value']:.3f}, CI {t4['ci'][0]:.3f}-{t4['ci'][1]:.3f}, on a "
        f"{torch4['arms']['plain']['step_ms_median']:.2f} ms step",
        f"buckets and more read {span(steps('torch', lambda k, r: r['buckets'] >= 15), 3)}",
        f"is {pair('jax')} on JAX (SGD / Adam), {pair('torch')} on torch and "
        f"{pair('tensorflow')} on TensorFlow",
        f"its noise, {flat[('tensorflow', 'adam')]['noise']:.3f})",
    )
    assert all(f["pass"] for (b, _), f in flat.items() if b in ("jax", "torch"))
    before = _dispatch_rows("dispatch/before/dispatch.json")
    after = _dispatch_rows("dispatch/after/dispatch.json")

    def torch_mlps(table):
        return [
            r["checks"]["step_time"]["value"]
            for k, r in table.items()
            if k[0] == "torch" and k[2].startswith("mlp")
        ]

    expect(
        section("Performance"),
        f"torch's MLP rows went from {span(torch_mlps(before), 3)} to {span(torch_mlps(after), 3)}",
    )
    assert set(before) == set(after)


def test_the_before_after_table_is_the_dispatch_results_files():
    before = _dispatch_rows("dispatch/before/dispatch.json")
    after = _dispatch_rows("dispatch/after/dispatch.json")
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    table = table_rows(section("Dispatch results", page), "| backend | opt | model (buckets) | before")
    assert len(table) == len(after) == len(before)
    names = {v: k for k, v in BACKENDS.items()}

    def cell(row):
        c = row["checks"]["step_time"]
        return f"{c['value']:.3f} ({c['ci'][0]:.2f}-{c['ci'][1]:.2f})"

    for (backend, opt, model), row in after.items():
        expected = [names[backend], opt, f"{model} ({row['buckets']})", cell(before[(backend, opt, model)])]
        assert any(line[:4] == expected and line[5] == cell(row) for line in table), expected


def test_the_exact_against_vector_table_is_the_jax_adam_results_files():
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    table = table_rows(section("Dispatch results", page), "| arm | 25 buckets")
    assert len(table) == 4
    for arm, few, many, first in table:
        kind, run = re.match(r"(exact|vector), run (\d)", arm).groups()
        report = load(f"dispatch/jax-adam/{kind}-{run}/dispatch.json")
        worker = report["workers"][0]
        assert worker["backend"] == "jax" and worker["library"]["modified"] == (kind == "vector")
        rows = {row["buckets"]: row for row in worker["results"]}
        for cell, buckets in ((few, 25), (many, 97)):
            c = rows[buckets]["checks"]["step_time"]
            assert cell == f"{c['value']:.3f} (CI {c['ci'][0]:.3f}-{c['ci'][1]:.3f})", (arm, buckets)
        assert first == " / ".join(f"{rows[n]['checks']['first_epoch']['value']:.2f}" for n in (25, 97))


def test_the_readme_cost_is_the_overhead_and_dispatch_results_files():
    overhead = [row["checks"]["step_time"] for row in _overhead_rows().values()]
    dispatch = [row["checks"]["step_time"] for row in _dispatch_rows("dispatch/dispatch.json").values()]
    expect(
        section("Cost", README),
        f"{sum(c['pass'] for c in overhead)} of {len(overhead)} step-time ratios",
        f"(the highest {max(c['value'] for c in overhead):.3f})",
        f"{sum(c['pass'] for c in dispatch)} of {len(dispatch)} where steps are short",
        f"the highest {max(c['value'] for c in dispatch):.3f})",
    )


# ----------------------------------------------------------------------------- the study
def _study():
    summary = load("sensitivity/summary.json")
    rates = {json.dumps(c["config"], sort_keys=True): c.get("base_lr") for c in summary["configs"]}
    fields = summary["configs"][0]["config"].keys()
    cells = [
        c
        for c in summary["cells"]
        if c.get("regime", "lerac") == "lerac"
        and c["base_lr"] == rates[json.dumps({f: c[f] for f in fields}, sort_keys=True)]
    ]
    return summary, cells


def _lost(cell):
    return cell["diff_final_se"] and cell["diff_final"] < -2 * cell["diff_final_se"]


def _gained(cell):
    return cell["diff_final_se"] and cell["diff_final"] > 2 * cell["diff_final_se"]


def _name(cell):
    return (cell["data"], cell["model"], cell["depth"], cell["residual"], cell["norm"], cell["optimizer"])


def _at(cells, k, ratio=1e-4, schedule="exponential", **config):
    return [
        c
        for c in cells
        if c["k_fraction"] == k
        and c["start_ratio"] == ratio
        and c["schedule"] == schedule
        and all(c[f] == v for f, v in config.items())
    ]


CENTRAL = {"data": "digits", "model": "mlp", "residual": False, "norm": False, "optimizer": "sgd"}
CENTRAL.update(lr_schedule="cosine", epochs=15)


def test_when_to_use_is_the_sensitivity_study():
    summary, cells = _study()
    text = section("When to use LeRaC", RESULTS_PAGE)
    hours = summary["meta"]["wall_s"] / 3600
    runs = summary["runs"] + summary["tuning_runs"]
    seeds = {c["n"] for c in cells}
    assert len(seeds) == 1
    (d20_long,) = _at(cells, 0.2, **{**CENTRAL, "depth": 20})
    (d20_rule,) = _at(cells, 0.025, **{**CENTRAL, "depth": 20})
    # the rule's cell on the configurations that train stably (not the plain d12/d20, not iris)
    unstable = {("digits", "mlp", 12, False, False, "sgd"), ("digits", "mlp", 20, False, False, "sgd")}
    unstable.add(("iris", "mlp", 6, False, False, "sgd"))
    stable = [c for c in _at(cells, 0.025) if _name(c) not in unstable]
    mean = sum(c["diff_final"] for c in stable) / len(stable)
    short = [c for c in cells if c["k_fraction"] <= 0.025]
    lost10 = sum(map(bool, map(_lost, _at(cells, 0.1))))
    lost10_any = len(
        {_name(c) + (c["epochs"], c["lr_schedule"]) for c in cells if c["k_fraction"] == 0.1 and _lost(c)}
    )
    lost20 = [c for c in _at(cells, 0.2) if _lost(c)]
    by = {(c["data"], c["epochs"], c["optimizer"]): c["diff_final"] for c in lost20}
    expect(
        text,
        f"{len(summary['configs'])} small configurations",
        f"{seeds.pop()} seeds per cell paired by initial weights; {runs:,} runs, {hours:.2f} h",
        f"(+{d20_long['diff_final']:.1f} ± {d20_long['diff_final_se']:.1f} at K = 20 %, "
        f"+{d20_rule['diff_final']:.1f} ± {d20_rule['diff_final_se']:.1f} with the defaults)",
        f"none of the study's {len(short)} cells lost more than 2 standard errors",
        f"({sum(map(bool, map(_gained, short)))} of them gained "
        f"+{min(c['diff_final'] for c in short if _gained(c)):.1f} to "
        f"+{max(c['diff_final'] for c in short if _gained(c)):.1f}",
        f"the {len(stable)} stable configurations read {min(c['diff_final'] for c in stable):.2f} to "
        f"+{max(c['diff_final'] for c in stable):.2f} points, mean {mean:+.2f}",
        f"K = 10 % lost in {lost10} configurations ({lost10_any} at some start ratio), "
        f"K = 20 % in {len(lost20)}",
        f"{by[('spirals', 15, 'sgd')]:.1f} points on spirals, "
        f"{by[('digits', 5, 'sgd')]:.1f} on a 5-epoch run, "
        f"{by[('wine', 40, 'sgd')]:.1f} on wine (320 steps), {by[('digits', 15, 'adam')]:.1f} with Adam",
    )
    assert not [c for c in short if _lost(c)]


# Results the docs name before they exist, each with why. When one lands, this test fails
# until its entry goes: the figures quoted from it then come under the tests above.
PENDING: dict[str, str] = {}


def test_every_results_file_the_docs_cite_is_committed():
    cited = set()
    for doc in DOCS:
        cited |= set(re.findall(r"benchmarks/results/[\w./-]+", doc.read_text(encoding="utf-8")))
    assert cited
    # what the docs name as not results (git ignores them): the log, caches, initial weights
    ignored = ("run.log", "/cache", "/init", "/estimate-scratch")
    missing = sorted(
        p
        for p in cited
        if not (ROOT / p.rstrip(".")).exists()
        and not p.endswith(ignored)
        and not p.rstrip("/.").startswith(tuple(PENDING))
    )
    assert not missing, f"cited but not committed: {missing}"
    landed = [p for p in PENDING if (ROOT / p).exists()]
    assert not landed, f"results now committed: take {landed} out of PENDING and test their figures"


@pytest.mark.parametrize("doc", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_no_benchmark_is_run_by_path(doc):
    """The harnesses are modules of the `benchmarks` package: `python -m benchmarks.NAME`."""
    text = doc.read_text(encoding="utf-8")
    assert not re.findall(r"python3? benchmarks/(?!recipes/)\w+\.py", text)


# ----------------------------------------------------------------------------- compile
def test_compile_figures_are_the_profile_compile_results_file():
    report = load("profile_compile/profile_compile_sgd.json")
    arms = report["arms"]
    plain, schedule, lerac = arms["plain"], arms["plain-schedule"], arms["lerac"]
    rows = _overhead_rows()
    torch_first = [row["arms"]["plain"]["first_epoch_s"] for (b, _, _), row in rows.items() if b == "torch"]
    tf96 = rows[("tensorflow", "mlp_d96_w32", "sgd")]["checks"]["first_epoch"]["value"]
    assert (report["depth"], report["width"], report["optimizer"]) == (96, 32, "sgd")
    expect(
        section("Performance"),
        f"at load average {report['loadavg_start'][0]:.1f};",
        f"take {plain['trace_lower_s']:.2f} s plain vs {lerac['trace_lower_s']:.2f} s LeRaC, "
        f"XLA's compile {plain['compile_s']:.2f} s vs {lerac['compile_s']:.2f} s",
        f"compiles as fast as plain ({schedule['compile_s']:.2f} s)",
        f"({lerac['ops_vs_plain']['stablehlo.slice']} of each; "
        f"{lerac['fusions']} fusions vs {plain['fusions']})",
        f"(the 96-layer MLP's {tf96:.2f})",
        f"first epochs ({min(torch_first):.1f}-{max(torch_first):.1f} s long)",
    )
    assert lerac["ops_vs_plain"]["stablehlo.reshape"] == lerac["ops_vs_plain"]["stablehlo.slice"]


# ----------------------------------------------------------------------------- accuracy
ACCURACY_TASKS = {
    "digits (`digits_cnn`)": "digits-cnn",
    "digits (`digits_mlp`)": "digits-mlp",
    "wine, scikit-learn (`mlp_d3_w64`)": "wine-mlp",
    "breast cancer, scikit-learn (`mlp_d3_w64`)": "breast_cancer-mlp",
}


def test_results_table_is_the_accuracy_results_file():
    """README quotes the accuracy table only beside its committed file, and then as the file says."""
    text = section("Accuracy on four small tasks")
    path = RESULTS / "accuracy" / "accuracy.json"
    if "| task (model) |" not in text:
        # no table: no accuracy figure either, only the command that would make the file
        assert not re.search(r"\d+\.\d\d \+- \d+\.\d\d", text)
        assert "--output benchmarks/results/accuracy" in text
        return
    from benchmarks import accuracy

    report = load("accuracy/accuracy.json")
    assert path.exists()
    # The file's own table (benchmarks.accuracy.markdown), row by row, task names aside.
    written = {row[0]: row[1:] for row in table_rows(accuracy.markdown(report), "| task |")}
    table = table_rows(text, "| task (model) |")
    assert {ACCURACY_TASKS[row[0]] for row in table} == set(written)
    for task_cell, *cells in table:
        assert cells == written[ACCURACY_TASKS[task_cell]], task_cell
    minutes, seconds = divmod(round(report["wall_s"]), 60)
    expect(
        text,
        f"mean +- std over {report['seeds']} seeds",
        f"took {minutes} min {seconds} s",
        "benchmarks/results/accuracy/accuracy.json",
    )


def test_the_controls_study_is_complete_and_paired():
    """The committed study with controls: every run done, all four regimes of a seed on one start."""
    summary = load("controls/summary.json")
    assert summary["meta"]["pending_runs"] == 0 and summary["init_hash_mismatches"] == 0
    rows = summary["contrasts"]
    assert rows and all(r["init_hash_mismatches"] == 0 for r in rows)
    seeds = len(summary["design"]["seeds"])
    assert seeds >= 12 and all(d["n"] == seeds for r in rows for d in r["contrasts"].values())


def _contrast(d: dict) -> str:
    bold = "**" if d["significant"] else ""
    return f"{bold}{d['mean']:+.2f} ± {d['se']:.2f}{bold}"


def test_when_to_use_controls_are_the_controls_study():
    """README's controls table and the figures quoted around it, recomputed from the study."""
    summary = load("controls/summary.json")
    text = section("When to use LeRaC", RESULTS_PAGE)
    rows: dict = {}
    for r in summary["contrasts"]:
        rows.setdefault(r["label"], {})[r["k_fraction"]] = r["contrasts"]
    ks = (0.025, 0.1, 0.2)
    for label, by_k in rows.items():
        cells = [_contrast(by_k[k]["lerac - warmup"]) for k in ks] + [
            _contrast(by_k[k]["anti - lerac"]) for k in ks
        ]
        expect(text, f"| {label} | " + " | ".join(cells) + " |")
    hours = summary["meta"]["wall_s"] / 3600
    runs = summary["runs"] + summary["tuning_runs"]
    expect(text, f"{len(summary['design']['seeds'])} seeds per cell, {runs:,} runs, {hours:.2f} h")
    every = [r["contrasts"] for r in summary["contrasts"]]
    lw = [c["lerac - warmup"] for c in every]
    significant = [d for d in lw if d["significant"]]
    wins = sum(d["mean"] > 0 for d in significant)
    expect(
        text,
        f"{len(significant)} of {len(lw)} cells differ at 95 % ({0.05 * len(lw):.1f} expected by chance), "
        f"{wins} for LeRaC and {len(significant) - wins} against",
    )
    anti = [c["anti - lerac"] for c in every if c["anti - lerac"]["significant"]]
    assert all(d["mean"] > 0 for d in anti)
    expect(text, f"it is above 0 in {len(anti)} cells")
    beat = [
        r
        for r in summary["contrasts"]
        if r["contrasts"]["lerac - conventional"]["significant"]
        and r["contrasts"]["lerac - conventional"]["mean"] > 0
    ]
    (d20,) = beat
    c = d20["contrasts"]
    expect(
        text,
        f"K = {100 * d20['k_fraction']:.0f} %, {_contrast(c['lerac - conventional']).strip('*')}",
        f"a warm-up gained {_contrast(c['warmup - conventional']).strip('*')}",
        f"cannot be told apart ({_contrast(c['lerac - warmup']).strip('*')})",
    )
    base = [r for r in summary["contrasts"] if r["config"]["lr_schedule"] == "warmup_cosine"]
    values = ", ".join(
        f"{r['contrasts']['lerac - conventional']['mean']:+.2f}".replace("-", "−") for r in base
    )
    assert not any(r["contrasts"]["lerac - conventional"]["significant"] for r in base)
    expect(text, f"LeRaC added nothing ({values} at K = 2.5, 10, 20 %, none significant)")
    rule = [r["contrasts"]["lerac - conventional"] for r in summary["contrasts"] if r["k_fraction"] == 0.025]
    assert not any(d["significant"] for d in rule)


# ----------------------------------------------------------------------------- the verdict
def _paragraph(text: str) -> str:
    """The first paragraph of a section, its links' targets dropped (they differ per page)."""
    body = text.split("\n\n")[1]
    return flat(re.sub(r"\]\([^)]*\)", "]", body))


def test_readme_and_results_page_give_the_same_verdict():
    """README's "When to use LeRaC" paragraph is the results page's, word for word, so the
    figures the tests above find on the page are the README's too."""
    readme = _paragraph(section("When to use LeRaC", README))
    assert readme == _paragraph(section("When to use LeRaC", RESULTS_PAGE))
    assert "docs/cli.md" in section("When to use LeRaC", README), "README's verdict points to docs/cli.md"


# ----------------------------------------------------------------------------- the demo
def test_what_make_demo_prints_is_the_demo_results_file():
    """The tables `make demo` prints, as README and the docs show them, are docs/demo/results.json's."""
    from keras_lerac.experiments.comparison import ABComparison

    results = json.loads((ROOT / "docs" / "demo" / "results.json").read_text(encoding="utf-8"))
    printed = ABComparison(results["regimes"], results["differences"], results["settings"]).table()
    printed += "\nWrote docs/demo/results.json, docs/demo/curriculum.png, docs/demo/accuracy.png\n"
    shown = [
        (doc, block)
        for doc in DOCS
        for block in re.findall(r"^```\n(Regime .*?)```", doc.read_text(encoding="utf-8"), flags=re.S | re.M)
    ]
    assert {doc.name for doc, _ in shown} >= {"README.md", "getting-started.md"}
    for doc, block in shown:
        assert block == printed, (
            f"{doc.relative_to(ROOT)}: the demo's tables differ from docs/demo/results.json"
        )


# ----------------------------------------------------------------------------- pictures
def test_every_picture_is_drawn_from_a_committed_results_file(tmp_path):
    """Each image a page shows is one `benchmarks.figures` draws from a committed results
    file, and drawing it again from that file gives the committed picture."""
    from matplotlib.image import imread

    from benchmarks import figures

    shown = set()
    for doc in DOCS:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            shown.add((doc.parent / target).resolve().relative_to(ROOT).as_posix())
    assert shown, "no pictures found"
    assert shown <= set(figures.FIGURES), (
        f"pictures no results file makes: {sorted(shown - set(figures.FIGURES))}"
    )
    assert {"docs/demo/curriculum.png", "docs/figures/scaling.png", "docs/figures/controls.png"} <= shown
    for picture in sorted(shown):
        assert (ROOT / figures.FIGURES[picture]).exists(), figures.FIGURES[picture]
    for picture in figures.make(str(tmp_path), sorted(shown)):
        relative = Path(picture).relative_to(tmp_path).as_posix()
        again, committed = imread(picture), imread(ROOT / relative)
        assert again.shape == committed.shape, f"{relative}: redrawn at another size; run `make figures`"
        assert abs(again - committed).mean() < 0.01, (
            f"{relative} is not what its results file draws: `make figures`"
        )


# ----------------------------------------------------------------------------- instability
def _interval(d: dict) -> str:
    if d["ci95"] is None:  # every pair equal: no interval
        return f"{d['mean']:+.2f} (no interval)"
    bold = "**" if d["significant_holm"] else ""
    return f"{bold}{d['mean']:+.2f} [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]{bold}"


def test_the_instability_study_is_complete_and_its_table_is_the_results_file():
    """The instability study's table on the results page, recomputed from its summary."""
    summary = load("instability/summary.json")
    assert summary["meta"]["pending_runs"] == 0 and summary["init_hash_mismatches"] == 0
    cells = summary["instability"]["cells"]
    seeds = len(summary["design"]["seeds"])
    assert seeds >= 24 and all(d["n"] == seeds for c in cells for d in c["contrasts"].values())
    text = section("Unstable training: the instability study", RESULTS_PAGE)
    names = ("lerac - warmup", "lerac - linear_warmup", "lerac - conventional", "anti - lerac")
    for c in cells:
        expect(
            text,
            f"| {c['label']} | {100 * c['k_fraction']:g} % | "
            + " | ".join(_interval(c["contrasts"][n]) for n in names)
            + " |",
        )
    hours = summary["meta"]["wall_s"] / 3600
    runs = summary["runs"] + summary["tuning_runs"]
    expect(text, f"{len(cells)} cells, {seeds} seeds per cell, {runs:,} runs, {hours:.2f} h")
    expect(text, f"over all\n{summary['instability']['contrasts_tested']} contrasts")


def test_the_instability_verdict_is_the_study():
    """README's (and the results page's) paragraph on unstable training, recomputed."""
    summary = load("instability/summary.json")
    cells = summary["instability"]["cells"]
    runs = summary["runs"]
    for page in (README, RESULTS_PAGE):
        text = flat(section("When to use LeRaC", page))
        tested = summary["instability"]["contrasts_tested"]
        expect(
            text, f"{len(cells)} cells, {len(summary['design']['seeds'])} paired seeds each, {runs:,} runs"
        )
        expect(text, f"corrected for its {tested} contrasts")
        versus = [c["contrasts"][n] for c in cells for n in ("lerac - warmup", "lerac - linear_warmup")]
        assert not any(d["significant_holm"] for d in versus)
        favour = [d for d in versus if d["significant"] and d["mean"] > 0]
        against = [d for d in versus if d["significant"] and d["mean"] < 0]
        (lead,) = favour
        expect(
            text,
            f"{len(favour)} of {len(versus)} LeRaC-warm-up contrasts favoured LeRaC (+{lead['mean']:.2f}",
        )
        expect(text, f"and {len(against)} favoured the linear warm-up")
        collapsing = [c for c in cells if c["regimes"]["conventional"]["collapsed"] == seeds_of(c)]
        unstable = max(collapsing, key=lambda c: c["contrasts"]["lerac - conventional"]["mean"])
        r, k = unstable["regimes"], unstable["contrasts"]
        expect(text, f"{r['conventional']['collapsed']} of {seeds_of(unstable)} seeds conventionally")
        expect(
            text, f"(+{k['lerac - conventional']['mean']:.2f} points, {r['lerac']['collapsed']} collapses)"
        )
        assert not k["lerac - linear_warmup"]["significant_holm"]
        expect(
            text, f"(lerac − linear_warmup −{abs(k['lerac - linear_warmup']['mean']):.2f}, not significant)"
        )
        assert k["anti - lerac"]["p_holm"] < 0.001
        expect(text, f"(anti − lerac +{k['anti - lerac']['mean']:.2f}, Holm p < 0.001)")


def seeds_of(cell: dict) -> int:
    return cell["regimes"]["conventional"]["n"]
