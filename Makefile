# One command per task; `make help` lists them. Everything runs from .venv, created on first use.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
CHROMIUM := /usr/bin/chromium
# The census workbook test recalculates the exported workbook with LibreOffice headless.
SOFFICE := /usr/bin/soffice
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi:app

.PHONY: help install run test test-fast coverage screenshots lint format translations extract-messages bench

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# axe-core for the browser tests' accessibility checks and eslint for make lint, pinned in package.json /
# package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed translations node_modules/.installed ## create .venv and install the pinned dependencies (Python, and axe-core from npm)

translations: $(BIN)/.installed ## compile the message catalogues (Chinese) used by the UI and API
	@$(BIN)/pybabel compile --use-fuzzy -d app/translations 2>&1 | grep -v "^compiling" || true

extract-messages: $(BIN)/.installed ## refresh app/translations after changing UI or API strings
	$(BIN)/pybabel extract -F babel.cfg -k _l -o app/translations/messages.pot .
	$(BIN)/pybabel update -N -i app/translations/messages.pot -d app/translations

# The key signs every session cookie: readable by its owner only (as is instance/, the SQLite database's
# folder), made private again on every run should an older version have left it readable.
instance/secret_key: FORCE
	@umask 077; mkdir -p instance; chmod 700 instance; \
	[ -s $@ ] || $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))' > $@; \
	chmod 600 $@

FORCE:

run: install instance/secret_key ## set up the database (SQLite by default); serve on HOST:PORT with the scheduler beside it
	$(BIN)/flask db upgrade
	$(BIN)/flask district load
	$(BIN)/flask species sync
	$(BIN)/flask demo seed
	@export SECRET_KEY="$${SECRET_KEY:-$$(cat instance/secret_key)}" IAS_BASE_URL="$${IAS_BASE_URL:-http://$(HOST):$(PORT)}"; \
	$(BIN)/flask scheduler run & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null; wait $$scheduler 2>/dev/null' EXIT INT TERM; \
	echo "scheduler running (pid $$scheduler): reminder sweeps every $${IAS_SWEEP_SECONDS:-60}s"; \
	$(BIN)/flask run --host $(HOST) --port $(PORT)

$(CHROMIUM):
	@echo "Installing Debian's chromium (and CJK fonts for the screenshots) for the browser tests"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk

$(SOFFICE):
	@echo "Installing Debian's libreoffice-calc-nogui for the census workbook recalculation test"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui

# Coverage of app/, with the floor of pyproject.toml's [tool.coverage.report] fail_under: each pass must reach it.
# The tests FAST leaves out run untraced (UNTRACED in tests/conftest.py): the floor is the fast suite's figure.
COVER := --cov --cov-report=
# pytest-xdist workers a pass (docs/testing.md): with two a pass, the SQLite and PostgreSQL passes of make test
# keep both cores busy until the longer one ends. JOBS=0 runs in one process (pdb, -s output in order).
JOBS ?= 2
XDIST := $(if $(filter 0,$(JOBS)),,-n $(JOBS) --dist worksteal)
# pytest, with the compiled modules kept between runs in .pycache/ (gitignored) even where the environment sets
# PYTHONDONTWRITEBYTECODE (this machine's does): else every process (each pass's controller and workers)
# compiles app/ again and assertion-rewrites the tests and the packages of the pytest plugins (schemathesis,
# hypothesis, faker, anyio, xdist: some 520 modules) at every start, 28 CPU-s a pass instead of 12
# (docs/testing.md). A folder of the checkout's own: nothing is written into .venv.
PYTEST := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/.pycache $(BIN)/pytest

test: install $(CHROMIUM) $(SOFFICE) ## the whole suite on SQLite (with the coverage floor), and on PostgreSQL beside it when TEST_DATABASE_URL is set
	@if [ -z "$$TEST_DATABASE_URL" ]; then $(PYTEST) $(XDIST) $(COVER); exit; fi; \
	echo "== SQLite and PostgreSQL side by side ($(JOBS) workers each); logs in .test-logs/"; \
	# Coverage is traced on the SQLite pass only: the same code runs on both, and tracing costs time. \
	mkdir -p .test-logs; \
	env -u TEST_DATABASE_URL COVERAGE_FILE=.test-logs/coverage.sqlite $(PYTEST) -p no:cacheprovider $(XDIST) \
		$(COVER) > .test-logs/sqlite.log 2>&1 & sqlite=$$!; \
	$(PYTEST) -p no:cacheprovider $(XDIST) > .test-logs/postgresql.log 2>&1 & postgresql=$$!; \
	wait $$sqlite; sqlite_rc=$$?; wait $$postgresql; postgresql_rc=$$?; \
	echo "== SQLite"; tail -n 25 .test-logs/sqlite.log; echo "== PostgreSQL"; tail -n 25 .test-logs/postgresql.log; \
	[ $$sqlite_rc -eq 0 ] && [ $$postgresql_rc -eq 0 ]

FAST := -p no:cacheprovider --ignore=tests/browser --ignore=tests/api/test_fuzz.py \
	--ignore=tests/exports/test_import_limits.py

test-fast: install ## the inner loop: SQLite only, no browser, no fuzzing, no memory-bound workbook runs, 2 workers (~2 min; docs/testing.md)
	$(PYTEST) $(FAST) $(XDIST) $(ARGS)

coverage: install ## the fast suite under coverage: what app/ lines it misses, checked against the floor
	$(PYTEST) $(FAST) $(XDIST) --cov --cov-report=term --cov-report=html:test-artifacts/coverage $(ARGS)

# The tests write their screenshots to test-artifacts/screenshots/ (gitignored); this refreshes the committed
# ones: the browser tests that take screenshots, on SQLite, writing into docs/screenshots/.
SCREENSHOT_TESTS = $(shell grep -l '\.screenshot' tests/browser/test_*.py)

screenshots: install $(CHROMIUM) ## refresh docs/screenshots/ (the phone-size pages the README shows) from the browser tests
	env -u TEST_DATABASE_URL IAS_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PYTEST) -p no:cacheprovider -q $(SCREENSHOT_TESTS)

bench: install ## docs/contract.md §5 budgets vs bare baselines, ~4 min a database (BENCH_DATABASE_URL: PostgreSQL too); bench/results/
	$(BIN)/python bench/run.py $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

lint: install ## ruff (lint and format check), mypy, the import direction (lint-imports, .importlinter), eslint
	$(BIN)/ruff check app tests bench migrations/env.py
	$(BIN)/ruff format --check app tests bench migrations/env.py
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo
	node_modules/.bin/eslint app/static/js app/templates/offline/sw.js eslint.config.js

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix app tests bench migrations/env.py
	$(BIN)/ruff format app tests bench migrations/env.py
