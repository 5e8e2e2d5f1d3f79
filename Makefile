# 一网通办 Unified Identity — the two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,clients]'
	$(BIN)/pybabel compile --statistics -d idp/web/translations -D messages >/dev/null
	touch $(STAMP)

install: $(STAMP)

## make run: fresh machine -> venv, install, migrate, demo data, IdP + demo channel clients.
run: install
	bash scripts/run.sh

## make test: fresh machine -> the full test suite on real SQLite, PostgreSQL, Redis, Chromium.
test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check idp tests clients
	$(BIN)/mypy

bench: install
	bash bench/run.sh

clean:
	rm -rf $(VENV) var build *.egg-info
