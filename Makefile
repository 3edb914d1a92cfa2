# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements

# The test suite runs against real PostgreSQL and Redis (local ones by default).
TEST_DATABASE_URL ?= $(if $(DATABASE_URL),$(DATABASE_URL),postgres://postgres@127.0.0.1:5432/salesproject)
TEST_REDIS_URL ?= $(if $(REDIS_URL),$(REDIS_URL),redis://127.0.0.1:6379/0)
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CACHE_KEY_PREFIX=test READ_DOT_ENV=false
# The embedded default: no DATABASE_URL, no REDIS_URL, no broker.
EMBEDDED_ENV := env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL READ_DOT_ENV=false
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-postgres test-embedded lint docs format check-services bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install pinned requirements

run: install ## Migrate, load demo data (first time only), serve on http://127.0.0.1:8000
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty --with-users
	@echo "Admin: http://$(HOST):$(PORT)/admin/  API: http://$(HOST):$(PORT)/api/  Docs: http://$(HOST):$(PORT)/api/docs/"
	$(PY) manage.py runserver $(HOST):$(PORT)

check-services: install ## Fail early, with instructions, if PostgreSQL or Redis is down
	@$(TEST_ENV) $(PY) scripts/check_services.py

test: check-services ## The whole suite on PostgreSQL + Redis, then the embedded-default smoke run
	$(TEST_ENV) $(PY) -m pytest
	$(EMBEDDED_ENV) $(PY) -m pytest -m embedded

lint: install ## ruff check + format check, mypy (pyproject.toml), and migrations up to date
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(EMBEDDED_ENV) $(VENV)/bin/mypy .
	$(EMBEDDED_ENV) $(PY) manage.py makemigrations --check --dry-run

docs: install ## The documentation site (MkDocs, Material) into site/; --strict: a broken link fails
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Benchmarks use their own database (seed_demo --reset wipes it), never the test or dev one.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sales_bench
BENCH_ENV := DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CACHE_KEY_PREFIX=bench READ_DOT_ENV=false

# `make bench`: every benchmark of bench/ (bench/suite.py; see bench/README.md), ~35 minutes at
# the default 1,000,000 sales: seeds sales_bench once (SALES=n to size), runs each benchmark,
# writes bench/results/suite.json and the part of docs/PERFORMANCE.md between its markers.
# BENCH_ARGS adds options, e.g. BENCH_ARGS="--reuse --only http_reads,analytics" or "--quick".
BENCH_ARGS ?=
bench: check-services bench-wrk ## Every benchmark (seeds SALES=n, default 1M) -> docs/PERFORMANCE.md
	$(BENCH_ENV) $(PY) bench/suite.py $${SALES:+--sales $$SALES} \
		--database-url $(BENCH_DATABASE_URL) --redis-url $(TEST_REDIS_URL) \
		--purge-redis-url $(BENCH_CACHE_PURGE_REDIS_URL) $(BENCH_ARGS)

# wrk (the HTTP load generator of bench-reads, bench-sales and bench) from apt when missing.
.PHONY: bench-wrk
bench-wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		echo "wrk is missing: installing it with apt-get"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }

# --- bench-reads: the HTTP read path (bench/http_reads.py; see bench/README.md) ----------------
# On sales_bench, seeded first when it is empty (same sizes as make bench: SALES, a tenth as many
# customers, 5,000 products); gunicorn + wrk, 16 and 64 connections, 3 runs of 10 s, py-spy.
BENCH_READS_ARGS ?= --profile 10
.PHONY: bench-reads
bench-reads: check-services bench-wrk ## HTTP read path (gunicorn + wrk) on sales_bench, seeded if empty
	$(BENCH_ENV) $(PY) scripts/create_database.py
	$(BENCH_ENV) $(PY) manage.py migrate --noinput -v 0
	$(BENCH_ENV) $(PY) manage.py seed_demo --if-empty --sales $${SALES:-1000000} \
		--customers $$(( $${SALES:-1000000} / 10 )) --products 5000 --no-progress
	$(BENCH_ENV) $(PY) bench/http_reads.py --redis-url $(TEST_REDIS_URL) $(BENCH_READS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

# --- bench-sales: the sales write benchmark (bench/sales_load.py; see bench/README.md) ---------
# Concurrent clients POST sales over HTTP to gunicorn (wrk), LocalCatalog and HttpCatalog, then
# checks the books. Installs wrk with apt-get when it is missing. BENCH_SALES_ARGS adds options,
# e.g. make bench-sales BENCH_SALES_ARGS="--mode local --connections 16,64".
BENCH_SALES_ARGS ?=
.PHONY: bench-sales
bench-sales: check-services bench-wrk ## Sales write benchmark over HTTP (gunicorn + wrk), both catalogs
	$(PY) bench/sales_load.py --pg-url $(TEST_DATABASE_URL) --redis-url $(TEST_REDIS_URL) $(BENCH_SALES_ARGS)

# --- bench-analytics: the analytics read benchmark (bench/analytics.py; see bench/README.md) --------
# Its own database (created, migrated and seeded the first time with 1,000,000 demo sales, a tenth
# as many customers and 5,000 products, as make bench does; SALES=n to size), then every endpoint
# uncached vs a plain GROUP BY, cached, the rollup rebuild, and the sales team reports.
BENCH_ANALYTICS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sales_bench_analytics
BENCH_ANALYTICS_ENV := DATABASE_URL=$(BENCH_ANALYTICS_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CACHE_KEY_PREFIX=bench_analytics READ_DOT_ENV=false LOG_LEVEL=warning
BENCH_ANALYTICS_ARGS ?=
.PHONY: bench-analytics
bench-analytics: check-services ## Analytics endpoints (uncached, GROUP BY, cached) and rollup rebuild on 1M sales
	$(BENCH_ANALYTICS_ENV) $(PY) scripts/create_database.py
	$(BENCH_ANALYTICS_ENV) $(PY) manage.py migrate --noinput -v 0
	$(BENCH_ANALYTICS_ENV) $(PY) manage.py seed_demo --if-empty --sales $${SALES:-1000000} \
		--customers $$(( $${SALES:-1000000} / 10 )) --products 5000 --no-progress
	$(BENCH_ANALYTICS_ENV) $(PY) bench/analytics.py $(BENCH_ANALYTICS_ARGS)

# --- bench-import: import/export engine benchmark (bench/files_import_export.py; docs/import_export.md) --
# Its own databases (sales_bench_import, sales_bench_import_empty, sales_bench_import_run) on the
# server of TEST_DATABASE_URL. BENCH_IMPORT_ARGS adds options, e.g. BENCH_IMPORT_ARGS="--reuse".
BENCH_IMPORT_ARGS ?=
.PHONY: bench-import
bench-import: check-services ## Import/export benchmark: 1M sale lines exported and imported, 20k products
	$(PY) bench/files_import_export.py --pg-url $(dir $(TEST_DATABASE_URL))postgres $(BENCH_IMPORT_ARGS)

# --- bench-import-profile: where a sales import's time goes (bench/import_profile.py; docs/import_export.md) --
# The reference file of make bench-import, imported in process into a fresh copy of its empty
# database, then again: wall time, the server's and the client's CPU per phase and statement.
# BENCH_PROFILE_ARGS adds options, e.g. BENCH_PROFILE_ARGS="--per-row --runs 3".
BENCH_PROFILE_ARGS ?=
.PHONY: bench-import-profile
bench-import-profile: check-services ## Server/client CPU per phase and statement of the 1M-line sales import
	$(PY) bench/import_profile.py --pg-url $(dir $(TEST_DATABASE_URL))postgres $(BENCH_PROFILE_ARGS)

# --- bench-bulk: POST /api/products/bulk/ with 10,000 items (bench/bulk_products.py; docs/celery.md) --
# Its own database (created and migrated here), the Django test client in process; create and
# update items/s, median of 5 runs. BENCH_BULK_ARGS adds options, e.g. BENCH_BULK_ARGS="--runs 9".
BENCH_BULK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sales_bench_bulk
BENCH_BULK_ENV := DATABASE_URL=$(BENCH_BULK_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CACHE_KEY_PREFIX=bench_bulk READ_DOT_ENV=false LOG_LEVEL=warning CELERY_TASK_ALWAYS_EAGER=true
BENCH_BULK_ARGS ?=
.PHONY: bench-bulk
bench-bulk: check-services ## POST /api/products/bulk/ with 10,000 items: create and update items/s (>= 5,000)
	$(BENCH_BULK_ENV) $(PY) scripts/create_database.py
	$(BENCH_BULK_ENV) $(PY) manage.py migrate --noinput -v 0
	$(BENCH_BULK_ENV) $(PY) bench/bulk_products.py $(BENCH_BULK_ARGS)

# --- bench-cache-purge: purging stale cache generations (bench/cache_purge.py; docs/celery.md) -----
# Its own Redis database (5; the broker moved to 6) and key prefix: 1,000,000 stale keys purged by
# SCAN + UNLINK while another process reads live keys, then KEYS + DEL as the baseline.
BENCH_CACHE_PURGE_REDIS_URL ?= redis://127.0.0.1:6379/5
BENCH_CACHE_PURGE_ARGS ?=
.PHONY: bench-cache-purge
bench-cache-purge: install ## Purge of 1M stale cache keys while a client reads (its max latency)
	$(PY) bench/cache_purge.py --redis-url $(BENCH_CACHE_PURGE_REDIS_URL) $(BENCH_CACHE_PURGE_ARGS)

# --- bench-adversarial: hostile input against a running service (bench/adversarial_*.py) ---------
# Each bench/adversarial_*.py in turn (searches: many and short words while /health/live is
# probed; see bench/README.md), on sales_bench (created and seeded with 200,000 sales if empty).
.PHONY: bench-adversarial
bench-adversarial: check-services ## Adversarial searches (and files) against gunicorn: time per request, responsiveness
	@set -e; for script in bench/adversarial_*.py; do \
		echo "== $$script"; $(BENCH_ENV) $(PY) $$script; \
	done
