# One command per job. Each creates the venv it runs in, from its lock file, on first use:
# .venv (requirements.lock) for the main job, .venv-test (requirements-test.lock) for the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The tests, lint and the tooling (pytest, ruff, pre-commit, airbyte-connector-models): their
# own venv, because airbyte-connector-models refuses Python 3.13, which the main job's runtime
# accepts.
TEST_VENV := .venv-test
TEST_BIN := $(TEST_VENV)/bin
TEST_INSTALLED := $(TEST_VENV)/.installed
# The Builder's older airbyte-cdk: its own venv, for the tests that load the manifest into it.
BUILDER_CDK_VENV := .venv-builder-cdk
BUILDER_CDK_INSTALLED := $(BUILDER_CDK_VENV)/.installed
# PyAirbyte is heavy: its own venv, installed only by `make pyairbyte`.
PYAIRBYTE_VENV := .venv-pyairbyte
PYAIRBYTE_INSTALLED := $(PYAIRBYTE_VENV)/.installed
# uv, which installs the other venvs from their locks: its own venv, installed by pip.
UV_VENV := .venv-uv
UV_INSTALLED := $(UV_VENV)/.installed

.PHONY: sync test lint schemas bench pyairbyte lock hooks

# Which Python each venv is made from. Each venv has the range of versions its packages accept
# (3.11 is this code's oldest: datetime.UTC): .venv 3.11 to 3.14 (airbyte-cdk 7.39.1), .venv-test
# and .venv-pyairbyte 3.11 to 3.12 (airbyte-connector-models, airbyte), .venv-builder-cdk 3.11 to
# 3.13 (airbyte-cdk 7.23.8). A venv is made from the first of $(PYTHON) (python3 unless given:
# make test PYTHON=/path/to/python), python3.14, python3.13, python3.12, python3.11 on the PATH
# whose version is in its range; if none is, make stops with one line saying what to install,
# before pip runs. Versions are written 311 for 3.11. Probed only when a venv is (re)made.
PYTHONS := $(PYTHON) python3.14 python3.13 python3.12 python3.11
python_in = $(firstword $(foreach p,$(PYTHONS),$(shell $(p) -c 'import sys; \
	v = sys.version_info; sys.exit(not $(1) <= v[0] * 100 + v[1] <= $(2))' >/dev/null 2>&1 && echo $(p))))
version_name = $(shell echo $(1) | sed 's/./&./')

# Each venv holds exactly its lock file. A person edits requirements*.txt (the direct dependencies)
# and runs `make lock`, which resolves each into requirements*.lock: every transitive dependency,
# pinned with its hashes, for Python 3.11 and newer on every platform (uv ignores the upper bounds
# of the packages' Python versions: a lock installs where its packages accept the Python).
# requirements-test.txt includes requirements.txt, and its lock keeps requirements.lock's pins,
# so that the tests run what the main job runs. Installs read only the lock, and pip refuses any
# file whose hash is not in it. --no-deps because the lock already lists every dependency (pip
# check fails if one is missing); without it, pip 23 refuses a locked dependency that another asks
# for with an extra (google-api-core[grpc]).
# <venv>/.locked is a copy of the lock the venv was made from: when the lock's content changes, the
# venv is made again from scratch. <venv>/.installed then checks that the lock still pins what
# requirements*.txt asks for, so that an edit without `make lock` stops there.
# The `*` .gitignore keeps a venv out of git status and out of ruff (as virtualenv does).
# The venvs are installed by uv (`uv pip install`: requirements-test.lock in 4 s, where pip took
# 34 s), itself installed by pip into .venv-uv from requirements-uv.lock. uv reads PyPI (a private
# index: UV_DEFAULT_INDEX, not pip's configuration) and, as pip, refuses a file whose hash is not
# in the lock. Neither compiles the packages to bytecode (pip: --no-compile): Python compiles and
# caches the modules it imports on their first import. Each venv still has pip (`python -m venv`),
# which checks it (pip check, and the dry run below).
PIP_INSTALL := pip install --quiet --disable-pip-version-check --no-compile
UV_PIP_INSTALL := $(UV_VENV)/bin/uv pip install --quiet
# install_lock,venv,lock,oldest,newest,what needs that range[,installer: uv unless given]
define install_lock
	@if cmp -s $(2) $(1)/.locked; then touch $(1)/.locked; else set -ex; \
	  $(or $(call python_in,$(3),$(4)),$(error $(1) needs Python $(call version_name,$(3)) \
	  to $(call version_name,$(4)) ($(5)) and $(PYTHON) is $(shell $(PYTHON) -V 2>/dev/null || echo not found): \
	  install python$(call version_name,$(4)) on the PATH (or give one: make PYTHON=/path/to/python)) \
	  ) -m venv --clear $(1); \
	  echo '*' > $(1)/.gitignore; \
	  $(or $(6),$(UV_PIP_INSTALL) --python $(1)/bin/python) --no-deps --require-hashes -r $(2); \
	  $(1)/bin/pip check --quiet; \
	  cp $(2) $(1)/.locked; fi
