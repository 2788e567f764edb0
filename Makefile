# The two commands of the README:
#   make book   set up, generate the synthetic world, execute the chapters (cpu profile; a chapter
#               whose notebook, library and profile did not change is not re-run) and build the site
#   make test   set up, lint (ruff) and type-check (mypy) the code, then run the whole test suite
#               (chapters included, under the quick profile)
# and, for readers: make lab (the chapters in JupyterLab), make pdf (the book as one PDF).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MATHJAX := book/_assets/mathjax/VERSION

.PHONY: setup browser lint test smoke book lab pdf clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

$(MATHJAX): book/fetch_mathjax.sh
	bash book/fetch_mathjax.sh

setup: $(STAMP) $(MATHJAX)

# Debian's Chromium for the browser test of the built site (needs root or sudo).
browser:
	bash book/install_browser.sh

# ruff (rules and line length in pyproject.toml) and mypy on osnet_lib, before the tests
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q

smoke: setup
	$(PY) -m osnet_lib smoke

book: setup
	$(PY) -m osnet_lib.reproduce --profile cpu
	$(VENV)/bin/jupyter-book build book

# The chapters in JupyterLab, from the project's environment (a reader's runs write their
# results to book/runs/<profile>/, never over the book's own).
lab: setup
	$(VENV)/bin/jupyter lab book/chapters

# The book as one PDF (book/_build/pdf/osnet-book.pdf), printed by headless Chromium (make browser).
pdf: setup
	$(PY) book/print_pdf.py

clean:
	rm -rf book/_build .pytest_cache
