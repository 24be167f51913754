# Two entry points that do all the set-up themselves on a fresh machine:
#   make demo   the main job on the embedded default data (no download, no GPU) and its result
#   make test   the test suite
# A CPU build of torch is installed first: a bare `torch` requirement resolves to a CUDA build.
# On a CUDA machine, `make gpu` (CUDA=cu126|cu128|cu130, default cu128) installs a CUDA build of
# torch from the PyTorch wheel index instead, then dsd, then runs `dsd doctor` to show what it got.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
TORCH ?= torch==$(TORCH_VERSION)
CUDA ?= cu128
TORCH_INDEX ?= https://download.pytorch.org/whl/$(CUDA)
STAMP := $(VENV)/.dsd-installed
# dsd itself, editable: the plain layout (package-dir "" = ".") makes setuptools put the checkout on
# sys.path with one .pth line, and print no warning block
INSTALL_DSD := -m pip install -q -e ".[dev]"

.PHONY: demo test lint bench venv gpu clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python $(INSTALL_DSD)
	touch $(STAMP)

# A CUDA build of torch (pinned with its local version label, e.g. torch==2.13.0+cu128, so that it
# replaces a CPU build already in the venv), then dsd itself, then a check of what was installed.
gpu:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install "torch==$(TORCH_VERSION)+$(CUDA)" --index-url $(TORCH_INDEX)
	$(BIN)/python $(INSTALL_DSD)
	touch $(STAMP)
	$(BIN)/dsd doctor

# The main job: sample AnyNetXA, XC and RegNetX at a tiny regime, train every model on the embedded
# digits data, collect runs/demo/results.parquet and write runs/demo/report.html. Run again: resumes.
demo: $(STAMP)
	$(BIN)/dsd run experiments/digits_anynetx.yaml -o runs/demo
	$(BIN)/dsd status runs/demo
	$(BIN)/dsd edf runs/demo/results.parquet -o runs/demo/edf.png
	@echo "results: runs/demo/results.parquet  report: runs/demo/report.html  EDFs: runs/demo/edf.png"
	@echo
	@echo "What the paper found: sharing b and g across stages (AnyNetXC) loses nothing against the"
	@echo "unconstrained AnyNetXA (DDS 3.2); RegNetX, quantized linear widths, is clearly better (DDS 3.3)."
	@echo "What this run found (two-sample KS test at dsd's significance level, with its power):"
	@$(BIN)/dsd compare runs/demo/results.parquet --pair AnyNetXA:AnyNetXC=same --pair AnyNetXA:RegNetX=differ

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check dsd tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/sample_speed.py
	$(BIN)/python benchmarks/analysis_speed.py
	$(BIN)/python benchmarks/refine_speed.py
	$(BIN)/python benchmarks/refine_rates.py
	$(BIN)/python benchmarks/sweep_overhead.py
	$(BIN)/python benchmarks/train_speed.py --threads 1
	$(BIN)/python benchmarks/model_timing.py --threads 1

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
