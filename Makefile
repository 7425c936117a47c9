# Workshop kit for real-time fraud detection with a feature store.
# `make workshop` and `make test` are the two commands of the README; both set up .venv on first use:
# `make workshop` (and `make lab`) with the runtime lock only, `make test` with the development lock too.
SHELL := /bin/bash
SUPPORTED_PYTHONS := 3.13 3.12 3.11
# PYTHON=/path/to/python picks the interpreter; otherwise the newest supported one on PATH that runs
# (a pyenv shim of a version that is not enabled exists on PATH but fails).
ifndef PYTHON
PYTHON := $(firstword $(foreach v,$(SUPPORTED_PYTHONS),$(shell python$(v) -c '' >/dev/null 2>&1 && echo python$(v))))
endif
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# no resolver (the locks are complete; tests/unit/test_lock.py runs `pip check`); -qq keeps warnings about
# the machine's package indexes out of the output, errors stay. The locks go through tools/install_lock.py:
# the same options, two pip processes at once, then the environment byte-compiled in two processes (pip's
# own compiling is serial): where PYTHONDONTWRITEBYTECODE is set, as on the CI machines, Python never writes
# the bytecode of what it imports, and every process compiled its libraries again (`make bench SCALE=tiny`:
# 3 min 8 s, against 1 min 42 s compiled).
PIP_INSTALL := $(PY) -m pip install -qq --disable-pip-version-check --no-deps --no-compile
BACKEND ?= local
SCALE ?= small
SEED ?= 42
STATE_DIR ?= .fraudkit
LAB_PORT ?= 8888
export FRAUDKIT_STATE_DIR := $(abspath $(STATE_DIR))

.PHONY: help setup setup-dev workshop test test-fast lint bench local-up local-down lab clean-state clean lock-env refresh-notebooks
.PHONY: package deploy destroy soak workshop-aws-local setup-engines

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with the runtime lock (Python 3.11-3.13; no-op when current)

setup-dev: $(DEV_STAMP) ## setup, plus the development lock (test, lint and infra tools)

$(STAMP): requirements.txt pyproject.toml tools/install_lock.py
	@test -n "$(PYTHON)" || { echo "setup: no python3.13, python3.12 or python3.11 on PATH: set PYTHON=/path/to/python3.X" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 13) else "setup: fraudkit supports Python 3.11-3.13; $(PYTHON) is %d.%d: set PYTHON=/path/to/python3.X" % v)'
	@if [ -x $(PY) ]; then \
		echo "setup: updating $(VENV) ($$($(PY) -c 'import platform; print("Python", platform.python_version())'))"; \
	else \
		echo "setup: creating $(VENV) with $(PYTHON) ($$($(PYTHON) -c 'import platform; print("Python", platform.python_version())'))"; \
		$(PYTHON) -m venv $(VENV); \
	fi
	@# a venv from before the CPU-only build has the CUDA `xgboost` in the same module directory
	@$(PY) -m pip uninstall -qq -y xgboost nvidia-nccl-cu12 2>/dev/null || true
	$(PY) tools/install_lock.py requirements.txt
	$(PIP_INSTALL) --no-build-isolation -e .
	@touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) tools/install_lock.py requirements-dev.txt
	@touch $@

# The Spark/Flink engines' own environment (requirements-engines.txt; fraudkit.features.engines_venv):
# PyFlink 1.20 supports Python 3.8-3.11, so it is built with python3.11 (ENGINES_PYTHON=... to choose).
ENGINES_VENV := .venv-engines
ENGINES_STAMP := $(ENGINES_VENV)/.installed
ENGINES_PYTHON ?= python3.11

setup-engines: $(ENGINES_STAMP) ## Create .venv-engines: pyspark 3.5, PyFlink 1.20 and a JDK 17 from PyPI (about 1.1 GB)

