# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := registry_site.settings

.PHONY: install test-provider run serve test lint fmt demo migrate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The OpenID provider the sign-in tests start (tests/oidc_provider: oidc-provider on Node.js), installed
# from its committed lock file; npm ci leaves node_modules/.package-lock.json behind as the stamp.
PROVIDER := tests/oidc_provider
$(PROVIDER)/node_modules/.package-lock.json: $(PROVIDER)/package-lock.json
	@command -v npm >/dev/null || { echo "make test: the sign-in tests need Node.js and npm (apt-get install nodejs npm)." >&2; exit 2; }
	npm ci --prefix $(PROVIDER) --no-audit --no-fund

test-provider: $(PROVIDER)/node_modules/.package-lock.json

migrate: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput

demo: migrate
	DJANGO_DEBUG=1 $(BIN)/python manage.py load_demo

# Development server with SQLite and artifacts under var/ (git-ignored), demo data loaded, and the
# webhook delivery worker beside it (it also prints the notification e-mails: console backend): the worker is stopped (SIGTERM, it finishes its send) when the
# server exits, including on Ctrl-C.
run: demo
	DJANGO_DEBUG=1 REGISTRY_EMAIL_BACKEND=console $(BIN)/python manage.py deliver_webhooks & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Production mode on one machine: migrate, collectstatic, gunicorn and the webhook worker; Ctrl-C stops
# them all. Configured by environment variables only (docs/operations.md); DJANGO_SECRET_KEY is required.
serve: install
	@test -n "$$DJANGO_SECRET_KEY" || { echo "make serve: set DJANGO_SECRET_KEY first (the settings refuse to start without it; see docs/operations.md)." >&2; exit 2; }
	$(BIN)/python manage.py serve

# The whole suite, spread over one worker process per core (pytest-xdist): each worker has its own test
# database, live servers, S3 server, OpenID provider and Chromium on ports the kernel picks. Tests go to
# whichever worker is free, except the folders that share costly servers (XDIST_GROUPS in tests/conftest.py),
# which run whole on one worker. PYTEST_WORKERS=0 runs it in this process; PYTEST_ARGS adds options
# (CI: --durations). Set DATABASE_URL=postgres://... to run it on PostgreSQL.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
# schemathesis gives every operation's case the same test id, and xdist runs only the first test of an id:
# this module runs in a pass of its own, in one process.
ONE_ID_TESTS := tests/trust/test_schema_fuzz.py
test: install test-provider
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --ignore=$(ONE_ID_TESTS) $(PYTEST_ARGS)
	$(BIN)/python -m pytest $(ONE_ID_TESTS) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache $(PROVIDER)/node_modules
