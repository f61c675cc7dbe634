# The two commands a new user runs (see README.md):
#   make demo   set up (virtual env, pinned deps, Cython build) and run the demo
#   make test   set up and run the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup build demo test bench clean

$(STAMP): requirements.txt pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23" "setuptools>=65" wheel
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

build: setup
	$(PY) setup.py --quiet build_ext --inplace

demo: build
	$(PY) -m reramsim.demo

test: build
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: build
	mkdir -p out
	$(PY) benchmarks/bench_engine.py --json out/bench_engine.json

clean:
	rm -rf build $(VENV) reramsim/_core/*.c reramsim/_core/*.so
