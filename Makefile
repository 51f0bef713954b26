# Frontier Ledger — every target sets itself up on a fresh machine.
#   make demo   build a log and serve it on http://127.0.0.1:8000
#   make test   lint-free tests: unit, property, vectors, integration, crash
#   make lint   ruff + mypy (strict for verifier/)
#   make bench  benchmarks/ (installs the peer libraries it compares against)
#   make fuzz   differential fuzzing of the audit: engine against reference, admission against audit

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DATA ?= demo-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: all venv demo test test-fast fuzz lint bench clean browser axe postgres nginx docker-check

all: test

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"' \
	  || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/frontier-ledger demo --data $(DEMO_DATA) --serve --host $(HOST) --port $(PORT)

test: $(STAMP) browser axe postgres nginx
	FRONTIER_REQUIRE_BROWSER=1 FRONTIER_REQUIRE_POSTGRES=1 FRONTIER_REQUIRE_NGINX=1 $(BIN)/python -m pytest -q

# The site's browser tests drive Debian's chromium (Playwright, executable_path).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# The PostgreSQL backend's tests run a throwaway cluster of Debian's postgresql
# (initdb + pg_ctl from /usr/lib/postgresql/*/bin, in a temporary directory on a
# free port; no system service is started or used).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the PostgreSQL backend's tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq postgresql; }

# The static mirror's test (tests/test_nginx_mirror.py) runs Debian's nginx in the
# foreground with its own config in a temporary directory; RUNLEVEL=1 keeps the
# package from starting the system's nginx service on port 80.
nginx:
	@[ -x /usr/sbin/nginx ] || { \
	  echo "installing Debian's nginx for the static mirror's test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq nginx; }

# docker/ without a Docker engine: hadolint, compose validation (the Compose plugin,
# or Debian's docker-compose, installed here when neither is present), and the
# Dockerfile's install steps replayed outside Docker (docker/check.sh, docker/README.md).
docker-check:
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || { \
	  echo "installing Debian's docker-compose to validate docker/compose.yaml"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; }
	bash docker/check.sh

# The accessibility test injects axe-core (npm, pinned in package.json and
# package-lock.json) into the site's pages: install it into node_modules/ when it
# is missing or not the pinned version.
AXE_JS := node_modules/axe-core/axe.min.js
axe:
	@want=$$(sed -n 's/.*"axe-core": *"\([^"]*\)".*/\1/p' package.json); \
	have=$$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' node_modules/axe-core/package.json 2>/dev/null); \
	if [ ! -f $(AXE_JS) ] || [ "$$want" != "$$have" ]; then \
	  command -v npm >/dev/null 2>&1 || { \
	    echo "installing Debian's npm for axe-core"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm; }; \
	  echo "npm install axe-core $$want (package-lock.json)"; \
	  npm install --no-audit --no-fund; \
	fi

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow'

# Differential fuzzing (tests/test_differential.py): FUZZ_EXAMPLES random schedules
# (tests/schedules.py), each appended through admission with what it refuses forced in;
# the policy engine's findings against the reference auditor's, and admission against
# audit. Each new kind of disagreement is reduced and written to tests/scenarios/found/;
# the summary says how many schedules ran and what was found (FRONTIER_FUZZ_SEED=n to
# repeat a run).
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	FRONTIER_FUZZ=1 FRONTIER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -s \
	  -p no:cacheprovider tests/test_differential.py -k engine_equals_reference

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check verifier ledger public_site
	$(BIN)/mypy verifier ledger public_site

bench: $(STAMP) postgres
	bash benchmarks/run.sh

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .mypy_cache .ruff_cache build *.egg-info test-artifacts
