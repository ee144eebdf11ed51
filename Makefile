# Two commands from a fresh clone: `make run` and `make test`.
# With DATABASE_URL unset, an embedded PostgreSQL under .data/pg is used.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test test-system test-citus system-install system-packages install db-start db-stop db-setup lint format check clean bench bench-quick bench-realtime

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The bench extra (gunicorn, orjson, matplotlib, pyinstrument). The load generator is
# bench/loadgen.py (pure Python, no system package): see docs/performance.md.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

db-start: $(STAMP)
	@$(PY) manage.py db_start

db-stop: $(STAMP)
	@$(PY) manage.py db_stop

db-setup: db-start
	@$(PY) manage.py db_setup

run: db-setup
	@$(PY) manage.py seed
	@$(PY) manage.py serve

test: db-setup
	@$(PY) -m pytest $(PYTEST_ARGS)

# System tests (docs/operations.md): everything under tests/system/, which `make test`
# does not collect - live servers, a PostgreSQL restart mid-request, schemathesis fuzzing,
# and the isolation suite again with DB_POOL=true and through PgBouncer (transaction mode).
# Installs the `system` extra and, when missing, Debian's pgbouncer, chromium and
# chromium-driver (the admin driven by Selenium in headless Chromium).
system-install: $(STAMP)
	@$(PY) -c 'import schemathesis, selenium' 2>/dev/null || \
		$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,system]'

system-packages:
	@if ! command -v pgbouncer >/dev/null 2>&1 && ! test -x /usr/sbin/pgbouncer; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing pgbouncer (Debian package)..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; \
		else \
			echo "make test-system needs pgbouncer: run 'sudo apt-get install -y pgbouncer' (or run as root)." >&2; \
			exit 1; \
		fi; \
	fi
	@# The admin's browser test (tests/system/test_admin_browser.py): headless Chromium
	@# and its driver, Debian's packages (they match each other's version).
	@if ! test -x /usr/bin/chromium || ! test -x /usr/bin/chromedriver; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing chromium and chromium-driver (Debian packages)..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "make test-system needs /usr/bin/chromium and /usr/bin/chromedriver: run 'sudo apt-get install -y chromium chromium-driver' (or run as root)." >&2; \
			exit 1; \
		fi; \
	fi

test-system: system-install system-packages db-setup
	@$(PY) -m pytest tests/system -rA --durations=10 $(PYTEST_ARGS)

# Citus (docs/scaling.md): tests/citus, which `make test` does not collect, on a real
# cluster. Builds Citus from ../shared/vendor/citus-14.0.1.tar.gz (CITUS_SOURCE overrides)
# once into .data/citus/ (a copy of the embedded PostgreSQL 18 with the extension; installs
# liblz4-dev and libzstd-dev when root and missing), starts a coordinator and two workers
# on 127.0.0.1 (.data/citus-cluster/), migrates and distributes, runs the tests, and stops
# the nodes, also on failure. Needs no database of `make db-setup`.
test-citus: $(STAMP)
	@$(PY) ops/citus.py test $(PYTEST_ARGS)

# Benchmarks (docs/performance.md): builds or reuses bench_large/bench_small, migrates and
# seeds the development database for the side benchmarks (step extras), prints the tables,
# writes bench/results/. BENCH_ARGS=--fresh rebuilds the bench databases.
bench: $(BENCH_STAMP) db-start
	@$(PY) bench/run.py $(BENCH_ARGS)

# W1 alone on bench_small, on the judged server, 5 short rounds: one answer in under a
# minute while iterating (writes .data/bench/results/, never bench/results/).
bench-quick: $(BENCH_STAMP) db-start
	@$(PY) bench/run.py --quick $(BENCH_ARGS)

# The live feed (issue 19, docs/performance.md "Realtime feed"): 1,000 SSE subscribers on one
# uvicorn process, fan-out latency at 100 events/s, memory per subscriber, W1 with the feed
# idle vs subscribed, the API under ASGI vs gunicorn sync, uvicorn vs granian, a leak probe.
# Uses bench_small (built if missing); writes bench/results/realtime-<date>.md. About 6
# minutes; BENCH_ARGS=--quick: 200 subscribers, short rounds, about 2 minutes.
bench-realtime: $(BENCH_STAMP) db-start
	@$(PY) bench/realtime.py $(BENCH_ARGS)

# Style, then the layers (import-linter contracts in pyproject.toml; docs/architecture.md).
lint: $(STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports

format: $(STAMP)
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

clean: db-stop
	rm -rf .data
