# make serve: build dist/ and serve it on http://127.0.0.1:8000/
# make test:  lint, build, then run every test (unit, generator, JS, browser) but the slow ones
# Each target installs what it needs (venv, npm packages, Pyodide files, a browser).

# Python 3.12: on PATH, or under pyenv (found even when pyenv itself is not on PATH).
PYTHON312 ?= $(shell command -v python3.12 2>/dev/null || ls $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: build serve test test-slow test-unit test-js test-e2e lint bench bench-load clean distclean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is needed (Pyodide 0.27 runs 3.12): install it, or pass PYTHON312=/path/to/python3.12"; exit 1; }
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

build: $(VENV)/.installed node_modules/.installed
	$(PY) build.py

serve: build
	@echo "Serving dist/ on http://127.0.0.1:$(PORT)/  (Ctrl-C to stop)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory dist

browser: $(VENV)/.installed
	./scripts/ensure-browser.sh $(PY)

# CI's command. pytest prints the 25 slowest tests and writes test-results/junit.xml.
# Two pytest workers (the machine's two cores), tests handed out one by one: unit and sitegen
# run beside the browser tests. PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= 2
test: lint build browser
	node --test tests/js/*.test.js
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist load $(PYTEST_ARGS)

# What `make test` leaves out: every target x family's Optimize through the page, the fits
# against 20 random restarts, a 16-layer flow (VI_CORE_SLOW=1; about 15 minutes).
test-slow: build browser
	VI_CORE_SLOW=1 $(PY) -m pytest -m slow $(PYTEST_ARGS)

test-unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

# The page's pure JS modules, with Node's built-in test runner.
test-js: node_modules/.installed
	node --test tests/js/*.test.js

test-e2e: build browser
	$(PY) -m pytest tests/e2e

lint: $(VENV)/.installed node_modules/.installed
	$(PY) -m ruff check vi_core sitegen tests bench build.py
	$(PY) -m mypy
	node_modules/.bin/eslint site_src/js tests/js eslint.config.js

bench: $(VENV)/.installed
	$(PY) bench/bench.py

# Page loads (ours vs bare Pyodide) over a modelled link, and drag latency, in Chromium:
# a benchmark, see bench/README.md. Options: make bench-load BENCH_LOAD_ARGS="--reps 3 --markdown"
bench-load: build browser
	$(PY) bench/load.py $(BENCH_LOAD_ARGS)

clean:
	rm -rf dist test-results

distclean: clean
	rm -rf $(VENV) node_modules .cache
