# Two entry points that do all the set-up themselves on a fresh machine:
#   make demo   the main job on the embedded default data (no download, no GPU) and its result
#   make test   the test suite
# A CPU build of torch is installed first: a bare `torch` requirement resolves to a CUDA build.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.dsd-installed

.PHONY: demo test lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dsd spaces
	$(BIN)/dsd show RegNetX-400MF
	$(BIN)/dsd sample --space AnyNetXC --n 500 --flops 360M:400M --seed 0 -o samples.parquet

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check dsd tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/sample_speed.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
