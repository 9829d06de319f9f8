# `make test` and `make demo` set everything up from nothing: a venv in .venv with the project installed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo space clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m g4f_magic.demo --out build/demo

space: $(STAMP)
	$(PY) -m g4f_magic.localspace --port $${PORT:-7860}

clean:
	rm -rf $(VENV) build .pytest_cache
