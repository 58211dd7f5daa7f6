# One command per job. Each creates .venv and installs requirements.txt on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The Builder's older airbyte-cdk: its own venv, for the tests that load the manifest into it.
BUILDER_CDK_VENV := .venv-builder-cdk
BUILDER_CDK_INSTALLED := $(BUILDER_CDK_VENV)/.installed
# PyAirbyte is heavy: its own venv, installed only by `make pyairbyte`.
PYAIRBYTE_VENV := .venv-pyairbyte
PYAIRBYTE_INSTALLED := $(PYAIRBYTE_VENV)/.installed

.PHONY: sync test lint schemas bench pyairbyte

$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(INSTALLED)

# The `*` .gitignore keeps the venv out of git status and out of ruff (as virtualenv does).
$(PYAIRBYTE_INSTALLED): requirements-pyairbyte.txt
	$(PYTHON) -m venv $(PYAIRBYTE_VENV)
	echo '*' > $(PYAIRBYTE_VENV)/.gitignore
	$(PYAIRBYTE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-pyairbyte.txt
	touch $(PYAIRBYTE_INSTALLED)

$(BUILDER_CDK_INSTALLED): requirements-builder-cdk.txt
	$(PYTHON) -m venv $(BUILDER_CDK_VENV)
	echo '*' > $(BUILDER_CDK_VENV)/.gitignore
	$(BUILDER_CDK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-builder-cdk.txt
	touch $(BUILDER_CDK_INSTALLED)

## Full sync of every stream against the bundled emulator (or: make sync ARGS="--config my.json").
sync: $(INSTALLED)
	$(BIN)/python -m scripts.sync $(ARGS)

## Lint, format check and the whole test suite.
test: $(INSTALLED) $(BUILDER_CDK_INSTALLED) lint
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

## Every stream into a local DuckDB file through PyAirbyte, then example queries
## (ARGS="--config my.json" for a real account, "--output DIR" for another folder than output/).
pyairbyte: $(PYAIRBYTE_INSTALLED)
	$(PYAIRBYTE_VENV)/bin/python -m scripts.pyairbyte_sync $(ARGS)
