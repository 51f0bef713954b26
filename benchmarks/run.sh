#!/usr/bin/env bash
# Frontier Ledger benchmarks (`make bench`). Prints figures and writes bench-out/*.json.
#
#   bash benchmarks/run.sh            everything, in order
#   bash benchmarks/run.sh tiles http only the named ones (tiles append proofs http ed25519 admission e2e verify site site_export backends load mirror tessera)
#
# Installs the peer libraries into .venv first. nginx and wrk (Debian packages) are
# installed by bench_http.py if missing and we are root; without them it measures
# what it can and says so. bench_backends.py runs a throwaway PostgreSQL cluster of
# Debian's postgresql ('make postgres' installs it); without it, it says so.
# bench_tessera.py builds its Go peer (Tessera, pinned in benchmarks/tessera/go.mod)
# with the installed Go into bench-out/tessera/ once; without Go, it says so and fails.
set -uo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
    echo "run.sh: $PY not found; run 'make venv' first (or set PYTHON)" >&2
    exit 2
fi

echo "== installing peer libraries into .venv"
"$PY" -m pip install --quiet --disable-pip-version-check pymerkle==7.0.0 pynacl || {
    echo "run.sh: pip install pymerkle/pynacl failed; the comparisons will be skipped" >&2
}
# merkletools 1.0.3 depends on pysha3, which does not build on Python 3.11:
# install it without dependencies; bench_tiles.py shims the 'sha3' module.
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps merkletools==1.0.3 || {
    echo "run.sh: pip install merkletools failed; that comparison will be skipped" >&2
}

for tool in nginx wrk; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "== $tool is missing: bench_http.py will try 'apt-get install -y $tool'"
        else
            echo "== $tool is missing and cannot be installed here (needs root + apt-get):"
            echo "   bench_http.py will measure without it (wrk -> Python load generator)"
        fi
    fi
done

mkdir -p bench-out
all=(tiles append proofs http ed25519 admission e2e verify site site_export backends load mirror tessera)
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=("${all[@]}")

failed=()
for name in "${wanted[@]}"; do
    script="benchmarks/bench_${name}.py"
    if [ ! -f "$script" ]; then
        echo "run.sh: no benchmark '$name' (have: ${all[*]})" >&2
        failed+=("$name")
        continue
    fi
    echo
    echo "== $script  ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
    start=$SECONDS
    if "$PY" "$script"; then
        echo "== $name done in $((SECONDS - start)) s"
    else
        echo "== $name FAILED (exit $?)" >&2
        failed+=("$name")
    fi
done

echo
echo "== summary (Markdown, as in benchmarks/README.md)"
echo
"$PY" benchmarks/summary.py || true

if [ ${#failed[@]} -gt 0 ]; then
    echo "benchmarks failed: ${failed[*]}" >&2
    exit 1
fi
echo "all benchmarks done; JSON summaries in bench-out/"
