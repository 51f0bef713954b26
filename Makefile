# Frontier Ledger — every target sets itself up on a fresh machine.
#   make demo   build a log and serve it on http://127.0.0.1:8000
#   make test   lint-free tests: unit, property, vectors, integration, crash, interop
#   make interop  the log witnessed by litewitness (filippo.io/torchwood), built with Go
#   make fuzz-api  the HTTP API and the site fuzzed in-process, with many examples
#   make lint   ruff + mypy (strict for verifier/)
#   make bench  benchmarks/ (installs the peer libraries it compares against)
#   make mutation  mutation testing of the rule engine and the proof code (slow; not in make test)
#   make lock   regenerate requirements/*.lock (the pinned, hash-checked dependencies)
#   make fuzz   both fuzzers, with many examples: fuzz-audit (engine against reference,
#               admission against audit) and fuzz-api

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DATA ?= demo-data
HOST ?= 127.0.0.1
PORT ?= 8000
LOCKS  := requirements/verifier.lock requirements/server.lock

.PHONY: all venv demo test test-fast fuzz fuzz-audit fuzz-api lint bench mutation clean browser axe postgres nginx docker-check lock interop openssh

all: test

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"' \
	  || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The dependencies come from the lock, every file checked against its sha256 hash
# (requirements/server.lock: the server and dev extras); the project itself is then
# installed editable without dependencies, so nothing unpinned comes in with it.
$(STAMP): $(BIN)/python pyproject.toml $(LOCKS)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/server.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/frontier-ledger demo --data $(DEMO_DATA) --serve --host $(HOST) --port $(PORT)

# interop runs tests/test_litewitness_interop.py first; the full run leaves it out.
test: $(STAMP) browser axe postgres nginx interop
	FRONTIER_REQUIRE_BROWSER=1 FRONTIER_REQUIRE_POSTGRES=1 FRONTIER_REQUIRE_NGINX=1 \
	  $(BIN)/python -m pytest -q --ignore=tests/test_litewitness_interop.py

# Interop with an existing witness: litewitness and witnessctl (filippo.io/torchwood, the
# version pinned in tests/interop/litewitness.sh) are built with Go into .cache/interop/
# (once: a few minutes; then skipped), and the test runs them on loopback with the
# witness key in an ssh-agent of its own (Debian's openssh-client). Go is needed only
# here; FRONTIER_REQUIRE_INTEROP=1 makes a missing Go or a failed build a failure.
interop: $(STAMP) openssh
	bash tests/interop/litewitness.sh
	FRONTIER_REQUIRE_INTEROP=1 $(BIN)/python -m pytest -q tests/test_litewitness_interop.py

openssh:
	@command -v ssh-agent >/dev/null 2>&1 && command -v ssh-add >/dev/null 2>&1 \
	  && command -v ssh-keygen >/dev/null 2>&1 || { \
	  echo "installing Debian's openssh-client for the litewitness interop test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openssh-client; }

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

fuzz: fuzz-audit fuzz-api

# tests/test_api_fuzz.py with FUZZ_API_EXAMPLES examples per API operation (schemathesis,
# from /openapi.json) and per site property (hypothesis), where make test runs a few
# dozen. Minutes, not seconds: run it before a release, or after changing a route.
FUZZ_API_EXAMPLES ?= 2000
fuzz-api: $(STAMP)
	FRONTIER_FUZZ_EXAMPLES=$(FUZZ_API_EXAMPLES) $(BIN)/python -m pytest -q tests/test_api_fuzz.py

# Differential fuzzing (tests/test_differential.py): FUZZ_EXAMPLES random schedules
# (tests/schedules.py), each appended through admission with what it refuses forced in;
# the policy engine's findings against the reference auditor's, and admission against
# audit. Each new kind of disagreement is reduced and written to tests/scenarios/found/;
# the summary says how many schedules ran and what was found (FRONTIER_FUZZ_SEED=n to
# repeat a run).
FUZZ_EXAMPLES ?= 10000
fuzz-audit: $(STAMP)
	FRONTIER_FUZZ=1 FRONTIER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -s \
	  -p no:cacheprovider tests/test_differential.py -k engine_equals_reference

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check verifier ledger public_site frontier_ledger
	$(BIN)/mypy verifier ledger public_site frontier_ledger

bench: $(STAMP) postgres
	bash benchmarks/run.sh

# Mutation testing (docs/testing.md, "Mutation testing"): mutmut mutates verifier/policy/
# and the proof and note code of verifier/core/ ([tool.mutmut] in pyproject.toml), runs
# the fast tests against every mutant on ONE worker (the machine's cores are shared),
# then prints the score per module. Incremental: results stay in mutants/ and only
# changed functions are tested again; `rm -rf mutants` starts over. Not part of `make test`.
FRONTIER_TEST_VECTORS ?= $(abspath $(CURDIR)/../shared/test-vectors)
MUTMUT_ARGS ?=
mutation: $(STAMP)
	FRONTIER_TEST_VECTORS=$(FRONTIER_TEST_VECTORS) $(BIN)/mutmut run --max-children 1 $(MUTMUT_ARGS)
	$(BIN)/python -m tests.mutation_scores --json mutants/scores.json

# requirements/verifier.lock is what `pip install .` needs (the verifier alone),
# requirements/server.lock what the server and dev extras need; both pinned with
# their hashes by pip-compile from pyproject.toml, resolved for Python 3.11 (the
# image's) on this platform. Existing pins are kept; to upgrade them:
#   make lock LOCK_ARGS=--upgrade              (everything)
#   make lock LOCK_ARGS='--upgrade-package X'  (one package)
# --no-emit-find-links/--no-emit-index-url: a machine's pip settings stay out of the locks.
PIP_TOOLS_VERSION ?= 7.7.0
LOCK_ARGS ?=
PIP_COMPILE = CUSTOM_COMPILE_COMMAND='make lock' $(BIN)/pip-compile --quiet --generate-hashes \
  --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url --no-emit-trusted-host \
  $(LOCK_ARGS)
lock: $(BIN)/python
	@$(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
	  || { echo "make lock resolves for Python 3.11, the image's: rm -rf $(VENV) and set PYTHON=/path/to/python3.11"; exit 1; }
	@[ -x $(BIN)/pip-compile ] || $(BIN)/python -m pip install --quiet 'pip-tools==$(PIP_TOOLS_VERSION)'
	@mkdir -p requirements
	$(PIP_COMPILE) --output-file requirements/verifier.lock pyproject.toml
	$(PIP_COMPILE) --extra server --extra dev --output-file requirements/server.lock pyproject.toml
	@{ echo '# The verifier alone, as `pip install .` needs it: cryptography and its dependencies.'; \
	   echo '# Install: pip install --require-hashes -r requirements/verifier.lock && pip install --no-deps .'; \
	   cat requirements/verifier.lock; } > requirements/verifier.lock.tmp
	@{ echo '# The server and dev extras (make venv, make test, make demo, the image): everything'; \
	   echo '# pyproject.toml names, with their dependencies.'; \
	   echo '# Install: pip install --require-hashes -r requirements/server.lock && pip install --no-deps -e .'; \
	   cat requirements/server.lock; } > requirements/server.lock.tmp
	@mv requirements/verifier.lock.tmp requirements/verifier.lock
	@mv requirements/server.lock.tmp requirements/server.lock

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .mypy_cache .ruff_cache build *.egg-info test-artifacts .cache/interop mutants
