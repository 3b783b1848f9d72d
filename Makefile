# The product's interface: `make run` (everything, on http://127.0.0.1:$(PORT)) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# A newcomer's machine serves plain http on localhost: run in development mode unless told otherwise.
export DEBUG ?= true

.PHONY: install run test lint browser-deps messages services-deps test-browser-repeat

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py load_demo
	$(PY) manage.py retrain --if-none-active
	PORT=$(PORT) $(PY) manage.py serve --port $(PORT)

# The gate CI runs before the tests: lint, types, and the layers of docs/architecture.md.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint browser-deps services-deps
	$(PY) -m pytest

# Debian's Chromium for the browser tests (Playwright cannot download its own browsers here):
# installed when missing and allowed (root); otherwise the browser tests say they are skipped.
browser-deps:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "Chromium is not installed and cannot be installed here: the browser tests will be skipped (sudo make browser-deps)"; \
	  fi; }

# Debian's nginx (and openssl) for the multi-node test (tests/live/test_multinode.py), installed when
# missing and allowed (root); otherwise that test says it is skipped. The package's service is not
# started here (the test runs its own nginx on free ports).
services-deps:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx openssl; \
	  else \
	    echo "nginx is not installed and cannot be installed here: the multi-node test will be skipped (sudo make services-deps)"; \
	  fi; }

# Chase a flaky test (docs/testing.md): run the browser tests N times in a row, each run a fresh
# pytest process (its own server, database and browser, as in CI), and count the runs that pass.
# TESTS picks other tests: make test-browser-repeat N=50 TESTS=tests/browser/test_widget.py
N ?= 20
TESTS ?= -m browser
test-browser-repeat: install
	@mkdir -p var/repeat; passed=0; \
	for i in $$(seq $(N)); do \
	  if $(PY) -m pytest $(TESTS) -q > var/repeat/run-$$i.log 2>&1; then \
	    passed=$$((passed + 1)); echo "run $$i of $(N): passed"; \
	  else \
	    echo "run $$i of $(N): FAILED (var/repeat/run-$$i.log)"; grep -E '^(FAILED|ERROR) ' var/repeat/run-$$i.log; \
	  fi; \
	done; \
	echo "$$passed of $(N) runs passed: $(TESTS)"; test $$passed -eq $(N)

# Customer-facing text in en, de, fr, es: collect the marked strings (Python, templates and the
# chat's JavaScript), write the translations of locale/translations.py, compile the .mo files
# (committed, so a fresh clone needs no gettext tools). Needs GNU gettext (apt-get install gettext).
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=deploy --ignore=locale
messages: install
	$(PY) manage.py makemessages -l de -l fr -l es -d django --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py makemessages -l de -l fr -l es -d djangojs --no-obsolete $(MESSAGES_IGNORE)
	$(PY) locale/translations.py
	$(PY) manage.py compilemessages --ignore=.venv
