# `make demo` and `make test` set everything up from nothing: a venv in .venv with the project
# installed, and (for the browser test) Debian's Chromium.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
CHROMIUM := /usr/bin/chromium
# `make demo` uses the bundled local Space; `make demo G4F_MAGIC_ENDPOINT=` talks to the real Spaces;
# `make demo G4F_MAGIC_ENDPOINT=http://…` uses that gateway.
DEMO_ENDPOINT := $(if $(filter undefined,$(origin G4F_MAGIC_ENDPOINT)),local,$(G4F_MAGIC_ENDPOINT))

.PHONY: test lint unit conformance g4f05 demo bench fuzz soak guards space lab chromium proxies clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# the demo needs only the package and its demo extra (a kernel, nbclient, nbconvert), not the test tools
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[demo]'
	touch $(DEMO_STAMP)

# Playwright cannot download its own browser here; the test drives Debian's.
chromium:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || { echo "could not install chromium: run 'apt-get install chromium' as root, then make test"; exit 1; }

# The proxy matrix (tests/contract/test_contract_fronts.py) runs Debian's own nginx and HAProxy.
proxies:
	@test -x /usr/sbin/nginx -a -x /usr/sbin/haproxy || { echo "installing Debian's nginx and haproxy for the proxy matrix"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    nginx-light haproxy >/dev/null && \
	  for s in nginx haproxy; do invoke-rc.d $$s stop >/dev/null 2>&1 || true; done; } \
	  || { echo "could not install nginx and haproxy: run 'apt-get install nginx-light haproxy' as root"; exit 1; }

# --durations: the slowest tests, so one creeping up on its timeout shows in CI's log before it fails there
test: $(STAMP) chromium proxies
	$(PY) -m pytest --durations=12

# ruff and mypy, as configured in pyproject.toml (CI runs this before make test)
lint: $(STAMP)
	$(PY) -m ruff check g4f_magic tests benchmarks
	$(PY) -m mypy

# The inner loop: tests/unit, no socket and no process (a few seconds).
unit: $(STAMP)
	$(PY) -m pytest tests/unit

# The contract tests (tests/contract) against each Gradio the Spaces run, each in its own venv: the
# latest 6 (the test venv's), the latest 5.x, and 4.44.1 for the legacy /run/predict route.
# Gradio 4.44.1 starts on Python 3.11 only with these pins.
GRADIO5 := .venv-gradio5
GRADIO4 := .venv-gradio4
GRADIO4_PINS := 'gradio==4.44.1' 'huggingface_hub<0.26' 'pydantic==2.10.6' 'fastapi==0.112.2' 'starlette<0.39'
# ZeroGPU's own package, whose code words and raises the refusals the contract apps send (tests/contract)
SPACES := 'spaces==0.51.3'

$(GRADIO5)/.installed:
	$(PYTHON) -m venv $(GRADIO5)
	$(GRADIO5)/bin/python -m pip install -q 'gradio>=5,<6' $(SPACES)
	touch $@

$(GRADIO4)/.installed:
	$(PYTHON) -m venv $(GRADIO4)
	$(GRADIO4)/bin/python -m pip install -q $(GRADIO4_PINS) $(SPACES)
	touch $@

conformance: $(STAMP) proxies $(GRADIO5)/.installed $(GRADIO4)/.installed
	@for py in $(PY) $(GRADIO5)/bin/python $(GRADIO4)/bin/python; do \
	  G4F_GRADIO_PYTHON=$$py $(PY) -m pytest tests/contract || exit 1; \
	done

# gpt4free's clients drive g4f_magic.gpt4free (tests/integration/test_gpt4free.py): the newest g4f is in the
# test venv; the seed's 0.5.4.5 gets a venv of its own, with the package and the test runner only.
G4F05 := .venv-g4f05
G4F05_PINS := 'g4f==0.5.4.5' 'huggingface_hub>=1.0' 'pytest>=8' 'pytest-asyncio>=0.23' 'pytest-timeout>=2.2' 'trustme>=1.1'

$(G4F05)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(G4F05)
	$(G4F05)/bin/python -m pip install -q -e . $(G4F05_PINS)
	touch $@

g4f05: $(G4F05)/.installed
	$(G4F05)/bin/python -m pytest -p no:cacheprovider tests/integration/test_gpt4free.py

demo: $(DEMO_STAMP)
	G4F_MAGIC_ENDPOINT=$(DEMO_ENDPOINT) $(PY) -m g4f_magic.demo $(if $(DEMO_ENDPOINT),,--real) --out build/demo

# Side-by-side figures (issue #6): installs the upstream provider beside ours, writes benchmarks/RESULTS.md.
# Run as a user's install runs: with .pyc caches (this machine's PYTHONDONTWRITEBYTECODE would make every
# import-time figure include compiling).
bench: export PYTHONDONTWRITEBYTECODE =
bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.notebook_bytes
	$(PY) -m benchmarks.replay
	$(PY) -m benchmarks.cpu
	$(PY) -m benchmarks.first_run
	$(PY) -m benchmarks.concurrency
	$(PY) -m benchmarks.kernel_rss
	$(PY) -m benchmarks.real_routes
	$(PY) -m benchmarks.tls_default
	$(PY) -m benchmarks.store
	$(PY) -m benchmarks.batch
	$(PY) -m benchmarks.pool
	$(PY) -m benchmarks.providers
	$(PY) -m benchmarks.capacity

# The fuzz tests with 2,000 examples each (the normal test run uses a bounded 150): about 20 minutes.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/fuzz --timeout=0

# 300 sequential + 30 concurrent generations with random faults, then 100 + 30 --bg and panel runs in a
# real kernel; what leaked (writes benchmarks/SOAK.md).
soak: $(STAMP)
	$(PY) -m benchmarks.soak

# Remove each hostile-input guard in turn; its tests must fail (about a minute).
guards: $(STAMP)
	$(PY) tests/support/guards.py

# the local Space alone (the package is all it needs)
space: $(DEMO_STAMP)
	$(PY) -m g4f_magic.localspace --port $${PORT:-7860}

# JupyterLab against the local Space, offline: installs JupyterLab into the venv, serves the Space on 7860
LAB_STAMP := $(VENV)/.lab
$(LAB_STAMP): $(DEMO_STAMP)
	$(PY) -m pip install -q -e '.[lab]'
	touch $(LAB_STAMP)

lab: $(LAB_STAMP)
	$(PY) -m g4f_magic.localspace --port 7860 & trap 'kill $$!' EXIT; \
	G4F_MAGIC_ENDPOINT=http://127.0.0.1:7860 $(VENV)/bin/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) $(GRADIO5) $(GRADIO4) $(G4F05) build .pytest_cache
