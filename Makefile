# One command per job. Each creates .venv and installs requirements.txt on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: sync test lint schemas bench

$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(INSTALLED)

## Full sync of every stream against the bundled emulator (or: make sync ARGS="--config my.json").
sync: $(INSTALLED)
	$(BIN)/python -m scripts.sync $(ARGS)

## Lint, format check and the whole test suite.
test: $(INSTALLED) lint
	$(BIN)/pytest -m "not image_tests" $(ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Regenerate schemas/*.json and the manifest's inline schemas from the OpenAPI document.
schemas: $(INSTALLED)
	$(BIN)/python -m tooling.stream_schemas

## Request counts and wall time against the emulator (ARGS="--scale medium --latency-ms 80").
bench: $(INSTALLED)
	$(BIN)/python -m bench.run $(ARGS)
