# Two commands: `make book` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_STAMP := $(VENV)/.lab-installed
# JupyterLab opens a chapter (.md) as a notebook through jupytext, not as a text file
LAB_SETTINGS := {"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook"}}}

.PHONY: book serve lab lab-env test check reference lock bench clean distclean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

$(LAB_STAMP): $(STAMP) requirements-lab.lock
	$(BIN)/python -m pip install -q -c requirements.lock -r requirements-lab.lock
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '$(LAB_SETTINGS)' > $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $@

book: $(STAMP)  ## validate data, build the HTML book (re-running only chapters whose sources or data changed)
	$(BIN)/glumeta build
	@echo "Open file://$(CURDIR)/_build/html/index.html"

serve: $(STAMP)  ## live preview: serve the book on http://127.0.0.1:8000 and rebuild as data/ or book/ change
	$(BIN)/glumeta serve

lab-env: $(LAB_STAMP)  ## install the pinned JupyterLab (requirements-lab.lock) only

lab: $(LAB_STAMP)  ## JupyterLab on this folder, opening a chapter; every book/*.md opens as a notebook (jupytext)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root) book/blood_glutamate.md

test: $(STAMP) $(LAB_STAMP)  ## the whole test suite (with JupyterLab, for tests/test_lab.py)
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
