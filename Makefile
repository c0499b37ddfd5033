# Qinhuangdao cluster simulator: developer entry points. `make` lists them.
# Everything runs in ./.venv (Python >= 3.12, found by tools/find_python.sh; override with
# PYTHON=/path/to/python3.12). Stamps in .venv/ make repeated calls cheap:
#   .venv/.installed  <- pyproject.toml          (pip install -e ".[test]")
#   .venv/.assets     <- solara front-end files   (tools/fetch_solara_assets.py, needs npm)
#                        + axe-core for the accessibility test (tools/fetch_axe.py, npm)
#   .venv/.fonts      <- Chinese font for figures (tools/fetch_fonts.py, needs npm: Noto Sans SC)
# (delete a stamp to force that step again, e.g. rm .venv/.assets)

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?=
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --no-input
HOST ?= 127.0.0.1
PORT ?= 8765
PYTEST_ARGS ?=
FAST_MARKERS := not slow and not browser and not cluster

RUN_CONFIG ?= configs/experiments/paper_remedies.toml
RUN_RESULTS ?= results/paper_remedies
RUN_CMD ?= $(PY) -m experiments run $(RUN_CONFIG)
EXPLAIN_CMD ?= $(PY) -m experiments explain configs/experiments/explain.toml --out $(RUN_RESULTS)
ANALYZE_CMD ?= $(PY) -m experiments analyze $(RUN_RESULTS)
# validation (configs/validation.toml) over 8 posterior draws x 2 seeds (~15 s on a quiet 2-core machine);
# exit 1 (a check fails) is shown in the report, not an error of `make run`; exit 2 (bad input) stops it
VALIDATE_CMD ?= $(PY) -m sim validate --posterior --draws 8 --seeds 2 --quiet --report $(RUN_RESULTS)/validation.md
APP_CMD ?= $(PY) -m app --host $(HOST) --port $(PORT)
BENCH_CMD ?= $(PY) benchmarks/run_all.py
CALIBRATE_CMD ?= $(PY) -m sim calibrate
# the whole study (docs/experiments.md, "The whole study"): STUDY_ARGS="--plan" lists the steps and an estimate,
# "--refit" re-fits and publishes the posterior first, "--only paper_remedies futures_lhs" runs those specs' steps
STUDY_ARGS ?=
STUDY_CMD ?= $(PY) -m experiments study $(STUDY_ARGS)

.PHONY: help venv assets fonts run test test-docs test-fast app bench calibrate study clean

help: ## list the targets
	@echo "make <target>   (variables: PYTHON=, HOST=$(HOST), PORT=$(PORT), PYTEST_ARGS=)"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 14

venv: $(VENV)/.installed ## create .venv and pip install -e ".[test]" (again only if pyproject.toml changed)

$(VENV)/.installed: pyproject.toml
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    py=$$(PYTHON="$(PYTHON)" sh tools/find_python.sh) || exit 1; \
	    echo "creating $(VENV) with $$py"; \
	    rm -rf $(VENV) && "$$py" -m venv $(VENV) || exit 1; \
	fi
	@echo "pip install -e '.[test]' into $(VENV) (quiet: errors only) ..."
	@$(PIP) install -qq -e ".[test]"
	@touch $@

assets: $(VENV)/.assets ## put Solara's front-end files (and axe-core, for tests) in .venv: no CDN needed

$(VENV)/.assets: $(VENV)/.installed tools/fetch_solara_assets.py tools/fetch_axe.py
	@$(PY) tools/fetch_solara_assets.py
	@$(PY) tools/fetch_axe.py
	@touch $@

fonts: $(VENV)/.fonts ## put a Chinese font (Noto Sans SC, from npm) in .venv for the figures

$(VENV)/.fonts: $(VENV)/.installed tools/fetch_fonts.py
	@$(PY) tools/fetch_fonts.py
	@touch $@

run: venv ## run the paper_remedies experiment, explain its packages by their channels, validate, then analyze
	@$(MAKE) --no-print-directory fonts || echo "make run: no Chinese font fetched (npm missing?); figures will show boxes for Chinese labels"
	$(RUN_CMD)
	$(EXPLAIN_CMD)
	$(VALIDATE_CMD) || [ $$? -eq 1 ]
	$(ANALYZE_CMD)

test: venv assets fonts ## all tests but the long documentation blocks (add options with PYTEST_ARGS=...)
	$(PY) -m pytest -m "not docs_long" $(PYTEST_ARGS)

test-docs: venv assets fonts ## the long documentation blocks (sweeps, fits, explain as the docs show them)
	$(PY) -m pytest -m docs_long $(PYTEST_ARGS)

test-fast: venv fonts ## tests without slow, browser and cluster ones
	$(PY) -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

app: venv assets fonts ## start the workshop page (HOST=, PORT=)
	$(APP_CMD)

bench: venv ## run the benchmarks
	$(BENCH_CMD)

calibrate: venv ## calibrate the model
	$(CALIBRATE_CMD)

study: venv ## the whole study: posterior re-check (or --refit), every spec of configs/experiments, results/index.md
	@$(MAKE) --no-print-directory fonts || echo "make study: no Chinese font fetched (npm missing?); figures will show boxes for Chinese labels"
	$(STUDY_CMD)

clean: ## remove .venv (with its asset cache) and caches; keeps results/
	rm -rf $(VENV) .pytest_cache build dist test-artifacts *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
