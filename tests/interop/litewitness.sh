#!/usr/bin/env bash
# Build litewitness and witnessctl (filippo.io/torchwood) at a pinned version, for the
# interop test (tests/test_litewitness_interop.py) and docs/verifier.md
# "Witnessing with litewitness". Go is only needed here: the product stays Python.
#
#   bash tests/interop/litewitness.sh        prints the directory holding both binaries
#
# Everything goes under .cache/interop/ (gitignored): the Go module cache, the build
# cache and the binaries, so nothing outside the project changes. Nothing of torchwood
# is committed; the go command fetches the module through the Go module proxy and
# checks it against the checksum database, as `go install pkg@version` always does.
# When .cache/interop/bin/<version>/ already holds both binaries, nothing is built.
set -euo pipefail

# v0.6.1: the newest release this machine's Go (1.26) builds without a toolchain
# download; its litewitness speaks c2sp.org/tlog-witness and cosigns with
# c2sp.org/tlog-cosignature (cosignature/v1, key type 0x04).
TORCHWOOD_VERSION="${TORCHWOOD_VERSION:-v0.6.1}"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${FRONTIER_INTEROP_CACHE:-$repo/.cache/interop}"
bin="$cache/bin/$TORCHWOOD_VERSION"

if [ -x "$bin/litewitness" ] && [ -x "$bin/witnessctl" ]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "litewitness.sh: go is not installed" >&2; exit 127; }

export GOPATH="$cache/gopath"
export GOMODCACHE="$cache/gopath/pkg/mod"
export GOCACHE="$cache/gocache"
# -modcacherw: the module cache stays deletable (rm -rf .cache); -mod=mod: no vendoring.
export GOFLAGS="-mod=mod -modcacherw"
# This version's go.mod asks for Go 1.24: build with the installed Go, download none.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
# zombiezen.com/go/sqlite is pure Go (modernc.org/sqlite): no C compiler needed.
export CGO_ENABLED=0

# Build into a scratch directory and move both binaries in at the end, so an
# interrupted build never leaves a half-built pair that the check above would accept.
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "building filippo.io/torchwood/cmd/{litewitness,witnessctl}@$TORCHWOOD_VERSION with $(go version)" >&2
start=$(date +%s)
GOBIN="$tmp" go install \
  "filippo.io/torchwood/cmd/litewitness@$TORCHWOOD_VERSION" \
  "filippo.io/torchwood/cmd/witnessctl@$TORCHWOOD_VERSION"
mkdir -p "$bin"
mv "$tmp/litewitness" "$tmp/witnessctl" "$bin/"
echo "built in $(( $(date +%s) - start )) s: $bin" >&2
echo "$bin"
