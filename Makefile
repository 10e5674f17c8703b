PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
BACKENDS := tensorflow jax torch
PYTEST_ARGS ?=
# `make test` runs each backend's tests in two pytest-xdist workers (the CI machine has two
# cores; worksteal balances the long end-to-end tests): about half the serial wall time.
# `make test PYTEST_WORKERS=` runs them in one process.
PYTEST_WORKERS ?= -n 2 --dist worksteal

.PHONY: install lint format test test-tensorflow test-jax test-torch wheel-test examples demo docs figures compat clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements-dev.txt
	# torch first, pinned: a bare `torch` requirement can pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $@

install: $(VENV)/.installed

# ruff: the format and the lint rules live in pyproject.toml.
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# One pytest process per backend: Keras picks its backend once per process.
test: install
	@set -e; for b in $(BACKENDS); do \
	  echo "=== KERAS_BACKEND=$$b ==="; \
	  start=$$(date +%s); \
	  KERAS_BACKEND=$$b $(BIN)/python -m pytest -q $(PYTEST_WORKERS) $(PYTEST_ARGS); \
	  echo "=== $$b: $$(( $$(date +%s) - start )) s ==="; \
	done

test-%: install
	KERAS_BACKEND=$* $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The wheel as users install it (tests/test_wheel.py): built from this checkout, installed
# with only keras-lerac[jax] into a fresh virtual environment (no TensorFlow, no torch), and
# used there: train, save, reload, plan. Outside `make test`: it needs PyPI once (then
# ~/.cache/keras-lerac/wheelhouse, LERAC_WHEELHOUSE) and takes about a minute.
wheel-test: install
	LERAC_WHEEL_TEST=1 KERAS_BACKEND=jax $(BIN)/python -m pytest -q -s tests/test_wheel.py $(PYTEST_ARGS)

# Every example's --smoke run and the sensitivity study's smoke runs on every backend
# (CI runs a daily rotation of them: tests/conftest.py); prints each backend's wall time.
examples: install
	@set -e; for b in $(BACKENDS); do \
	  echo "=== KERAS_BACKEND=$$b ==="; \
	  start=$$(date +%s); \
	  LERAC_EXAMPLES=all KERAS_BACKEND=$$b $(BIN)/python -m pytest -q --durations=0 tests/test_examples.py tests/test_sensitivity.py $(PYTEST_ARGS); \
	  echo "=== $$b: $$(( $$(date +%s) - start )) s ==="; \
	done

demo: install
	$(BIN)/keras-lerac compare

# The documentation site (mkdocs.yml) into site/, strict: a warning, a broken link or a
# missing API reference fails the build (tests/test_site.py builds it the same way).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The docs' pictures, redrawn from the committed results files (benchmarks/figures.py).
figures: install
	$(BIN)/python -m benchmarks.figures

# The Keras-facing tests (conformance, state, optimizer) on each Keras minor of the tested
# range, in throwaway venvs under /tmp (JAX): one line per version. Not in CI (it downloads
# Keras); its output is in docs/compatibility.md.
compat: install
	$(BIN)/python tools/compat.py $(COMPAT_ARGS)

clean:
	rm -rf $(VENV) *.egg-info lerac-results site
