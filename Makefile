# cmnb — every command creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Jupyter refuses to run as root (containers, CI) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: test lint unit compat lab app bench chromium clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test,notebook,browser,bench]'
	touch $@

$(VENV)/.installed-notebook: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[notebook]'
	touch $@

# Debian's chromium for the browser tests: installed when we are root and it is missing.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# The oldest versions we support, in a venv of their own: Python 3.10 where the machine has it
# (pyenv's, else a system python3.10; otherwise $(PYTHON)), pandas 2 and ipywidgets 7.7 (Colab).
COMPAT := .venv-compat
COMPAT_PYTHON ?= $(or $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10 \
	/usr/bin/python3.10 /usr/local/bin/python3.10)),$(PYTHON))
# Everything but what needs the extras' heavy tools (Jupyter servers, nbval, the official SDK).
COMPAT_TESTS := tests -m "not browser and not dist" -k "not benchmark" --ignore=tests/test_notebooks.py \
	--ignore=tests/test_benchmarks.py --ignore=tests/test_sandbox_sdk.py

$(COMPAT)/.installed: pyproject.toml
	$(COMPAT_PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install -q --upgrade pip
	$(COMPAT)/bin/python -m pip install -q -e . 'pandas>=2,<3' 'ipywidgets>=7.7,<7.8' \
		'pytest>=7.4' 'responses>=0.24' 'hypothesis>=6.90'
	touch $@

## make compat: the unit tests again under Python 3.10 (where present), pandas 2, ipywidgets 7.7.
compat: $(COMPAT)/.installed
	$(COMPAT)/bin/python -c 'import sys, pandas, ipywidgets; print("compat: Python", sys.version.split()[0], "pandas", pandas.__version__, "ipywidgets", ipywidgets.__version__)'
	$(COMPAT)/bin/pytest -q -p no:cacheprovider $(COMPAT_TESTS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check cmnb tests benchmarks notebooks/build.py
	$(BIN)/ruff format --check cmnb tests benchmarks notebooks/build.py
	$(BIN)/mypy cmnb
	$(BIN)/lint-imports

## make test: everything — lint, types, the compat run, unit tests, notebooks (nbval), browser tests.
# The notebooks' saved outputs are SANDBOX outputs: never let a developer's key turn them LIVE.
test: $(VENV)/.installed-test chromium lint compat
	env -u CHARTMOGUL_API_KEY -u CHARTMOGUL_BASE_URL $(BIN)/pytest tests --nbval notebooks \
		--nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env -p no:cacheprovider

unit: $(VENV)/.installed-test
	$(BIN)/pytest tests -m "not browser"

## make lab: JupyterLab on the first example notebook (the form in it goes LIVE only after you paste a key).
lab: $(VENV)/.installed-notebook
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/01-create-a-source.ipynb

## make app: the form alone, served by Voilà.
app: $(VENV)/.installed-notebook
	$(BIN)/voila notebooks/app.ipynb

## make bench: the benchmarks, printing ratios measured in one run.
bench: $(VENV)/.installed-test
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) $(COMPAT) .pytest_cache .mypy_cache .ruff_cache
