# Two entry points for a fresh clone: `make run` (SiteLens with demo traffic) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

run: $(BIN)/.installed ## set up and run SiteLens: TUI + embedded collector + demo traffic
	$(BIN)/sitelens run --demo

test: $(BIN)/.installed ## set up and run the test suite
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check collector db sitelens_tui tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info
