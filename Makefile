# The README's two commands: `make run` (set up, index corpus/, open the web page) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps run index test test-fast mutation clean

setup: $(STAMP)

# torch first, from the machine's CPU wheel: a bare `torch` would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,milvus]"
	touch $(STAMP)

# Chromium for the browser tests, Tesseract for OCR: installed from Debian when missing.
system-deps:
	bash scripts/system-deps.sh

index: setup
	$(BIN)/qa index corpus --index index

run: index
	$(BIN)/qa serve --index index

test: setup system-deps
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

# Mutation testing of the core modules (slow: about half an hour on 2 cores); not part of `make test`.
# Ends with one line per module: `<module>: killed K of N`.
mutation: setup
	$(BIN)/pip install --quiet "mutmut>=3.3,<4"
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 > mutants.log 2>&1 || true
	$(BIN)/python scripts/mutation_report.py

clean:
	rm -rf index .pytest_cache
