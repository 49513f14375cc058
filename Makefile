# Two commands: `make run` starts the app, `make test` runs every test. Both set everything up first
# and are idempotent: the virtual environment is rebuilt only when a lock file changes.
# requirements.txt and requirements-dev.txt are locks (every package, exact version, hashes) compiled
# from pyproject.toml by `make lock`; pip refuses any file whose hash differs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
# Only this machine can reach the app. `make serve` (HOST=0.0.0.0) opens it to the network, and
# refuses to start until a login is set up (README, "Serving a class").
HOST ?= 127.0.0.1

.PHONY: run serve test lint format bench samples lock clean

# Served to others, visitors name the server their own way: accept any name (config.toml accepts
# only localhost's, against DNS rebinding).
ANY_HOST_NAME := $(if $(filter 127.0.0.1 localhost ::1,$(HOST)),,--server.allowedHosts '*')

run: $(VENV)/.runtime-installed
	$(BIN)/python -m core.access check --host $(HOST)
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) $(ANY_HOST_NAME)

serve:
	$(MAKE) run HOST=0.0.0.0

# The suite runs on TEST_WORKERS processes (pytest-xdist: 8 to 20 minutes on two, on 2-core machines
# of different speeds; it is CPU-bound, so a third worker is no faster), then the browser tests on their
# own (about 4 minutes): they time what a person waits for, and tests
# training beside them would starve the app they drive.
TEST_WORKERS ?= 2

# Tests are sent to workers a module at a time, so a module's trained-model fixture is built once.
# Both runs always run; either failing fails the target.
test: $(VENV)/.dev-installed
	status=0; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --ignore=tests/e2e || status=$$?; \
	$(BIN)/python -m pytest tests/e2e || status=$$?; \
	exit $$status

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

samples: $(VENV)/.runtime-installed
	$(BIN)/python scripts/build_samples.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

# Recompile both locks from pyproject.toml. Versions already locked are kept unless pyproject.toml
# asks for another; `make lock UPGRADE=--upgrade` moves every transitive package to its newest release.
UV_VERSION := 0.13.9
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet $(UPGRADE)
lock: | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(LOCK) -o requirements.txt
	$(LOCK) --extra dev -o requirements-dev.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
