# Everyday commands; each is a plain line you can also type yourself.
PYTHON ?= .venv/bin/python
PYTEST ?= .venv/bin/pytest
RUFF ?= .venv/bin/ruff
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install test test-fast test-pg test-browser lint format i18n run

install:  ## a virtualenv with the test and browser extras
	python3 -m venv .venv
	.venv/bin/pip install -e '.[test,browser]'

test:  ## the whole suite on SQLite, as CI runs it
	$(PYTEST)

test-fast:  ## everything but the tests that start servers, processes or browsers
	$(PYTEST) -m "not slow"

test-pg:  ## the same suite on PostgreSQL (PG_URL names an empty database it may wipe)
	AGORA_TEST_DATABASE_URL=$(PG_URL) $(PYTEST)

test-browser:  ## journeys and accessibility in Debian's chromium
	$(PYTEST) browser_tests

lint:  ## what pre-commit checks: lint rules and formatting, changing nothing
	$(RUFF) check .
	$(RUFF) format --check .

format:  ## apply the fixes and the formatting
	$(RUFF) check --fix .
	$(RUFF) format .

i18n:  ## extract the messages, merge them into the catalogs, compile
	.venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o agora/translations/messages.pot --no-location --sort-output .
	.venv/bin/pybabel update -i agora/translations/messages.pot -d agora/translations
	.venv/bin/pybabel compile -d agora/translations

run:  ## a reloading development server on http://127.0.0.1:5000 (instance: $$AGORA_INSTANCE or ./instance; jobs run as each request ends)
	.venv/bin/agora init
	AGORA_JOBS_RUN_INLINE=true .venv/bin/flask --app agora run --debug