endef
define check_lock
	$(1)/bin/$(PIP_INSTALL) --dry-run --no-deps --no-index -r $(2) \
	  || { echo "$(2) asks for what $(3) does not pin: run make lock" >&2; exit 1; }
	touch $(1)/.installed
endef

$(VENV)/.locked: requirements.lock | $(UV_INSTALLED)
	$(call install_lock,$(VENV),requirements.lock,311,314,airbyte-cdk 7.39.1)
$(INSTALLED): $(VENV)/.locked requirements.txt
	$(call check_lock,$(VENV),requirements.txt,requirements.lock)

$(TEST_VENV)/.locked: requirements-test.lock | $(UV_INSTALLED)
	$(call install_lock,$(TEST_VENV),requirements-test.lock,311,312,airbyte-connector-models)
$(TEST_INSTALLED): $(TEST_VENV)/.locked requirements-test.txt requirements.txt
	$(call check_lock,$(TEST_VENV),requirements-test.txt,requirements-test.lock)

$(BUILDER_CDK_VENV)/.locked: requirements-builder-cdk.lock | $(UV_INSTALLED)
	$(call install_lock,$(BUILDER_CDK_VENV),requirements-builder-cdk.lock,311,313,airbyte-cdk 7.23.8)
$(BUILDER_CDK_INSTALLED): $(BUILDER_CDK_VENV)/.locked requirements-builder-cdk.txt
	$(call check_lock,$(BUILDER_CDK_VENV),requirements-builder-cdk.txt,requirements-builder-cdk.lock)

$(PYAIRBYTE_VENV)/.locked: requirements-pyairbyte.lock | $(UV_INSTALLED)
	$(call install_lock,$(PYAIRBYTE_VENV),requirements-pyairbyte.lock,311,312,airbyte 0.71.3)
$(PYAIRBYTE_INSTALLED): $(PYAIRBYTE_VENV)/.locked requirements-pyairbyte.txt
	$(call check_lock,$(PYAIRBYTE_VENV),requirements-pyairbyte.txt,requirements-pyairbyte.lock)

$(UV_VENV)/.locked: requirements-uv.lock
	$(call install_lock,$(UV_VENV),requirements-uv.lock,311,314,uv,$(UV_VENV)/bin/$(PIP_INSTALL))
$(UV_INSTALLED): $(UV_VENV)/.locked requirements-uv.txt
	$(call check_lock,$(UV_VENV),requirements-uv.txt,requirements-uv.lock)

## Full sync of every stream against the bundled emulator (or: make sync ARGS="--config my.json").
sync: $(INSTALLED)
	$(BIN)/python -m scripts.sync $(ARGS)

## Lint, format check and the whole test suite, in .venv-test, in three workers (pytest-xdist; many
## tests wait on a server or a backoff, so three keep two cores busy; `loadfile` keeps a module's
## shared syncs and background scenarios in one worker: tests/conftest.py). The venvs
## the tests use are installed side by side first (tests/test_pyairbyte.py runs .venv-pyairbyte).
test:
	@$(MAKE) --no-print-directory -j3 $(TEST_INSTALLED) $(BUILDER_CDK_INSTALLED) $(PYAIRBYTE_INSTALLED)
	@$(MAKE) --no-print-directory lint
	$(TEST_BIN)/pytest -m "not image_tests" -n 3 --dist loadfile --durations=25 $(ARGS)

lint: $(TEST_INSTALLED)
	$(TEST_BIN)/ruff check .
	$(TEST_BIN)/ruff format --check .

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
## requirements-uv.txt. --python-version 3.11 is the oldest Python a lock must install on.
LOCK := $(UV_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(ARGS)
lock: $(UV_INSTALLED)
	$(LOCK) requirements-uv.txt -o requirements-uv.lock
	$(LOCK) requirements.txt -o requirements.lock
	$(LOCK) requirements-test.txt -c requirements.lock -o requirements-test.lock
	$(LOCK) requirements-builder-cdk.txt -o requirements-builder-cdk.lock
	$(LOCK) requirements-pyairbyte.txt -o requirements-pyairbyte.lock

## Install the git pre-commit hook: ruff check and ruff format --check of the staged Python files.
hooks: $(TEST_INSTALLED)
	$(TEST_BIN)/pre-commit install
