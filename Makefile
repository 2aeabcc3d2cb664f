# Every target creates and uses its own virtual environment in .venv (Python 3.11+).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint fmt clean

$(BIN)/isg: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## run: validate the embedded registry, then list late or at-risk SLA milestones
## (sla watch exits 1 when a priority 1 or 2 milestone is late: reported, not a failure here)
run: $(BIN)/isg
	$(BIN)/isg validate
	$(BIN)/isg fmt --check
	-$(BIN)/isg sla watch

## test: the whole test suite, then lint and type checks
test: $(BIN)/isg
	$(BIN)/python -m pytest
	$(BIN)/ruff check tool tests
	$(BIN)/mypy

## fmt: rewrite records canonically
fmt: $(BIN)/isg
	$(BIN)/isg fmt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
