# The README's two commands. Both create the virtual environment .venv when it is missing.
#   make reproduce   every notebook at budget=full: regenerates figures/ (executed notebooks in executed/)
#   make test        unit tests, then every notebook at budget=smoke (papermill) re-run and checked by nbval
PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
EXECUTED  := executed

.PHONY: test unit notebooks reproduce venv clean-data

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Unit tests, then the notebooks at the smoke budget (figures go to executed/smoke-figures, not figures/).
test: $(STAMP)
	$(BIN)/python -m pytest -q tests
	$(MAKE) --no-print-directory notebooks BUDGET=smoke FIGURES=../$(EXECUTED)/smoke-figures
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax $(EXECUTED)

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

# Every notebook in order with papermill; the working directory is notebooks/, so paths such as
# ../data resolve to the repository root (and from executed/ too, where nbval re-runs them).
notebooks: $(STAMP)
	mkdir -p $(EXECUTED)
	set -e; for nb in $(NOTEBOOKS); do \
	  echo "== $$nb (budget $(BUDGET))"; \
	  $(BIN)/papermill --no-progress-bar $$nb $(EXECUTED)/$$(basename $$nb) -p budget $(BUDGET) -p figures_dir $(FIGURES) --cwd notebooks; \
	done

reproduce: $(STAMP)
	$(MAKE) --no-print-directory notebooks BUDGET=full FIGURES=../figures

clean-data:
	rm -rf data runs $(EXECUTED)
