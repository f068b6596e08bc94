# mixeff: `make demo` and `make test` set up .venv (Python 3.12) on first use.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The first interpreter that really is Python 3.12 (pyenv shims may exist without a 3.12).
PY := $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
        $$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)
# CI-size notebooks: few draws, a few minutes; `make notebooks` runs them at full size.
NB_SIZE ?= full

.PHONY: demo test test-fast lint docs notebooks bench clean help

help:
	@echo "make demo       fit the lognormal cluster model on the bundled Magnusson data; print conditional vs marginal means"
	@echo "make test       unit tests, doctests and the notebooks at CI size"
	@echo "make test-fast  the tests without MCMC, doctests or notebooks (pytest -m 'not slow' tests/), under a minute"
	@echo "make lint       ruff check, ruff format --check and mypy"
	@echo "make docs       the documentation site in docs/_build/html (warnings are errors; internal links checked)"
	@echo "make notebooks  execute the notebooks at full size (writes notebooks/_executed/)"
	@echo "make bench      benchmark mixeff vs Bambi vs a numpy floor"

$(STAMP): pyproject.toml
	@if [ -z "$(PY)" ]; then echo "Python 3.12 not found: install python3.12 (e.g. apt-get install python3.12 python3.12-venv, or pyenv install 3.12)"; exit 1; fi
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,nutpie,dask,bambi,docs]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mixeff demo

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -p no:cacheprovider
	MPLBACKEND=Agg MIXEFF_SIZE=ci $(BIN)/python -m pytest -p no:cacheprovider --nbmake --nbmake-timeout=900 notebooks/0*.ipynb

# No MCMC (tests marked slow: see tests/conftest.py), no doctests (some fit), no notebooks; one worker per core.
test-fast: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -p no:cacheprovider -m "not slow" -n auto -q tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The notebooks are rendered from their committed outputs, never executed here (make test executes them);
# figures.py copies the figures the pages show out of those outputs; check_site.py checks every internal link.
docs: $(STAMP)
	$(BIN)/python docs/figures.py
	MPLBACKEND=Agg $(BIN)/python -m sphinx -b html -W --keep-going -q docs docs/_build/html
	$(BIN)/python docs/check_site.py docs/_build/html

notebooks: $(STAMP)
	mkdir -p notebooks/_executed
	for nb in notebooks/0*.ipynb; do \
	  MPLBACKEND=Agg MIXEFF_SIZE=$(NB_SIZE) $(BIN)/jupyter nbconvert --to notebook --execute \
	    --ExecutePreprocessor.timeout=3600 --output-dir notebooks/_executed "$$nb" || exit 1; done

bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_integrate.py
	$(BIN)/python bench/bench_diagnostics.py

clean:
	rm -rf $(VENV) notebooks/_executed .pytest_cache docs/_build docs/api docs/notebooks
