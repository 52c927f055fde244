# `make test` and `make reproduce` create the virtual environment .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test reproduce venv clean-data

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

reproduce: $(STAMP)
	$(BIN)/python -m sslprop synth --preset scenes --n 200 --seed 1 --out data/scenes

clean-data:
	rm -rf data runs executed
