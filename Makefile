# Two entry points: `make demo` (the main job) and `make test` (everything CI checks, the docs build included).
# Each creates its virtual environments on first use.
PYTHON ?= python3
VENV := .venv
VENV3 := .venv-ds3
PY := $(VENV)/bin/python
PY3 := $(VENV3)/bin/python
VENVB := .venv-bench
PYB := $(VENVB)/bin/python
OUT ?= reports
# The real files when this checkout sits beside ../shared; otherwise the builder downloads.
DATA ?= $(wildcard ../shared/data/fashion-mnist)
DATA_ARG := $(if $(DATA),--data-dir $(DATA),)

.PHONY: demo test test-main test-ds3 lint docs bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,dask,docs]' 'datasets>=5,<6' 'torch==2.13.0'
	touch $@

# datasets 3.6 is the last release that runs loading scripts.
$(VENV3)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV3)
	$(PY3) -m pip install -q --upgrade pip
	$(PY3) -m pip install -q -e '.[dev]' 'datasets==3.6.0'
	touch $@

# The benchmarks compare with torchvision, whose wheels need their own torch build: a venv of its
# own, so the .venv that `make test` and CI use stays as it is.
$(VENVB)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENVB)
	$(PYB) -m pip install -q --upgrade pip
	$(PYB) -m pip install -q -e '.[dev]' 'datasets>=5,<6' 'torch==2.14.1' 'torchvision==0.29.1'
	touch $@

# The demo comparisons are listed once, in scripts/maintenance/update_results.py (DEMOS), which `make results` runs too.
demo: $(VENV)/.installed
	$(PY) scripts/maintenance/update_results.py --demo-only $(DATA_ARG) --out $(OUT)

# The comparison tables of README and docs/guide/comparison.md: the two demo comparisons into docs/results,
# the machine they ran on, and both pages' marked blocks rewritten from the JSON (tests/test_readme_results.py
# checks they agree).
.PHONY: results results-spread
results: $(VENV)/.installed
	$(PY) scripts/maintenance/update_results.py $(DATA_ARG)

# How far the figures move under other BLAS kernels / thread counts (docs/results/spread.md); then
# README and the docs quote it (the render step of `make results`, without re-running the comparisons).
results-spread: $(VENV)/.installed
	$(PY) scripts/maintenance/results_spread.py $(DATA_ARG)
	$(PY) scripts/maintenance/update_results.py --render-only

lint: $(VENV)/.installed
	$(PY) -m ruff check .

test-main: $(VENV)/.installed
	$(PY) -m pytest -m "not loading_script"

test-ds3: $(VENV3)/.installed
	$(PY3) -m pytest -p no:doctest -o addopts="-ra --strict-markers" -m "loading_script" tests

# The documentation site (Sphinx, pydata-sphinx-theme, numpydoc, MyST) in docs/_build/html; a warning
# (a broken reference, a stale API name, a bad docstring) fails the build. The API pages are generated
# into docs/api on each build.
docs: $(VENV)/.installed
	rm -rf docs/api
	$(PY) -m sphinx -b html -W --keep-going -q docs docs/_build/html

test: lint test-main test-ds3 docs

# A long fuzzing run of the IDX reader (the test suite runs a short one): make fuzz FUZZ_SECONDS=600
FUZZ_SECONDS ?= 300
.PHONY: fuzz
fuzz: $(VENV)/.installed
	$(PY) scripts/maintenance/fuzz_idx.py --seconds $(FUZZ_SECONDS)

# Mutation testing with mutmut (2 to 16 minutes a group on 2 cores; not part of `make test`): make mutation
# [MODULES="idx fetch"]. Scores and survivors: docs/mutation/.
MODULES ?=
.PHONY: mutation
$(VENV)/.mutation-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[mutation]'
	touch $@

mutation: $(VENV)/.mutation-installed
	PY=$(PY) scripts/maintenance/mutation.sh $(MODULES)

bench: $(VENVB)/.installed
	$(PYB) scripts/benchmarks/bench_prepare.py $(DATA_ARG)
	$(PYB) scripts/benchmarks/bench_splitters.py $(DATA_ARG)
	$(PYB) scripts/benchmarks/bench_read.py $(DATA_ARG)

clean:
	rm -rf $(VENV) $(VENV3) $(VENVB) .pytest_cache docs/_build docs/api
