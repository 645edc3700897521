# Two commands: `make book` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book serve test check reference lock bench clean distclean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

book: $(STAMP)  ## validate data, build the HTML book (re-running only chapters whose sources or data changed)
	$(BIN)/glumeta build
	@echo "Open file://$(CURDIR)/_build/html/index.html"

serve: $(STAMP)  ## live preview: serve the book on http://127.0.0.1:8000 and rebuild as data/ or book/ change
	$(BIN)/glumeta serve

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest

check: $(STAMP)  ## validate data/ only
	$(BIN)/glumeta check

reference:  ## regenerate tests/reference/metafor_reference.json with R metafor
	Rscript tests/reference/metafor_reference.R tests/reference/metafor_reference.json data

lock: $(STAMP)  ## refresh requirements.lock from the current environment
	( echo '# Exact versions for reproducible builds (Python 3.11). Regenerate with `make lock`.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^glumeta' ) > requirements.lock

bench: $(STAMP)  ## build-time benchmarks (see benchmarks/README.md)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)
