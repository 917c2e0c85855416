# The two commands of the README: `make demo` and `make test`. Both build .venv from scratch when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR := work/demo

.PHONY: demo test lint typecheck pytest bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(BIN)/smtoolkit local train examples/train-job.json --work-dir $(DEMO_DIR)/train --output-path $(DEMO_DIR)/artifacts
	$(BIN)/smtoolkit local transform examples/transform-job.json --work-dir $(DEMO_DIR)/transform \
		--model-data $(DEMO_DIR)/artifacts/demo-linear-regression/output/model.tar.gz \
		--output-path $(DEMO_DIR)/predictions --preview 3

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples containers
	$(BIN)/ruff format --check src tests bench examples containers

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

system-deps:
	bash ci/system-deps.sh

test: system-deps lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) work .mypy_cache .ruff_cache .pytest_cache
