#!/usr/bin/env bash
# The README's Quick start, on any Debian 12 machine with npm:
#
#   scripts/quick-start.sh system   Node.js 24 if needed, npm ci, npm run system
#   scripts/quick-start.sh test     Node.js 24 if needed, npm ci, npm test
#
# When the node on PATH is older than 24.11 (Debian 12's is 18, many machines still have 20),
# Node.js 24 LTS is installed from the npm registry into /opt/node24 first (see
# scripts/lib/node24.sh) and put first on PATH for the rest of the run, so `npm ci` installs for,
# and every step runs on, Node.js 24.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/node24.sh
source scripts/lib/node24.sh

case "${1:-}" in
  system) target=(npm run system) ;;
  test) target=(npm test) ;;
  *)
    echo "usage: $0 system|test" >&2
    exit 2
    ;;
esac

ensure_node24
npm ci --no-audit --no-fund
exec "${target[@]}"
