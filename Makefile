# 一网通办 Unified Identity — the two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint typecheck bench clean

MO     := $(patsubst %.po,%.mo,$(wildcard idp/web/translations/*/LC_MESSAGES/messages.po))

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/pip install --quiet -e '.[test,clients]' 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -c "import idp, authlib, flask, sqlalchemy, psycopg, redis, jose"
	touch $(STAMP)

# Compiled page translations (not committed): rebuilt whenever a catalogue changes.
%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@ >/dev/null

install: $(STAMP) $(MO)

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
