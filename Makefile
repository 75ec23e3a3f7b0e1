# Needle Registry: `make run` to try it, `make test` to check it. `make help` lists the rest.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := registry:create_app
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
CHROMIUM ?= /usr/bin/chromium
# make bench: its own PostgreSQL database (created if missing; every benchmark drops its tables)
BENCH_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/bench_registry
# e.g. BENCH_ARGS=--quick (small sizes, a few minutes), --only pages,import, --databases sqlite
BENCH_ARGS ?=

.PHONY: help run setup-db test test-pg test-browser test-load chromium lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup-db: $(VENV)/.installed ## migrate, load the rules, create demo accounts and sample providers
	$(BIN)/flask db upgrade
	$(BIN)/flask rules import data/state_rules.csv
	$(BIN)/flask demo accounts
	$(BIN)/flask demo providers

run: setup-db ## install, migrate, load rules, serve on http://127.0.0.1:5000 (SQLite) with the alert scheduler beside it
	@echo "Alert scheduler in the background; mail is written to instance/mail (MAIL_BACKEND=file), nothing is sent."
	$(BIN)/flask alerts scheduler & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask run --host 127.0.0.1 --port 5000

chromium: ## make sure Debian's chromium is there for the browser tests
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

test: $(VENV)/.installed-test chromium ## every test (unit, integration, browser, and the load test on its own PostgreSQL) on SQLite
	$(BIN)/pytest

test-pg: $(VENV)/.installed-test ## the suite without the browser and load tests on PostgreSQL (PG_URL)
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -m "not browser and not load"

test-load: $(VENV)/.installed-test ## only the load test: locust against gunicorn on a private PostgreSQL (initdb), restarted mid-run; prints the figures
	$(BIN)/pytest -m load -s tests/test_load.py

test-browser: $(VENV)/.installed-test chromium ## only the browser tests (DATABASE_URL decides the database)
	$(BIN)/pytest -m browser

bench: $(VENV)/.installed-test chromium ## every benchmark on SQLite, then PostgreSQL (BENCH_PG_URL; drops its tables): prints one table and writes it to docs/performance.md
	$(BIN)/python bench/run_all.py --database-url $(BENCH_PG_URL) $(BENCH_ARGS)

lint: $(VENV)/.installed-test ## ruff: pyflakes, import order, bugbear
	$(BIN)/ruff check registry tests migrations bench

clean: ## remove the virtualenv and caches (keeps instance/, the local database)
	rm -rf $(VENV) .pytest_cache
