# Two commands on a fresh machine: `make serve` and `make test`. Both build the virtual
# environment they need; nothing else has to be installed by hand beyond Python 3.11+ and make.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: serve test test-fast typecheck lint format bench simulate migrate screenshot screenshots clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamp files re-run an install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

serve: $(VENV)/.installed
	$(BIN)/multichat serve

simulate: $(VENV)/.installed
	$(BIN)/multichat simulate

migrate: $(VENV)/.installed
	$(BIN)/multichat migrate

# axe-core, which the browser tests serve to the page for its accessibility checks
# (tests/test_page_axe.py): from npm, pinned by tests/browser/package-lock.json. Without npm
# those checks are skipped with the reason (CI installs it: .ci/run).
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/browser --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the page's accessibility checks will be skipped"; fi

# Over pytest-xdist's workers (TEST_WORKERS=0: in one process). worksteal, not loadfile:
# loadfile groups tests by node id, and schemathesis gives every operation of the fuzz test
# the same one, so all but one of them would silently not run.
TEST_WORKERS ?= 3
test: $(VENV)/.installed-test $(AXE)
	$(BIN)/ruff check gateway providers storage tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# mypy over gateway/, providers/ and storage/, as configured in pyproject.toml ([tool.mypy]).
typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# The unit tests only (no server, no process; tests/support/markers.py): well under a minute.
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m unit -q $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/multichat bench $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check gateway providers storage tests
	$(BIN)/ruff format --check gateway providers storage tests

format: $(VENV)/.installed-test
	$(BIN)/ruff format gateway providers storage tests
	$(BIN)/ruff check --fix gateway providers storage tests

# docs/screenshot.png from the gateway `make serve` runs (see gateway/tools/screenshot.py);
# `make screenshots` takes the whole set (first view, five-way turn, blind before and after the
# vote, leaderboard, phone, dark) into $(SHOTS). Take them on a fresh gateway.
SHOTS ?= docs/screenshots
screenshot: $(VENV)/.installed-test
	$(BIN)/python -m gateway.tools.screenshot --url $${URL:-http://127.0.0.1:8000} --out docs/screenshot.png

screenshots: $(VENV)/.installed-test
	$(BIN)/python -m gateway.tools.screenshot --url $${URL:-http://127.0.0.1:8000} --set $(SHOTS)

clean:
	rm -rf $(VENV) .data .pytest_cache
