# The two commands of the README: `make run` and `make test`. Everything else is a helper.
.PHONY: run test setup services lint bench bench10

PY := .venv/bin/python
PORT ?= 8000
PYTEST_WORKERS ?= 2

setup:
	@bash scripts/setup.sh

services:
	@bash scripts/services.sh

# Set up everything and start the portal on SQLite with demo data (tasks run in-process).
run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py measure_key_results
	$(PY) manage.py notify
	@echo "==> Portal at http://127.0.0.1:$(PORT)/ (stop with Ctrl-C)"
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# Check the import contracts (pyproject.toml, import-linter), fuzz the REST API against its
# OpenAPI schema on gunicorn (schemathesis), then run the whole
# test suite against PostgreSQL and Redis (both started if they are down). The suite runs last
# so that its summary line ends the output.
test:
	@bash scripts/setup.sh --browser
	@bash scripts/services.sh
	.venv/bin/lint-imports
	@bash scripts/api_fuzz.sh
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

lint: setup
	$(PY) -m ruff check .

# Build the DESIGN.md scale on PostgreSQL (or reuse it) and run every benchmark and the load
# test; the report goes to benchmarks/results/report.md. See README, Benchmarks.
bench:
	@bash scripts/setup.sh --bench
	$(PY) benchmarks/run.py

# The same at ten times the DESIGN.md scale (portal_scale10: about 20-25 minutes to build and
# 12 GB of disk the first time; a run about 25 minutes); report in benchmarks/results/x10/report.md.
bench10:
	@bash scripts/setup.sh --bench
	$(PY) benchmarks/run.py --times 10
