# effconv: `make test` and `make book` each set themselves up on a fresh machine (idempotent `make setup`).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.effconv-installed
PROFILE ?= best
RUN_MISSING ?= False
RUN_FLAG := $(if $(filter True true 1 yes,$(RUN_MISSING)),--run-missing,)

.PHONY: setup test test-slow book chapter browser-deps check-book clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# the inner loop: every test but the few that train for real across processes (those run in test-slow)
test: setup
	$(PY) -m pytest -m "not slow and not book"

# the slow tests: real multi-process training (DDP, the dry time-limited job, requeue); CI runs these too
test-slow: setup
	$(PY) -m pytest -m "slow and not book"

book: setup
	$(VENV)/bin/effconv book --profile $(PROFILE) $(RUN_FLAG)

# One chapter (and the overview ledger) re-executed; the HTML is rebuilt when every page exists.
chapter: setup
	@test -n "$(CH)" || { echo "usage: make chapter CH=<splitting|shufflenet|acnet|dac|versatile> PROFILE=<best|cpu|full|smoke> [RUN_MISSING=True]"; exit 2; }
	$(VENV)/bin/effconv book --only $(CH) overview --profile $(PROFILE) $(RUN_FLAG)

# Debian's Chromium and ChromeDriver for the rendered-book check (needs root and the Debian registry).
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Open every built page in headless Chromium and check titles, tables, figures and error output.
check-book: setup browser-deps
	$(PY) -m pytest -m book tests

clean:
	rm -rf book/_build book/_generated
