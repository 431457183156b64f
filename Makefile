# The two commands a new machine needs: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run test bench bench-run check install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole platform in the foreground, then git push EXAMPLE and print its live URL
## (Ctrl-C stops it all). `make run EXAMPLE=` starts the platform with no app.
EXAMPLE ?= examples/python-flask

run: install
	$(VENV)/bin/paas up $(if $(EXAMPLE),--example $(EXAMPLE)) $(ARGS)

## The whole test suite, with the layering and lint checks first. As root on Debian it installs
## and starts the engines the tests need (.ci/with-engines), and stops only what it started.
## The files run on TEST_WORKERS parallel pytest workers (tests/support/parallel.py says which
## tests must share one); `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= 3
test: install
	$(VENV)/bin/ruff check orchestrator builder router paas tests bench
	$(VENV)/bin/lint-imports
	.ci/with-engines $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

## Benchmarks: each prints its figures beside anchors run side by side, then one table of every
## figure with its target, compared with the last run (bench/results/latest.json; the run before
## it is kept as previous.json). As root on Debian it installs the tools they need, as `make test`
## does, and stops only what it started. `make bench BENCHES="pods" ARGS=--quick` runs a part.
BENCHES       ?= api webhook scheduler net_dns net_proxy router pods rollout push coldstart streams limits nodestats
BENCH_RESULTS := bench/results
BENCH_TOOLS   := wrk:wrk nginx:nginx dnsperf:dnsperf dnsmasq:dnsmasq-base

bench: install
	.ci/with-engines $(addprefix --need ,$(BENCH_TOOLS)) $(MAKE) --no-print-directory bench-run

# One bench that fails does not keep the others from running; the summary names it and fails.
bench-run:
	@rm -rf $(BENCH_RESULTS)/run && mkdir -p $(BENCH_RESULTS)/run
	@for b in $(BENCHES); do \
	    echo "== python -m bench.$$b $(ARGS)"; \
	    $(PY) -m bench.$$b --results $(BENCH_RESULTS)/run/$$b.json $(ARGS) \
	        || echo "bench.$$b failed (exit $$?)"; \
	done
	$(PY) -m bench.summary $(BENCHES:%=$(BENCH_RESULTS)/run/%.json) --out $(BENCH_RESULTS)/latest.json

## Formatting and types.
check: install
	$(VENV)/bin/ruff check orchestrator builder router paas tests bench
	$(VENV)/bin/ruff format --check orchestrator builder router paas tests bench
	$(VENV)/bin/mypy orchestrator builder router paas
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
