# Workshop kit for real-time fraud detection with a feature store.
# `make workshop` and `make test` are the two commands of the README; both set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BACKEND ?= local
SCALE ?= small
SEED ?= 42
STATE_DIR ?= .fraudkit
export FRAUDKIT_STATE_DIR := $(abspath $(STATE_DIR))

.PHONY: help setup workshop test test-fast lint bench local-up local-down lab clean-state clean lock-env refresh-notebooks
.PHONY: package deploy destroy soak

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv and install the pinned dependencies (no-op when current)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v=sys.version_info[:2]; sys.exit(0 if v==(3,11) else "fraudkit needs Python 3.11 (found %d.%d): set PYTHON=/path/to/python3.11" % v)'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

workshop: setup ## Run every notebook with papermill (BACKEND=local|aws, SCALE=tiny|small|full) into build/
	$(PY) -m fraudkit.workshop --backend $(BACKEND) --scale $(SCALE) --seed $(SEED) --out build

test: setup lint ## Lint, then unit, integration, reliability (small), notebook (papermill + nbval) and infra tests
	$(PY) -m pytest tests notebooks --nbval --nbval-sanitize-with tests/notebooks/sanitize.cfg

soak: setup ## The reliability suite at full size: 20 kill/restart rounds, 1,000 fuzz examples per API
	FRAUDKIT_SOAK_ROUNDS=$${FRAUDKIT_SOAK_ROUNDS:-20} FRAUDKIT_FUZZ_EXAMPLES=$${FRAUDKIT_FUZZ_EXAMPLES:-1000} \
		$(PY) -m pytest tests/reliability -v

test-fast: setup ## Unit tests only
	$(PY) -m pytest tests/unit -q

lint: setup ## ruff and mypy on the library and the data generators
	$(VENV)/bin/ruff check lib data_gen tests bench
	$(VENV)/bin/mypy

bench: setup ## Run the benchmarks and write bench/report.md (and .json)
	$(PY) bench/run.py --out bench/report

local-up: setup ## Start the local emulator and Kafka broker in the background
	$(PY) -m fraudkit.services up --state-dir $(STATE_DIR)

local-down: setup ## Stop the local services
	$(PY) -m fraudkit.services down --state-dir $(STATE_DIR)

lab: setup ## Open JupyterLab with the kit's kernel
	$(PY) -m ipykernel install --user --name fraudkit --display-name "Python (fraudkit)"
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --notebook-dir notebooks

clean-state: ## Remove local state (emulator data, broker logs, generated data, models)
	rm -rf $(STATE_DIR)

clean: clean-state ## Remove local state, build outputs and the venv
	rm -rf build $(VENV)

refresh-notebooks: setup ## Re-execute the notebooks at the tiny scale and store their outputs (for nbval)
	$(PY) -m fraudkit.workshop --scale tiny --refresh-committed

lock-env: setup ## Rewrite environment.yml from the pins in requirements.txt
	$(PY) tools/sync_env.py

package: setup ## Build the Lambda zip of the streaming handlers into build/package/
	$(PY) -m fraudkit.aws.package

deploy: setup ## Package, then deploy the stacks of cloudformation/ through a printed change set (DRY_RUN=1: print only)
	$(PY) -m fraudkit.aws.deploy deploy $(if $(filter 1 yes true,$(DRY_RUN)),--dry-run)

destroy: setup ## Delete what the notebooks created, then the stacks (asks first; YES=1 skips the question)
	$(PY) -m fraudkit.aws.deploy destroy $(if $(filter 1 yes true,$(YES)),--yes)
