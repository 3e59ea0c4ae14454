# The children's centre health indicators warehouse.
#   make build   set up, write the demo city, load, transform, publish and report
#   make test    lint and every test
# Paths and settings come from the environment (see README): CC_LANDING_DIR, CC_WAREHOUSE,
# CC_REPORTS_DIR, CC_PSEUDO_KEY, CC_TARGET.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CC_DBT_PROJECT_DIR := $(CURDIR)
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := False
SEED ?= 42
DBT := $(BIN)/dbt
CLI := $(BIN)/cc


.PHONY: setup system-packages demo load withdraw transform reports newsletter build test lint docs clean lock bench audit

setup: $(STAMP)

# Browser tests and PDF output need Debian's Chromium and chromedriver, and poppler for
# checking PDFs; the Spark target (pyspark, which brings Spark itself) needs a Java 17
# runtime. Installed when missing (as root, as on CI); otherwise say what is needed.
SYSTEM_PACKAGES := chromium chromium-driver poppler-utils fonts-dejavu-core openjdk-17-jre-headless
system-packages:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v pdftoppm >/dev/null \
	    && command -v java >/dev/null; then \
	  true; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(SYSTEM_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	else \
	  echo "please install the Debian packages: $(SYSTEM_PACKAGES) (sudo apt-get install ...)"; exit 1; \
	fi

# The package (src/cc_warehouse, the `cc` command) installed editable, its dependencies
# (pyproject.toml) held to the exact versions of requirements.lock.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[spark,dev]"
	touch $(STAMP)

# Regenerate the exact pins after changing the dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/pip install --quiet --upgrade -e ".[spark,dev]"
	$(BIN)/pip freeze --exclude-editable > requirements.lock

demo: $(STAMP)
	$(CLI) demo --seed $(SEED)

load: $(STAMP)
	$(CLI) load

# Take a loaded file back out of the warehouse, to load a corrected one under its name:
# make withdraw FILE=maternity/maternity_20240601.csv
withdraw: $(STAMP)
	$(CLI) load --withdraw "$(FILE)"

# dbt build on a copy of the warehouse, warnings summary, source freshness, publish; the
# copy replaces the live warehouse only when all of it succeeded (src/cc_warehouse/build/transform.py).
transform: $(STAMP)
	$(CLI) transform $(DBT_ARGS)

reports: $(STAMP) system-packages
	$(CLI) reports

# One quarter's newsletters only: make newsletter PERIOD='2024/25 Q3'
newsletter: $(STAMP) system-packages
	$(CLI) newsletter $(if $(PERIOD),--period "$(PERIOD)")

# What an attacker could work out about each hidden public count (docs/methods.md)
audit: $(STAMP)
	$(CLI) audit

build: setup system-packages demo load transform reports

lint: $(STAMP)
	$(BIN)/ruff check src tests/python scripts
	$(BIN)/ruff format --check src tests/python scripts
	# sqlfluff compiles the project with dbt, against an empty scratch database
	mkdir -p target/lint
	CC_WAREHOUSE=target/lint/lint.duckdb $(BIN)/sqlfluff lint models tests/statistics tests/disclosure analyses --disable-progress-bar --processes 2

# Two workers, a test file each at a time: the Spark leg (the slowest file, started first)
# runs beside the others.
test: $(STAMP) system-packages lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=10

# Generate, load, transform and publish a preset on a fresh scratch state folder, timed stage
# by stage against the floor (bench/floor.sql): writes bench/results.json and results.md.
# make bench PRESET=city|region|england [BENCH_ARGS="--work /big/disk/cc-bench --keep"]
PRESET ?= city
bench: $(STAMP)
	$(CLI) bench --preset $(PRESET) $(BENCH_ARGS)

docs: $(STAMP)
	$(DBT) docs generate --static

clean:
	rm -rf target logs dbt_packages warehouse reports data/landing .pytest_cache
