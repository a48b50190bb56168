# cmnb — every command creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Jupyter refuses to run as root (containers, CI) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: test lint unit compat compat-new lab app bench screenshots chromium clean

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

# The unit suite again in venvs of their own, at both ends of what we support:
#   compat     the oldest: Python 3.10 (pyenv's, else a system python3.10, else $(PYTHON)),
#              pandas 2 and ipywidgets 7.7 (Colab);
#   compat-new the newest: Python 3.13 (pyenv's, else a system python3.13, else $(PYTHON)),
#              the newest pandas and ipywidgets.
# docs/development.md lists the combinations; each run prints the versions it got.
COMPAT := .venv-compat
COMPAT_NEW := .venv-compat-new
COMPAT_PYTHON ?= $(or $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10 \
	/usr/bin/python3.10 /usr/local/bin/python3.10)),$(PYTHON))
COMPAT_NEW_PYTHON ?= $(or $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13 \
	/usr/bin/python3.13 /usr/local/bin/python3.13)),$(PYTHON))
COMPAT_TOOLS := 'pytest>=7.4' 'responses>=0.24' 'hypothesis>=6.90' 'python-dotenv>=1.0' \
	'pytest-markdown-docs>=0.6'
# Everything but what needs the extras' heavy tools (Jupyter servers, nbval, the official SDK).
COMPAT_TESTS := tests -m "not browser and not dist" -k "not benchmark" \
	--ignore=tests/test_notebooks.py --ignore=tests/test_benchmarks.py \
	--ignore=tests/test_sandbox_sdk.py
COMPAT_VERSIONS := -c 'import sys, pandas, ipywidgets; print("compat: Python", \
	sys.version.split()[0], "pandas", pandas.__version__, "ipywidgets", ipywidgets.__version__)'

$(COMPAT)/.installed: pyproject.toml
	$(COMPAT_PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install -q --upgrade pip
	$(COMPAT)/bin/python -m pip install -q -e . 'pandas>=2,<3' 'ipywidgets>=7.7,<7.8' $(COMPAT_TOOLS)
	touch $@

$(COMPAT_NEW)/.installed: pyproject.toml
	$(COMPAT_NEW_PYTHON) -m venv $(COMPAT_NEW)
	$(COMPAT_NEW)/bin/python -m pip install -q --upgrade pip
	$(COMPAT_NEW)/bin/python -m pip install -q --upgrade -e . pandas ipywidgets $(COMPAT_TOOLS)
	touch $@

## make compat: the unit tests under the oldest versions we support (see above).
compat: $(COMPAT)/.installed
	$(COMPAT)/bin/python $(COMPAT_VERSIONS)
	$(COMPAT)/bin/pytest -q -p no:cacheprovider $(COMPAT_TESTS)

## make compat-new: the unit tests under the newest Python, pandas and ipywidgets.
compat-new: $(COMPAT_NEW)/.installed
	$(COMPAT_NEW)/bin/python $(COMPAT_VERSIONS)
	$(COMPAT_NEW)/bin/pytest -q -p no:cacheprovider $(COMPAT_TESTS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check cmnb tests benchmarks notebooks/build.py
	$(BIN)/ruff format --check cmnb tests benchmarks notebooks/build.py
	$(BIN)/mypy cmnb
	$(BIN)/lint-imports

## make test: everything — lint, types, the compat run, unit tests, notebooks (nbval), browser tests,
## and every Python block of README.md and docs/*.md (pytest-markdown-docs; conftest.py seeds them).
# The notebooks' saved outputs are SANDBOX outputs: never let a developer's key turn them LIVE.
# The docs' blocks run in a pytest of their own: --markdown-docs would also collect tests/*.py.
test: $(VENV)/.installed-test chromium lint compat compat-new
	env -u CHARTMOGUL_API_KEY -u CHARTMOGUL_BASE_URL $(BIN)/pytest tests --nbval notebooks \
		--nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env -p no:cacheprovider
	env -u CHARTMOGUL_API_KEY -u CHARTMOGUL_BASE_URL $(BIN)/pytest --markdown-docs README.md docs \
		-p no:cacheprovider

unit: $(VENV)/.installed-test
	$(BIN)/pytest tests -m "not browser"

## make lab: JupyterLab on the first example notebook (the form in it goes LIVE only after you paste a key).
lab: $(VENV)/.installed-notebook
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/01-create-a-source.ipynb

## make app: the form alone, served by Voilà behind a token (cmnb app prints the URL).
app: $(VENV)/.installed-notebook
	$(BIN)/cmnb app

## make screenshots: docs/form.png and docs/form-dark.png (the README's), taken by the browser test.
screenshots: $(VENV)/.installed-test chromium
	env -u CHARTMOGUL_API_KEY -u CHARTMOGUL_BASE_URL CMNB_SCREENSHOTS=docs $(BIN)/pytest \
		tests/test_browser.py -k test_voila_screenshots_of_the_form -p no:cacheprovider

## make bench: the benchmarks, printing ratios measured in one run.
bench: $(VENV)/.installed-test
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) $(COMPAT) $(COMPAT_NEW) .pytest_cache .mypy_cache .ruff_cache
