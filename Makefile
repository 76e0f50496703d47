# Two commands: `make run` (local run, no server needed) and `make test` (the whole suite on the
# real stack). Everything else here serves those two.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench install install-dev clean

$(VENV)/.runtime: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "Installing python3-venv (Debian splits venv out of Python)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq python3-venv; }
	test -x $(VENV)/bin/pip || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: $(VENV)/.runtime
	PYTHON=$(PY) scripts/run-local.sh

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(VENV)/.dev
	scripts/ensure-services.sh
	$(PY) -m coverage erase
	$(MAKE) --no-print-directory lint
	$(PY) scripts/check_imports.py
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_ENV=production ALLOWED_HOSTS=portal.example.com SMS_BACKEND=kannel EMAIL_URL=smtp://127.0.0.1:25 \
	  DATABASE_URL=postgres://portal:portal@127.0.0.1:5432/portal REDIS_URL=redis://127.0.0.1:6379/9 \
	  SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  $(PY) manage.py check --deploy --fail-level WARNING
	$(PY) -m coverage run -m pytest
# Then the ORM's side of messaging/sql.py on SQLite, as `make run` uses it.
	$(PY) -m coverage run -m pytest tests/messaging/test_sql_rules.py --ds=tests.settings_sqlite -p no:cacheprovider -q
	@$(PY) -m coverage combine -q && echo "Coverage of the apps' lines: $$($(PY) -m coverage report --format=total)% (pyproject.toml [tool.coverage])"

bench: $(VENV)/.dev
	scripts/ensure-services.sh
	@command -v wrk >/dev/null || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq wrk; }
	$(PY) -m bench

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
