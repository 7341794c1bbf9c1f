#!/usr/bin/env bash
# Builds Docker Compose v2 from the Go module proxy: build-compose.sh VERSION OUTPUT
#
# `go install github.com/docker/compose/v2/cmd@VERSION` is refused ("The go.mod file ... contains
# one or more exclude directives"), so the module is downloaded and built in a writable copy, the
# way its own Makefile builds it. About 4 minutes on 2 cores the first time.
set -euo pipefail
version="$1"
output="$2"
module=github.com/docker/compose/v2

work="$(mktemp -d)"
cleanup() {
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# From an empty directory: outside any module, `go mod download` only fills the module cache.
dir="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "${module}@${version}" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
[ -n "$dir" ] && [ -f "$dir/go.mod" ] || {
  echo "build-compose: ${module}@${version} not found in the module cache" >&2
  exit 1
}
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$(dirname "$output")"
(cd "$work/src" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X ${module}/internal.Version=${version}" \
  -o "$output.new" ./cmd)
mv -f "$output.new" "$output"
