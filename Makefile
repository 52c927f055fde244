# The README's two commands. Both create the virtual environment .venv when it is missing.
#   make reproduce   every notebook at budget=full: regenerates figures/ and the README's results (executed notebooks in executed/), prints its wall time
#   make test        ruff and lint-imports, the unit tests, then every notebook at budget=smoke (papermill) re-run and
#                    checked by nbval
#   make unit        ruff, lint-imports and the unit tests without those marked slow (a quick loop while editing)
#   make browser-check   every widget of the notebooks moved in a real JupyterLab (headless chromium), each output checked
PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed-stamp
# in number order, but 09_claims last: it gathers the claims of every other notebook (11_listening's too)
NOTEBOOKS := $(filter-out notebooks/09_claims.ipynb,$(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))) notebooks/09_claims.ipynb
EXECUTED  := executed

.PHONY: test unit lint notebooks reproduce ship pretrain reach scenes12k venv clean-data browser-check

venv: $(STAMP)

# uv installs the pinned set (it resolves and copies in parallel: 25 s from a warm cache where pip takes 4 min), compiled
# to bytecode at install: where PYTHONDONTWRITEBYTECODE is set, as on CI machines, every process (each notebook's kernel)
# would otherwise compile torch again, 10 s each
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv==0.13.9
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

# The style (ruff, rules in pyproject.toml) and the layering (lint-imports, docs/design.md); then the unit tests and the
# notebooks at the smoke budget side by side (the tests on one thread, so that the two do not oversubscribe the cores;
# they write only to their own temporary folders; their output is
# printed when both are done, from executed/unit-tests.log; figures go to executed/smoke-figures, not figures/); then
# nbval runs each notebook again (one per core: papermill has filled every cache they read) and checks the marked outputs.
test: lint $(STAMP)
	mkdir -p $(EXECUTED)
	$(BIN)/python -m compileall -q sslprop tests  # the package's own bytecode too, read by every kernel
	@echo "== unit tests in the background (executed/unit-tests.log)"; \
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q tests > $(EXECUTED)/unit-tests.log 2>&1 & unit=$$!; trap "kill $$unit 2>/dev/null" INT TERM; \
	$(MAKE) --no-print-directory notebooks BUDGET=smoke FIGURES=../$(EXECUTED)/smoke-figures; nb=$$?; \
	wait $$unit; tests=$$?; echo "== unit tests"; cat $(EXECUTED)/unit-tests.log; \
	test $$tests -eq 0 && test $$nb -eq 0
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax -n auto --dist loadfile $(EXECUTED)

unit: lint $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not slow" tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Every notebook that has a widget, opened in JupyterLab (127.0.0.1, a token, a free port) in headless chromium at the
# smoke budget: all cells run, then each control moved; its output must change and show a picture
# (tests/browser/check_widgets.py; needs Debian's chromium and chromium-driver). Report in executed/browser-check/.
BROWSER_STAMP := $(VENV)/.browser-stamp
$(BROWSER_STAMP): $(STAMP) pyproject.toml
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev,browser]'
	touch $(BROWSER_STAMP)

browser-check: $(BROWSER_STAMP)
	$(BIN)/python tests/browser/check_widgets.py --out $(EXECUTED)/browser-check --screenshots

# Every notebook in order with papermill; the working directory is notebooks/, so paths such as
# ../data resolve to the repository root (and from executed/ too, where nbval re-runs them).
notebooks: $(STAMP)
	mkdir -p $(EXECUTED)
	set -e; for nb in $(NOTEBOOKS); do \
	  echo "== $$nb (budget $(BUDGET)) at $$(date +%T)"; \
	  $(BIN)/papermill --no-progress-bar $$nb $(EXECUTED)/$$(basename $$nb) -p budget $(BUDGET) -p figures_dir $(FIGURES) --cwd notebooks; \
	done

# Then the README's results section is regenerated from figures/ (sslprop/lab/readme.py), with the wall time.
# figures/reproduce.txt says how much of data/ and runs/ was already there (a set or run that matches is reused, not
# rebuilt), so a time measured with caches is never read as the time of a fresh clone.
reproduce: $(STAMP)
	@start=$$(date +%s); \
	sets=$$(ls -d data/*/ 2>/dev/null | wc -l); runs=$$(ls -d runs/*/ 2>/dev/null | wc -l); \
	$(MAKE) --no-print-directory notebooks BUDGET=full FIGURES=../figures && \
	end=$$(date +%s) && secs=$$((end - start)) && \
	if [ $$sets -eq 0 ] && [ $$runs -eq 0 ]; then from="from a fresh clone (no data/, no runs/)"; \
	else from="with $$sets data sets and $$runs runs already in data/ and runs/ (reused where they match)"; fi && \
	echo "$$((secs / 60)) min $$((secs % 60)) s of wall time on $$(nproc) cores, $$from" > figures/reproduce.txt && \
	echo "make reproduce: $$(cat figures/reproduce.txt)" && \
	$(BIN)/python -m sslprop.lab.readme README.md figures

# The shipped checkpoint of `sslprop localize` (sslprop/weights/ours_scenes.pt + its card): the notebooks' main `ours`
# run at budget full, exported small (sslprop/lab/ship.py); run after make reproduce, which trains it.
ship: $(STAMP)
	$(BIN)/python -m sslprop.lab.ship

# The shipped pretrained small encoders of the cpu profile and their cards (sslprop/weights/): deterministic in the
# seed, about 3 minutes in all on 2 cores. Labels are used here only (sslprop/engine/pretrain.py).
pretrain: $(STAMP)
	$(BIN)/python -m sslprop pretrain visual --out sslprop/weights/small_visual.pt --seed 0 --no-progress
	$(BIN)/python -m sslprop pretrain audio --out sslprop/weights/small_audio.pt --seed 0 --no-progress

# How far the pretraining analog reaches: the visual encoder pretrained on the even classes only, then the
# self-supervised model trained and scored on scenes of the odd classes, beside the shipped encoder (which knows
# those classes) and training from scratch; about 15 minutes. Output in figures/reach.txt.
RD := data/scenes4k-odd
RR := runs/reach
reach: $(STAMP)
	mkdir -p $(RR)
	test -f $(RR)/visual_even.pt || $(BIN)/python -m sslprop pretrain visual --classes even --out $(RR)/visual_even.pt --seed 0 --no-progress
	test -f $(RD)/manifest.jsonl || $(BIN)/python -m sslprop synth --preset scenes --n 4000 --seed 2 --classes odd --out $(RD) --no-progress
	$(BIN)/python -m sslprop proposals $(RD) --no-progress
	$(BIN)/python -m sslprop train --data $(RD) --out $(RR)/shipped --epochs 5 --resume --no-progress
	$(BIN)/python -m sslprop train --data $(RD) --out $(RR)/even --epochs 5 --visual-weights $(RR)/visual_even.pt --resume --no-progress
	$(BIN)/python -m sslprop train --data $(RD) --out $(RR)/scratch --epochs 5 --from-scratch --resume --no-progress
	set -e; for r in shipped even scratch; do $(BIN)/python -m sslprop predict --run $(RR)/$$r --data $(RD) --out $(RR)/$$r/pred --no-progress; done
	set -e; { \
	  echo "== visual encoder pretrained on the even classes:"; grep heldout_accuracy $(RR)/visual_even.json; \
	  for r in shipped even scratch; do \
	    echo "== Ours, visual encoder $$r, top proposal"; $(BIN)/python -m sslprop eval --predictions $(RR)/$$r/pred/boxes.json --annotations $(RD) --protocol lvs; \
	    echo "== Ours, visual encoder $$r, Table 1"; $(BIN)/python -m sslprop eval --onscreen $(RR)/$$r/pred --annotations $(RD); \
	  done; \
	  for m in full-frame center random-box; do echo "== floor: $$m"; $(BIN)/python -m sslprop eval --method $$m --annotations $(RD) --protocol lvs; done; \
	} > figures/reach.txt
	cat figures/reach.txt

# The former headline `scenes` result, trained from scratch (encoders from random weights): 12,000 samples (9,000 training clips), 12 epochs, seed 0,
# the floors, Table 1 and the probe; about 20 minutes on 2 cores. Each step resumes or reuses what is there.
S12 := data/scenes12k
R12 := runs/scenes12k-ours
scenes12k: $(STAMP)
	test -f $(S12)/manifest.jsonl || $(BIN)/python -m sslprop synth --preset scenes --n 12000 --seed 2 --out $(S12)
	$(BIN)/python -m sslprop proposals $(S12)
	$(BIN)/python -m sslprop train --data $(S12) --out $(R12) --epochs 12 --seed 0 --from-scratch --resume
	$(BIN)/python -m sslprop predict --run $(R12) --data $(S12) --out $(R12)/pred
	set -e; { \
	  for p in boxes.json maps.npz; do echo "== Ours, $$p"; $(BIN)/python -m sslprop eval --predictions $(R12)/pred/$$p --annotations $(S12) --protocol lvs; done; \
	  for m in full-frame center random-box; do echo "== floor: $$m"; $(BIN)/python -m sslprop eval --method $$m --annotations $(S12) --protocol lvs; done; \
	  echo "== Table 1"; $(BIN)/python -m sslprop eval --onscreen $(R12)/pred --annotations $(S12); \
	  echo "== what was learned"; $(BIN)/python -m sslprop probe --run $(R12) --data $(S12) --no-progress; \
	} > figures/scenes12k.txt
	cat figures/scenes12k.txt

clean-data:
	rm -rf data runs $(EXECUTED)
