# One command per job. Each creates .venv and installs requirements.lock on first use.
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

.PHONY: sync test lint schemas bench pyairbyte lock hooks

# Each venv holds exactly its lock file. A person edits requirements*.txt (the direct dependencies)
# and runs `make lock`, which resolves each into requirements*.lock: every transitive dependency,
# pinned with its hashes, for Python 3.11 and 3.12 on every platform (airbyte-connector-models and
# airbyte refuse 3.13). Installs read only the lock, and pip refuses any file whose hash is not in
# it. --no-deps because the lock already lists every dependency (pip check fails if one is
# missing); without it, pip 23 refuses a locked dependency that another asks for with an extra
# (google-api-core[grpc]).
# <venv>/.locked is a copy of the lock the venv was made from: when the lock's content changes, the
# venv is made again from scratch. <venv>/.installed then checks that the lock still pins what
# requirements*.txt asks for, so that an edit without `make lock` stops there.
# The `*` .gitignore keeps a venv out of git status and out of ruff (as virtualenv does).
PIP_INSTALL := pip install --quiet --disable-pip-version-check
define install_lock
	@if cmp -s $(2) $(1)/.locked; then touch $(1)/.locked; else set -ex; \
	  $(PYTHON) -m venv --clear $(1); \
	  echo '*' > $(1)/.gitignore; \
	  $(1)/bin/$(PIP_INSTALL) --no-deps --require-hashes -r $(2); \
	  $(1)/bin/pip check --quiet; \
	  cp $(2) $(1)/.locked; fi
endef
define check_lock
	$(1)/bin/$(PIP_INSTALL) --dry-run --no-deps --no-index -r $(2) \
	  || { echo "$(2) asks for what $(3) does not pin: run make lock" >&2; exit 1; }
	touch $(1)/.installed
endef

$(VENV)/.locked: requirements.lock
	$(call install_lock,$(VENV),requirements.lock)
$(INSTALLED): $(VENV)/.locked requirements.txt
	$(call check_lock,$(VENV),requirements.txt,requirements.lock)

$(BUILDER_CDK_VENV)/.locked: requirements-builder-cdk.lock
	$(call install_lock,$(BUILDER_CDK_VENV),requirements-builder-cdk.lock)
$(BUILDER_CDK_INSTALLED): $(BUILDER_CDK_VENV)/.locked requirements-builder-cdk.txt
	$(call check_lock,$(BUILDER_CDK_VENV),requirements-builder-cdk.txt,requirements-builder-cdk.lock)

$(PYAIRBYTE_VENV)/.locked: requirements-pyairbyte.lock
	$(call install_lock,$(PYAIRBYTE_VENV),requirements-pyairbyte.lock)
$(PYAIRBYTE_INSTALLED): $(PYAIRBYTE_VENV)/.locked requirements-pyairbyte.txt
	$(call check_lock,$(PYAIRBYTE_VENV),requirements-pyairbyte.txt,requirements-pyairbyte.lock)

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

## Resolve requirements*.txt again into requirements*.lock, after editing one. Pins already in a
## lock are kept where they still fit; ARGS="--upgrade" moves every transitive dependency to its
## newest release, ARGS="--upgrade-package NAME" just one. Needs PyPI; runs the uv pinned in
## requirements.txt.
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(ARGS)
lock: $(VENV)/.locked
	$(LOCK) requirements.txt -o requirements.lock
	$(LOCK) requirements-builder-cdk.txt -o requirements-builder-cdk.lock
	$(LOCK) requirements-pyairbyte.txt -o requirements-pyairbyte.lock

## Install the git pre-commit hook: ruff check and ruff format --check of the staged Python files.
hooks: $(INSTALLED)
	$(BIN)/pre-commit install
