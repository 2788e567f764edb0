# The two commands of the README:
#   make book   set up, generate the synthetic world, execute and build the book
#   make test   set up and run the whole test suite (notebooks included, quick profile)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test smoke book clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q

smoke: setup
	$(PY) -m osnet_lib smoke

clean:
	rm -rf book/_build .pytest_cache
