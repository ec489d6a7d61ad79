# rwalk's one entry point: `make run` lists the current directory, `make test` runs
# every check.  Each target first builds the virtual environment it needs (.venv, from
# pyproject.toml) so that both work on a fresh clone with nothing installed by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: install run test check pytest test-pythons bench-walk bench-awalk bench-cli bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: list the current directory as a tree (pass options with ARGS="-a -L 2")
run: $(STAMP)
	$(BIN)/rwalk $(ARGS)

## test: lint, format check, type check and the whole test suite
test: check pytest

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

## test-pythons: the test suite on every CPython 3.10-3.13 that pyenv has here
test-pythons:
	bash .ci/test-pythons

## docs: build the documentation site into site/, failing on any warning
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet

## bench-walk: rwalk.walk against os.walk on the wide, deep and realistic trees, with
## Python 3.13 (whose os.walk is the reference) when pyenv has it, else the venv's Python
PYTHON313 := $(lastword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13.*/bin/python))
bench-walk: $(STAMP)
	PYTHONPATH=src $(or $(PYTHON313),$(BIN)/python) benchmarks/walk_bench.py $(ARGS)

## bench-awalk: rwalk.awalk against os.walk: warm tree, +1 ms per scandir, loop gaps
bench-awalk: $(STAMP)
	$(BIN)/python benchmarks/awalk_bench.py $(ARGS)

## bench: the full comparison (rwalk against the stdlib, find, fd, tree), with Python
## 3.13 when pyenv has it (its os.walk and pathlib.Path.walk handle the deep tree), in
## .venv-bench with the optional rows (scandir-rs) and the chart (matplotlib); writes
## benchmarks/results/compare.json and compare.png
BENCH_PYTHON := $(or $(PYTHON313),$(PYTHON))
.venv-bench/.installed: pyproject.toml
	$(BENCH_PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

bench: .venv-bench/.installed
	mkdir -p benchmarks/results
	.venv-bench/bin/python benchmarks/compare.py --json benchmarks/results/compare.json \
		--chart benchmarks/results/compare.png $(ARGS)

## bench-cli: the rwalk command against GNU tree (whole processes) and its startup; more
## option sets with ARGS="--options=-s '--options=--async -L 2'"
bench-cli: $(STAMP)
	$(BIN)/python benchmarks/cli_bench.py $(ARGS)

clean:
	rm -rf $(VENV) .venv-* build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis
