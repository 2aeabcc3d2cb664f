# Every target creates and uses its own virtual environment in .venv (Python 3.11+).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint fmt clean serve golden bench

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
	$(BIN)/isg site build --at "$$(date -u +%Y-%m-%dT%H:%M:%SZ)"

## serve: preview the built site on http://127.0.0.1:8000/
serve: $(BIN)/isg
	$(BIN)/isg site serve

## golden: regenerate the golden site of tests/golden/registry (review the diff, then commit)
golden: $(BIN)/isg
	cp schemas/*.json tests/golden/registry/schemas/
	$(BIN)/isg site build --repo tests/golden/registry --site-dir site --out tests/golden/expected --at 2026-11-27T12:00:00Z --no-history

## test: the whole test suite, then lint and type checks
test: $(BIN)/isg
	$(BIN)/python -m pytest
	$(BIN)/ruff check tool tests benchmarks
	$(BIN)/mypy

## fmt: rewrite records canonically
fmt: $(BIN)/isg
	$(BIN)/isg fmt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## bench: measure against check-jsonschema, libyaml and Hugo (needs them; writes docs/PERFORMANCE.md)
bench: $(BIN)/isg
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run.py --sizes $${SIZES:-1000,10000} --runs $${RUNS:-3}
