# Kaopu: `make run` for the demo, `make test` for the suite. Everything installs into .venv.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo $$p; break; fi; done)
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/kaopu
# The live half of the PostgreSQL pass (tests/integration) runs beside the rest on a database of
# its own; set it yourself when PG_TEST_URL ends in ?options.
PG_LIVE_TEST_URL ?= $(PG_TEST_URL)_live
# The machine's Redis for the Celery tests; the SQLite pass uses database 9, PostgreSQL's 10.
REDIS_TEST_URL ?= redis://127.0.0.1:6379
STAMP := $(VENV)/.installed

.PHONY: install run test test-sqlite test-postgres test-sqlite-rest test-sqlite-live \
	test-postgres-rest test-postgres-live test-sqlite-e2e lint format messages makemessages bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Kaopu needs Python 3.12 or newer (python3.12/python3.13 on PATH)."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e . --group dev
	@touch $(STAMP)

install: $(STAMP)

messages: install
	@$(PY) manage.py compile_translations >/dev/null

# Refresh locale/zh_Hans/LC_MESSAGES/django.po from the code (needs GNU gettext's xgettext).
makemessages: install
	$(PY) manage.py makemessages --locale zh_Hans --no-obsolete --no-location --ignore '.venv/*' --ignore 'bench/*'

run: messages
	@mkdir -p var/broker/queue var/broker/processed var/broker/control
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 $(PY) manage.py seed_demo
	DJANGO_DEBUG=1 $(PY) manage.py coach_run
	@echo "Kaopu on http://127.0.0.1:8000 — demo logins in README.md (password kaopu-demo-2026). Ctrl-C stops all."
	DJANGO_DEBUG=1 PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/honcho start -f Procfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# `make test`: lint and the two database passes side by side, each pass in two processes (three
# on SQLite). The "live" half (tests/integration: Celery worker and beat, SMTP servers, Redis, on
# production timings) and, in the SQLite pass, the browser tests of tests/e2e spend most of their
# minutes waiting on those timers and on the browser, so the rest of the pass runs on the CPU
# meanwhile instead of after them. Each process's output is buffered and printed whole when it ends. The
# passes' Celery tests get a Redis database number each, and PostgreSQL's live half a test
# database of its own (PG_LIVE_TEST_URL).
test: messages
	$(MAKE) --no-print-directory -j6 --output-sync=target lint test-sqlite-e2e \
		test-sqlite-live test-postgres-live test-sqlite-rest test-postgres-rest

PYTEST := $(VENV)/bin/pytest
SQLITE_LIVE := tests/integration
# The browser tests wait on the browser as the live half waits on its timers: a process of their
# own, so the two waits overlap (they use no Redis; each process has its own SQLite file).
SQLITE_E2E := tests/e2e
POSTGRES_LIVE := tests/integration
# Succeeds when the PostgreSQL server behind PG_TEST_URL answers.
PG_UP := $(PY) -c "import psycopg; psycopg.connect('$(PG_TEST_URL)'.rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()" 2>/dev/null
PG_MISSING := if [ -n "$$CI" ]; then echo "PostgreSQL is not reachable at $(PG_TEST_URL)"; exit 1; \
	else echo "PostgreSQL not reachable at $(PG_TEST_URL): skipped the PostgreSQL run (set PG_TEST_URL)."; fi

test-sqlite: messages
	KAOPU_TEST_REDIS_URL=$(REDIS_TEST_URL)/9 $(PYTEST)

test-sqlite-rest: messages
	$(PYTEST) $(addprefix --ignore=,$(SQLITE_LIVE) $(SQLITE_E2E))

test-sqlite-live: messages
	KAOPU_TEST_REDIS_URL=$(REDIS_TEST_URL)/9 $(PYTEST) $(SQLITE_LIVE)

test-sqlite-e2e: messages
	$(PYTEST) $(SQLITE_E2E)

# PostgreSQL: CI must have it; on a laptop without one the run says so and skips it.
# The browser tests run once, in the SQLite pass: what they check does not depend on the
# database engine, and they are the slowest part of the suite.
test-postgres: messages
	@if $(PG_UP); then \
		DATABASE_URL=$(PG_TEST_URL) KAOPU_TEST_REDIS_URL=$(REDIS_TEST_URL)/10 $(PYTEST) -m "not e2e"; \
	else $(PG_MISSING); fi

test-postgres-rest: messages
	@if $(PG_UP); then \
		DATABASE_URL=$(PG_TEST_URL) $(PYTEST) -m "not e2e" $(addprefix --ignore=,$(POSTGRES_LIVE)); \
	else $(PG_MISSING); fi

test-postgres-live: messages
	@if $(PG_UP); then \
		DATABASE_URL=$(PG_LIVE_TEST_URL) KAOPU_TEST_REDIS_URL=$(REDIS_TEST_URL)/10 \
			$(PYTEST) -m "not e2e" $(POSTGRES_LIVE); \
	else $(PG_MISSING); fi

bench: messages
	$(PY) bench/run.py
	$(PY) bench/simulate.py --summary

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3 .pytest_cache .mypy_cache .ruff_cache
