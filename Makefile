# Two commands do everything on a fresh machine: `make reproduce-figures` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint reproduce-figures bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .

# Random test order (pytest-randomly; the seed is printed first and last).
# Replay an order: .venv/bin/pytest -p randomly --randomly-seed=N; usual order: -p no:randomly
test: install lint
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -p randomly

# Regenerates results/figures/ and results/REPRODUCTION.md (about a minute on 2 cores).
reproduce-figures: install
	MPLBACKEND=Agg $(BIN)/moxco reproduce --out results

# Engine throughput table -> results/benchmarks.csv (a few minutes; not part of `make test`).
bench: install
	MPLBACKEND=Agg $(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
