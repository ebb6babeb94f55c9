# Switchboard: every target is thin; the work lives in Python modules and deploy/.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JS := tests/js
JS_STAMP := $(JS)/node_modules/.installed
# tests/browser drive Debian's chromium (Playwright cannot download a browser of its own here).
CHROMIUM := $(or $(shell command -v chromium 2>/dev/null),/usr/bin/chromium)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# The media service says spoken replies with Debian's espeak-ng (English and Mandarin voices).
ESPEAK := $(or $(shell command -v espeak-ng 2>/dev/null),/usr/bin/espeak-ng)

.PHONY: help install run test test-fast lint fmt lock clean bench eval eval-documents replay chaos

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@echo "==> Creating $(VENV) and installing pinned dependencies (requirements.lock)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# The real clients the protocol tests drive (the official phoenix npm client), pinned by lock.
$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	@echo "==> Installing the test clients in $(JS) (npm ci)"
	@npm ci --prefix $(JS) --no-audit --no-fund --loglevel=error
	@touch $(JS_STAMP)

$(CHROMIUM):
	@echo "==> chromium is missing: $(strip $(SUDO) apt-get update) && $(strip $(SUDO) apt-get install -y chromium)"
	@$(SUDO) apt-get update -qq
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

$(ESPEAK):
	@echo "==> espeak-ng is missing: $(strip $(SUDO) apt-get update) && $(strip $(SUDO) apt-get install -y espeak-ng)"
	@$(SUDO) apt-get update -qq
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null

install: $(STAMP) ## Create .venv and install the project (pinned)

# Replica counts and the NATS cluster are plain variables, e.g. `make run GATEWAYS=2 DIALOG=3
# NATS_NODES=3` (also SCHEDULE, TELEMETRY, MEDIA); make hands command-line variables to the recipe.
run: $(STAMP) $(ESPEAK) ## Start everything: embedded NATS + Postgres (unless NATS_URL/DATABASE_URL), all services
	@$(PY) -m shared.devstack

# Two workers (pytest-xdist), one test module each at a time: most of the suite waits on real
# services and sockets, so two runs side by side take about 60% of one; TEST_WORKERS=0 for one.
TEST_WORKERS ?= 2
test: $(STAMP) $(JS_STAMP) $(CHROMIUM) $(ESPEAK) ## Run the whole test suite (every tier: unit, component, integration, browser, fuzz, chaos)
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Unit + component (tests/unit, tests/component): no stack, no browser, about 30-40 s here; run it
# after every change, `make test` before a commit that touches a service's wiring or the wire.
test-fast: $(STAMP) $(ESPEAK) ## Unit + component tiers only (< 60 s): the loop while coding
	@$(PY) -m pytest tests/unit tests/component -q $(PYTEST_ARGS)

bench: $(STAMP) ## Run every benchmark in bench/ (results in bench/results/)
	@PYTHONPATH=$(CURDIR) $(PY) bench/run.py $(BENCH_ARGS)

# The full fault table (hundreds of users on every protocol, each fault for CHAOS_SECONDS) and the
# full fuzz runs (FUZZ_SOCKET_FRAMES per protocol, FUZZ_FRAMES per adapter, ATHERIS_RUNS
# coverage-guided inputs per adapter, FUZZ_SHAPE_EXAMPLES hostile HTTP requests, deep schemathesis).
chaos: $(STAMP) ## Faults under load (prints the lost/duplicated table) and the 100k-frame fuzz runs
	@CHAOS_USERS=$${CHAOS_USERS:-250} CHAOS_SECONDS=$${CHAOS_SECONDS:-30} CHAOS_PACE_S=$${CHAOS_PACE_S:-1} \
	  CHAOS_RESULTS=bench/results/chaos.json \
	  $(PY) -m pytest tests/chaos -s -p no:cacheprovider --timeout=1800 $(PYTEST_ARGS)
	@FUZZ_SOCKET_FRAMES=$${FUZZ_SOCKET_FRAMES:-100000} FUZZ_FRAMES=$${FUZZ_FRAMES:-20000} \
	  ATHERIS_RUNS=$${ATHERIS_RUNS:-100000} SCHEMATHESIS_EXAMPLES=$${SCHEMATHESIS_EXAMPLES:-100} \
	  FUZZ_SHAPE_EXAMPLES=$${FUZZ_SHAPE_EXAMPLES:-5000} \
	  $(PY) -m pytest tests/fuzz tests/integration/test_admin_api_contract.py -s -p no:cacheprovider \
	  --timeout=3600 $(PYTEST_ARGS)

eval: $(STAMP) ## FAQ/NLU quality: smoke set eval/, then public held-out sets vs a baseline (EVAL_ARGS="--faq F --intents I --heldout H --public DIR")
	@$(PY) -m services.dialog.evaluation.evaluate $(EVAL_ARGS)
	@$(MAKE) --no-print-directory eval-documents

eval-documents: $(STAMP) ## Answers from documents: source passage in the top 3 (DOCS_ARGS="--misses")
	@$(PY) -m services.dialog.evaluation.documents_evaluate $(DOCS_ARGS)

# SERVICE=all rebuilds each service into its own replay_<schema>; INTO names one service's target;
# PROJECT=<key> rebuilds one project; COMPARE=1 compares with the live tables (exit 1: differ).
SERVICE ?= all
REPLAY_SERVICES := $(if $(filter all,$(SERVICE)),dialog telemetry,$(SERVICE))
replay: $(STAMP) ## Rebuild projections from JetStream (SERVICE=dialog|telemetry|all, INTO=schema)
	@$(if $(and $(INTO),$(filter all,$(SERVICE))),echo "INTO needs one SERVICE (dialog or telemetry)" >&2; exit 2;) \
	for svc in $(REPLAY_SERVICES); do \
	  echo "==> replay $$svc"; \
	  $(PY) -m services.$$svc.replay $(if $(INTO),--into $(INTO)) $(if $(PROJECT),--project $(PROJECT)) \
	    $(if $(COMPARE),--compare) $(REPLAY_ARGS) || exit $$?; \
	done

lint: $(STAMP) ## ruff + mypy --strict
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy shared services tests

fmt: $(STAMP) ## Format and auto-fix
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

lock: ## Re-pin requirements.lock from pyproject.toml (fresh venv)
	@rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv && .lockvenv/bin/pip install --quiet -e ".[dev]"
	@(echo "# Pinned versions of every dependency (make lock regenerates this file)."; \
	  .lockvenv/bin/pip freeze --exclude-editable | grep -v '^-e' | sort -f) > requirements.lock
	@rm -rf .lockvenv

clean: ## Remove the virtualenv and caches (keeps .data/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
