# The two commands a new machine needs: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run test bench check install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole platform in the foreground (Ctrl-C stops it).
run: install
	$(VENV)/bin/paas up $(ARGS)

## The whole test suite, with the layering and lint checks first. As root on Debian it installs
## and starts the engines the tests need (.ci/with-engines), and stops only what it started.
test: install
	$(VENV)/bin/ruff check orchestrator builder router paas tests bench
	$(VENV)/bin/lint-imports
	.ci/with-engines $(PY) -m pytest $(PYTEST_ARGS)

## Benchmarks: figures and ratios against anchors run side by side (needs wrk, dnsperf, dnsmasq).
bench: install
	$(PY) -m bench.api $(ARGS)
	$(PY) -m bench.scheduler $(ARGS)
	$(PY) -m bench.net_dns $(ARGS)
	$(PY) -m bench.net_proxy $(ARGS)

## Formatting and types.
check: install
	$(VENV)/bin/ruff check orchestrator builder router paas tests bench
	$(VENV)/bin/ruff format --check orchestrator builder router paas tests bench
	$(VENV)/bin/mypy orchestrator builder router paas
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
