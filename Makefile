# xnorflow: every target runs inside .venv, created by `make setup`.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.xnorflow-installed
MODEL   ?= tiny-bireal
DATA    ?= digits
BOARD   ?= Pynq-Z2
OUT     ?= runs/$(MODEL)
# `make bitfile` builds CKPT or MODEL: a registry or family name (reactnet, bireal, real2bin, hyperbnn: untrained
# weights), a trained model.pt (into build/<its run folder>-BOARD) or a QONNX .onnx (build/<its name>-BOARD)
CKPT    ?=
SOURCE  := $(or $(CKPT),$(MODEL))
NAME    := $(if $(filter %.pt %.pth,$(SOURCE)),$(notdir $(patsubst %/,%,$(dir $(SOURCE)))),$(if \
           $(filter %.onnx,$(SOURCE)),$(basename $(notdir $(SOURCE))),$(SOURCE)))
# TORCH=cpu (or cu128, ...): torch wheels from that build's PyTorch index; empty: whatever pip finds first
# (here a local CPU wheel; from PyPI on x86_64 Linux that is the CUDA build).
TORCH   ?=
TORCH_INDEX := $(if $(TORCH),--extra-index-url https://download.pytorch.org/whl/$(TORCH))

.PHONY: setup demo test test-fast test-all bench bitfile clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11 (e.g. apt-get install python3.11 python3.11-venv)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_INDEX) -r requirements.lock
	$(BIN)/pip install -q --no-deps finn-plus==1.6.1
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(BIN)/xnorflow demo --model $(MODEL) --data $(DATA) --out $(OUT) $(if $(SYNTH),--synth)

# -n auto: one pytest worker per core; --dist loadfile keeps a file's tests (and its shared builds) on one worker
XDIST   := -n auto --dist loadfile

test: setup
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow" tests

test-fast: setup
	$(BIN)/python -m pytest -q $(XDIST) -m "fast and not slow" tests

test-all: setup
	$(BIN)/python -m pytest -q $(XDIST) tests

bench: setup
	$(BIN)/python benchmarks/run_all.py

bitfile: setup
	$(BIN)/xnorflow build --model $(SOURCE) --board $(BOARD) --target bitfile --out build/$(NAME)-$(BOARD)

clean:
	rm -rf build runs .pytest_cache