$(ENGINES_STAMP): requirements-engines.txt
	@$(ENGINES_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
		|| { echo "setup-engines: PyFlink 1.20 needs Python 3.11 and $(ENGINES_PYTHON) is not one that runs: set ENGINES_PYTHON=/path/to/python3.11" >&2; exit 1; }
	@rm -f $@
	@test -x $(ENGINES_VENV)/bin/python || { echo "setup-engines: creating $(ENGINES_VENV) with $(ENGINES_PYTHON)"; $(ENGINES_PYTHON) -m venv $(ENGINES_VENV); }
	$(ENGINES_VENV)/bin/python -m pip install -qq --disable-pip-version-check --no-deps -r requirements-engines.txt
	@touch $@

workshop: setup ## Run every notebook with papermill (BACKEND=local|aws, SCALE=tiny|small|full) into build/
	$(PY) -m fraudkit.workshop --backend $(BACKEND) --scale $(SCALE) --seed $(SEED) --out build

test: setup-dev lint ## Lint, set up .venv-engines, then unit, integration, reliability (small), engines, notebook (papermill + nbval) and infra tests
	@# the engines need Python 3.11 (PyFlink 1.20); without it tests/engines skip and say so, any other failure stops here
	@if $(ENGINES_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
		$(MAKE) --no-print-directory setup-engines; \
	else echo "test: no Python 3.11 ($(ENGINES_PYTHON)) for .venv-engines: the Spark/Flink tests will skip"; fi
	$(PY) -m pytest tests notebooks --nbval --nbval-sanitize-with tests/notebooks/sanitize.cfg

soak: setup-dev ## The reliability suite at full size: 20 kill/restart rounds, 1,000 fuzz examples per API
	FRAUDKIT_SOAK_ROUNDS=$${FRAUDKIT_SOAK_ROUNDS:-20} FRAUDKIT_FUZZ_EXAMPLES=$${FRAUDKIT_FUZZ_EXAMPLES:-1000} \
		$(PY) -m pytest tests/reliability -v

test-fast: setup-dev ## Unit tests only
	$(PY) -m pytest tests/unit -q

lint: setup-dev ## ruff and mypy on the library and the data generators
	$(VENV)/bin/ruff check lib data_gen tests bench
	$(VENV)/bin/mypy

bench: setup-dev ## Run the benchmarks (SCALE given: that scale, else full) into build/bench/report.{md,json} and plots
	$(PY) bench/run.py --scale $(if $(filter command line environment,$(origin SCALE)),$(SCALE),full) --out build/bench/report

local-up: setup ## Start the local emulator and Kafka broker in the background
	$(PY) -m fraudkit.services up --state-dir $(STATE_DIR)

local-down: setup ## Stop the local services
	$(PY) -m fraudkit.services down --state-dir $(STATE_DIR)

lab: setup ## Open JupyterLab on notebooks/ with the kit's kernel (LAB_PORT=8888); --allow-root only as root
	$(PY) -m fraudkit.lab --port $(LAB_PORT)

clean-state: ## Remove local state (emulator data, broker logs, generated data, models)
	rm -rf $(STATE_DIR)

clean: clean-state ## Remove local state, build outputs and the venv
	rm -rf build $(VENV) $(ENGINES_VENV)

refresh-notebooks: setup ## Re-execute the notebooks at the tiny scale and store their outputs (for nbval)
	$(PY) -m fraudkit.workshop --scale tiny --refresh-committed

lock-env: setup ## Rewrite environment.yml from the pins in requirements.txt (the runtime lock)
	$(PY) tools/sync_env.py

package: setup ## Build the Lambda zip of the streaming handlers into build/package/
	$(PY) -m fraudkit.aws.package

deploy: setup ## Package, then deploy the stacks through a printed change set (DRY_RUN=1: print only; PARAMS="Key=Value ...")
	$(PY) -m fraudkit.aws.deploy deploy $(if $(filter 1 yes true,$(DRY_RUN)),--dry-run) $(foreach p,$(PARAMS),--parameter $(p))

destroy: setup ## Delete what the notebooks created, then the stacks (asks first; YES=1 skips the question)
	$(PY) -m fraudkit.aws.deploy destroy $(if $(filter 1 yes true,$(YES)),--yes)

workshop-aws-local: setup ## Every notebook on BACKEND=aws against a local account (moto, emulator, broker); build/aws-local/calls.json
	$(PY) -m fraudkit.aws.local_account run --out build/aws-local --scale tiny
