# The two commands of the README: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
export SAM_CLI_TELEMETRY := 0

.PHONY: run test test-unit install sam-cli localstripe services lint typecheck bench validate build coldstart clean

# Where `make run` serves: `make run PORT=8001 HOST=0.0.0.0 WORKERS=2`.
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 4

## run: set up and serve every function on http://$(HOST):$(PORT) (embedded Postgres if no DATABASE_URL)
run: install
	$(BIN)/ticketmania serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

## test: set up, make sure Postgres and Redis can be had, run the whole suite
test: install sam-cli localstripe services
	$(BIN)/pytest

## test-unit: the unit tier alone: no Postgres, no Redis, no network needed
test-unit: install
	$(BIN)/pytest tests/unit

install: $(VENV)/.installed

# The first run downloads and installs every dependency (about a minute): it
# says so, step by step, instead of leaving the terminal silent.
$(VENV)/.installed: requirements.txt layers/shared/requirements.txt layers/shared/requirements-nodeps.txt layers/tickets/requirements.txt layers/payments/requirements.txt pyproject.toml
	@echo "make: setting up $(VENV) (once, or when a requirements file changes; about a minute)" >&2
	$(PYTHON) -m venv $(VENV)
	@echo "make: upgrading pip in $(VENV)" >&2
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	@echo "make: installing the pinned dependencies of requirements.txt (the slow part)" >&2
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@echo "make: installing the ticketmania command" >&2
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@echo "make: $(VENV) is ready" >&2
	touch $@

# The SAM CLI pins its own dependencies, so it gets a virtualenv of its own.
sam-cli: $(SAM_VENV)/.installed

$(SAM_VENV)/.installed:
	@echo "make: setting up $(SAM_VENV) for the SAM CLI (once; about a minute)" >&2
	$(PYTHON) -m venv $(SAM_VENV)
	@echo "make: installing the SAM CLI $(SAM_CLI_VERSION) and what it pins" >&2
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

# localstripe (a fake Stripe API the tests run as a process of its own) pins its own
# dependencies (aiohttp), so it gets a virtualenv of its own too.
LOCALSTRIPE_VENV := .venv-localstripe
LOCALSTRIPE_VERSION := 1.15.10
localstripe: $(LOCALSTRIPE_VENV)/.installed

$(LOCALSTRIPE_VENV)/.installed:
	@echo "make: setting up $(LOCALSTRIPE_VENV) for localstripe, the tests' fake Stripe (once)" >&2
	$(PYTHON) -m venv $(LOCALSTRIPE_VENV)
	$(LOCALSTRIPE_VENV)/bin/pip install --quiet --disable-pip-version-check localstripe==$(LOCALSTRIPE_VERSION)
	touch $@

services:
	bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy layers/shared/ticketmania localdev functions/*/*/

## bench: build, then one run of every benchmark (~15 min): rewrites BENCHMARKS.md, docs/bookings-vs-concurrency.png, benchmarks/results.json
# The cold starts need the built functions: without a python3.12 the build fails, and
# the report says they were not measured.
bench: install services
	bash scripts/bench-tools.sh
	$(MAKE) build || echo "make bench: no build, so no cold starts measured" >&2
	$(BIN)/python -c "import matplotlib, sys; sys.exit(matplotlib.__version__ != '3.10.9')" 2>/dev/null \
	  || $(BIN)/pip install --quiet --disable-pip-version-check matplotlib==3.10.9
	$(BIN)/python -m benchmarks

validate: sam-cli
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM_VENV)/bin/sam validate --lint

# sam build runs layers/shared/Makefile and functions/Makefile: they need python3.12 on PATH.
build: sam-cli
	PATH="$$(scripts/python312-path.sh):$$PATH" $(SAM_VENV)/bin/sam build

## coldstart: build, then time each function's cold start against a bare FastAPI+Mangum one, and print the sizes
coldstart: build install services
	$(BIN)/python -m benchmarks.artefact --build-dir .aws-sam/build

clean:
	rm -rf $(VENV) $(SAM_VENV) $(LOCALSTRIPE_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache
