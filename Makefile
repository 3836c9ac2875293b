# Two commands on a fresh machine with Python 3.11+:
#   make run   - create .venv, install Switchboard, serve the bundled flows on SQLite
#   make test  - create .venv, install the test extras, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test load bench lint clean

$(BIN)/switchboard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/switchboard
	$(BIN)/switchboard run --host $(HOST) --port $(PORT)

test: $(BIN)/switchboard
	$(BIN)/ruff check .
	$(BIN)/pytest -q

load: $(BIN)/switchboard
	$(BIN)/pytest -q -p no:cacheprovider tests/load

bench: $(BIN)/switchboard
	$(BIN)/python -m tests.bench

lint: $(BIN)/switchboard
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
