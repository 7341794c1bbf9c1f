#!/usr/bin/env bash
# Installs (when missing) and runs the services the test suites need, without
# Docker: RabbitMQ, PostgreSQL 15 and FerretDB (MongoDB wire protocol on SQLite).
# Target: a Debian 12 machine, run as root. Safe to re-run at any time.
#
#   scripts/infra.sh up | down | status | install [service...]
#   scripts/infra.sh start <rabbitmq|postgres|ferretdb>
#   scripts/infra.sh stop  <rabbitmq|postgres|ferretdb>
#   scripts/infra.sh cluster up|down|status|stop-node N|start-node N|kill-node N
#
# `cluster` runs a local 3-node RabbitMQ cluster on ports 5681-5683 next to the main
# node, for scale and failover tests (scripts/rabbit-cluster.sh describes it).
#
# `up` implies `install`. `start` also installs that one service if missing, so
# chaos tests can bounce a single service without caring about machine state.
set -euo pipefail

# go needs HOME for its caches; `env -i` style CI runners may not set it.
export HOME="${HOME:-/root}"
# Go lives outside the default PATH on these machines, and CI shells may lack
# the sbin dirs (pg_ctlcluster, rabbitmqctl). Appended dirs keep the caller's order.
export PATH="/usr/local/go/bin:${HOME}/go/bin:${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/wait-for.sh
source "${SCRIPT_DIR}/lib/wait-for.sh"
# shellcheck source-path=SCRIPTDIR source=rabbit-cluster.sh
source "${SCRIPT_DIR}/rabbit-cluster.sh"

WAIT_TIMEOUT="${INFRA_WAIT_TIMEOUT:-60}"

RABBITMQ_PORT=5672
RABBITMQ_LOG="/var/log/rabbitmq/rabbit@${HOSTNAME%%.*}.log"
# Enabled on the main node in addition to what /etc/rabbitmq/enabled_plugins lists (the partitioned
# topology declares x-consistent-hash exchanges). deploy/rabbitmq/enabled_plugins lists it for compose.
RABBITMQ_PLUGINS=(rabbitmq_consistent_hash_exchange)
RABBITMQ_PLUGINS_FILE=/etc/rabbitmq/enabled_plugins

PG_VERSION=15
PG_CLUSTER=main
PG_PORT=5432
PG_DB=dataflow
# Must match the default DATABASE_URL postgres://postgres:postgres@127.0.0.1:5432/dataflow
PG_PASSWORD=postgres
PG_LOG="/var/log/postgresql/postgresql-${PG_VERSION}-${PG_CLUSTER}.log"

FERRETDB_VERSION=v1.24.2
FERRETDB_PORT=27017
FERRETDB_DATA_DIR="${FERRETDB_DATA_DIR:-/var/lib/ferretdb}"
# FerretDB stores its data in a PostgreSQL cluster of its own (not the one the db-writer uses), so
# stopping "postgres" in a fault test does not take MongoDB down with it. The PostgreSQL backend
# is used rather than SQLite because only it serves `_id` lookups from an index.
FERRETDB_PG_CLUSTER=ferretdb
FERRETDB_PG_PORT=5433
FERRETDB_PG_DB=ferretdb
FERRETDB_BIN="${FERRETDB_BIN:-/usr/local/bin/ferretdb}"
FERRETDB_DEBUG_ADDR="${FERRETDB_DEBUG_ADDR:-127.0.0.1:8088}"
LOG_DIR=/var/log/dataflow
RUN_DIR=/run/dataflow
FERRETDB_LOG="${LOG_DIR}/ferretdb.log"
FERRETDB_PIDFILE="${RUN_DIR}/ferretdb.pid"

SERVICES=(rabbitmq postgres ferretdb)

log() { echo "[infra] $*"; }
die() {
  echo "[infra] ERROR: $*" >&2
  exit 1
}

# Temp dirs are removed on any exit, including a failed build under `set -e`.
TMP_DIRS=()
cleanup() {
  local d
  for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do
    # Go marks module cache copies read-only; make them deletable first.
    chmod -R u+w "$d" 2>/dev/null || true
    rm -rf "$d"
  done
}
trap cleanup EXIT

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (installs packages and manages system services)"
}

# ---------------------------------------------------------------- apt packages

pkg_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

APT_UPDATED=0
# apt_ensure PKG...: installs only what is missing, so a provisioned machine
# never touches the network (CI may have none) and re-runs stay fast.
apt_ensure() {
  local missing=() p
  for p in "$@"; do
    pkg_installed "$p" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  apt-get install -y -qq "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
}

# -------------------------------------------------------------------- RabbitMQ

rabbitmq_install() {
  apt_ensure rabbitmq-server
  rabbitmq_configure
}

# The project's broker settings (the delivery acknowledgement timeout, set explicitly), read from
# conf.d at the node's next start; the same file the compose file mounts.
rabbitmq_configure() {
  local source target
  source="$(dirname "${BASH_SOURCE[0]}")/../deploy/rabbitmq/20-dataflow.conf"
  target=/etc/rabbitmq/conf.d/20-dataflow.conf
  if ! cmp -s "$source" "$target" 2>/dev/null; then
    mkdir -p /etc/rabbitmq/conf.d
    install -m 0644 "$source" "$target" || die "could not install ${target}"
    log "rabbitmq settings installed in ${target} (read at the node's next start)"
  fi
  rabbitmq_plugins_configure
}

# Adds the project's plugins to the enabled plugins file: online when the node runs (it starts
# them at once and rewrites the file), offline otherwise (read at the node's next start; works
# right after the package is installed, before any node has run).
rabbitmq_plugins_configure() {
  local p missing=()
  for p in "${RABBITMQ_PLUGINS[@]}"; do
    grep -qw "$p" "$RABBITMQ_PLUGINS_FILE" 2>/dev/null || missing+=("$p")
  done
  ((${#missing[@]} > 0)) || return 0
  if rabbitmq_ready; then
    log "enabling rabbitmq plugins ${missing[*]} on the running node"
    rabbitmq-plugins -q enable "${missing[@]}" >/dev/null || die "rabbitmq-plugins enable ${missing[*]} failed"
  else
    log "enabling rabbitmq plugins ${missing[*]} (offline, in ${RABBITMQ_PLUGINS_FILE})"
    rabbitmq-plugins -q enable --offline "${missing[@]}" >/dev/null ||
      die "rabbitmq-plugins enable --offline ${missing[*]} failed"
  fi
}

# A node that was already running (or booting) when the file got the plugins, or that was
# started by other means, may still lack them: enable them online (a no-op when they run).
rabbitmq_plugins_ensure_running() {
  local p
  for p in "${RABBITMQ_PLUGINS[@]}"; do
    if ! rabbitmq-plugins -q is_enabled "$p" >/dev/null 2>&1; then
      log "enabling rabbitmq plugin ${p} on the running node"
      rabbitmq-plugins -q enable "$p" >/dev/null || die "rabbitmq-plugins enable ${p} failed"
    fi
  done
}

# The server's Erlang VM, as opposed to the short-lived CLI VMs that
# rabbitmq-diagnostics/rabbitmqctl spawn. Catches a node that is still booting
# (not yet answering pings), so we never launch a second one on top of it. The
# nodes of `cluster` (marked on their command line) are not the main node.
rabbitmq_vm_running() {
  local d args
  for d in /proc/[0-9]*; do
    [[ -r $d/comm && $(<"$d/comm") == beam.smp ]] 2>/dev/null || continue
    args=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
    [[ $args == *"-s rabbit boot"* && $args != *" ${CLUSTER_VM_MARK} "* ]] && return 0
  done
  return 1
}

# Ping alone succeeds while the node is still booting; check_port_connectivity
# only passes once the rabbit app runs and 5672 accepts connections.
rabbitmq_ready() {
  port_open 127.0.0.1 "$RABBITMQ_PORT" &&
    rabbitmq-diagnostics -q -t 10 check_port_connectivity >/dev/null 2>&1
}

rabbitmq_start() {
  local launched=0
  if rabbitmq_ready; then
    rabbitmq_plugins_ensure_running
    log "rabbitmq already running"
    return 0
  fi
  if rabbitmq_vm_running; then
    log "rabbitmq node is booting; waiting"
  else
    launched=1
    rabbitmq_configure
    log "starting rabbitmq"
    # The Debian wrapper drops to the rabbitmq user itself.
    rabbitmq-server -detached || die "rabbitmq-server -detached failed (see ${RABBITMQ_LOG})"
  fi
  wait_until "$WAIT_TIMEOUT" "rabbitmq on port ${RABBITMQ_PORT}" "$RABBITMQ_LOG" rabbitmq_ready ||
    die "rabbitmq did not become ready"
  ((launched)) || rabbitmq_plugins_ensure_running
  log "rabbitmq up (amqp://guest:guest@127.0.0.1:${RABBITMQ_PORT})"
}

rabbitmq_stop() {
  if ! rabbitmq_vm_running; then
    log "rabbitmq already stopped"
    return 0
  fi
  log "stopping rabbitmq"
  # `shutdown` (unlike `stop`) waits for the VM to exit, so an immediate
  # restart in a chaos test cannot collide with the dying node.
  rabbitmqctl -q shutdown >/dev/null 2>&1 || true
  wait_until 30 "rabbitmq to exit" "$RABBITMQ_LOG" eval '! rabbitmq_vm_running' ||
    die "rabbitmq did not stop"
  log "rabbitmq stopped"
}

rabbitmq_status() {
  # The cheap port probe first: a down node costs no Erlang VM start-up.
  port_open 127.0.0.1 "$RABBITMQ_PORT" && rabbitmq-diagnostics -q -t 10 ping >/dev/null 2>&1
}

# ------------------------------------------------------------------ PostgreSQL

postgres_install() {
  apt_ensure postgresql "postgresql-${PG_VERSION}"
  # The package normally creates the cluster, but not if it was dropped or the
  # package was installed with cluster creation disabled.
  if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { f = 1 } END { exit !f }'; then
    log "creating postgres cluster ${PG_VERSION}/${PG_CLUSTER}"
    pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PG_PORT" >/dev/null
  fi
  local port
  port=$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $3 }')
  [[ $port == "$PG_PORT" ]] ||
    die "postgres cluster ${PG_VERSION}/${PG_CLUSTER} is configured for port ${port}, expected ${PG_PORT}"
}

# Runs psql as the postgres superuser over the Unix socket (peer auth), which
# works before any password is set. `cd /` avoids a warning about root's $HOME.
pg_superuser_psql() {
  (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@")
}

postgres_ready() {
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

# Applies the state the tests' DATABASE_URL relies on; each step is a no-op
# when already done, so nothing is rewritten on re-runs.
postgres_configure() {
  if ! PGPASSWORD="$PG_PASSWORD" psql -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    log "setting postgres password"
    pg_superuser_psql -c "ALTER USER postgres PASSWORD '${PG_PASSWORD}'" >/dev/null
  fi
  if [[ $(pg_superuser_psql -tAc "SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'") != 1 ]]; then
    log "creating database ${PG_DB}"
    pg_superuser_psql -c "CREATE DATABASE ${PG_DB} OWNER postgres" >/dev/null
  fi
}

postgres_start() {
  # status exits 0 when the postmaster runs (possibly still starting up);
  # starting it again would fail with "already running".
  if pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" status >/dev/null 2>&1; then
    if postgres_ready; then
      log "postgres already running"
    else
      log "postgres is starting; waiting"
    fi
  else
    log "starting postgres ${PG_VERSION}"
    if ! pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start; then
      tail -n 20 "$PG_LOG" >&2 2>/dev/null || true
      die "pg_ctlcluster ${PG_VERSION} ${PG_CLUSTER} start failed (log: ${PG_LOG})"
    fi
  fi
  wait_until "$WAIT_TIMEOUT" "postgres on port ${PG_PORT}" "$PG_LOG" postgres_ready ||
    die "postgres did not become ready"
  postgres_configure
  log "postgres up (postgres://postgres:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/${PG_DB})"
}

postgres_stop() {
  if ! pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" status >/dev/null 2>&1; then
    log "postgres already stopped"
    return 0
  fi
  log "stopping postgres"
  # fast mode: tests hold idle connections; "smart" would wait for them forever.
  pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop -m fast || die "pg_ctlcluster stop failed"
  log "postgres stopped"
}

postgres_status() {
  postgres_ready
}

# -------------------------------------------------------------------- FerretDB

ferretdb_installed() {
  # Captured first: `| grep -q` would exit early and kill ferretdb with SIGPIPE under pipefail.
  local version
  [[ -x $FERRETDB_BIN ]] && version=$("$FERRETDB_BIN" --version 2>/dev/null) && [[ $version == *"$FERRETDB_VERSION"* ]]
}

# There is no MongoDB or FerretDB package for Debian 12 here, so build it from
# the Go module proxy. A plain `go install ...@version` produces a binary that
# panics at start: build/version/version.txt is generated by FerretDB's release
# tooling and is not part of the module zip. So build from a writable copy of
# the module with that file filled in.
# The backing cluster: created once, started with FerretDB, stopped with `down`.
ferretdb_backend_install() {
  if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$FERRETDB_PG_CLUSTER" '$1 == v && $2 == c { f = 1 } END { exit !f }'; then
    log "creating postgres cluster ${PG_VERSION}/${FERRETDB_PG_CLUSTER} (FerretDB's storage) on port ${FERRETDB_PG_PORT}"
    pg_createcluster "$PG_VERSION" "$FERRETDB_PG_CLUSTER" --port "$FERRETDB_PG_PORT" >/dev/null
  fi
}

ferretdb_backend_start() {
  if ! pg_ctlcluster "$PG_VERSION" "$FERRETDB_PG_CLUSTER" status >/dev/null 2>&1; then
    pg_ctlcluster "$PG_VERSION" "$FERRETDB_PG_CLUSTER" start || die "could not start FerretDB's postgres cluster"
  fi
  wait_until "$WAIT_TIMEOUT" "FerretDB's postgres on port ${FERRETDB_PG_PORT}" "/var/log/postgresql/postgresql-${PG_VERSION}-${FERRETDB_PG_CLUSTER}.log" \
    pg_isready -q -h 127.0.0.1 -p "$FERRETDB_PG_PORT" -t 2 || die "FerretDB's postgres did not become ready"
  if ! PGPASSWORD="$PG_PASSWORD" psql -X -h 127.0.0.1 -p "$FERRETDB_PG_PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    (cd / && runuser -u postgres -- psql -X -q -p "$FERRETDB_PG_PORT" -c "ALTER USER postgres PASSWORD '${PG_PASSWORD}'") >/dev/null
  fi
  if [[ $( (cd / && runuser -u postgres -- psql -X -q -p "$FERRETDB_PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '${FERRETDB_PG_DB}'")) != 1 ]]; then
    (cd / && runuser -u postgres -- psql -X -q -p "$FERRETDB_PG_PORT" -c "CREATE DATABASE ${FERRETDB_PG_DB} OWNER postgres") >/dev/null
  fi
}

ferretdb_backend_stop() {
  if pg_ctlcluster "$PG_VERSION" "$FERRETDB_PG_CLUSTER" status >/dev/null 2>&1; then
    pg_ctlcluster "$PG_VERSION" "$FERRETDB_PG_CLUSTER" stop -m fast || true
  fi
}

ferretdb_install() {
  apt_ensure postgresql "postgresql-${PG_VERSION}"
  ferretdb_backend_install
  if ferretdb_installed; then
    return 0
  fi
  command -v go >/dev/null 2>&1 ||
    die "go not found (expected /usr/local/go/bin/go); it is needed to build FerretDB ${FERRETDB_VERSION}"
  local modpath="github.com/FerretDB/FerretDB" gomodcache src work
  work=$(mktemp -d)
  TMP_DIRS+=("$work")
  log "building ferretdb ${FERRETDB_VERSION} from the Go module proxy (first run takes ~1.5 min)"
  # Run from an empty dir: outside any module, `go mod download` just fills
  # the module cache and cannot be confused by a go.mod in the caller's cwd.
  (cd "$work" && go mod download "${modpath}@${FERRETDB_VERSION}") ||
    die "go mod download ${modpath}@${FERRETDB_VERSION} failed"
  gomodcache=$(go env GOMODCACHE)
  # The module cache escapes capital letters as !lowercase.
  src="${gomodcache}/github.com/!ferret!d!b/!ferret!d!b@${FERRETDB_VERSION}"
  [[ -f $src/go.mod ]] || die "module not found in ${src} after download"
  cp -r "$src" "$work/src"
  chmod -R u+w "$work/src"
  echo "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  # Build next to the target and rename: replacing the file of a running
  # ferretdb in place would fail ("text file busy") or corrupt it.
  (cd "$work/src" && go build -mod=mod -o "${FERRETDB_BIN}.new" ./cmd/ferretdb) ||
    die "go build of ferretdb failed"
  mv -f "${FERRETDB_BIN}.new" "$FERRETDB_BIN"
  ferretdb_installed || die "built ${FERRETDB_BIN} but '--version' does not report ${FERRETDB_VERSION}"
  log "ferretdb ${FERRETDB_VERSION} installed at ${FERRETDB_BIN}"
}

# Prints the pid from the pid file if that process is still our ferretdb
# (guards against a stale file whose pid was reused by something else).
ferretdb_pid() {
  local pid
  [[ -r $FERRETDB_PIDFILE ]] || return 1
  pid=$(<"$FERRETDB_PIDFILE")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm && $(<"/proc/$pid/comm") == ferretdb ]] || return 1
  echo "$pid"
}

ferretdb_ready() {
  mongo_ping 127.0.0.1 "$FERRETDB_PORT"
}

ferretdb_start() {
  if ferretdb_ready; then
    log "ferretdb already running"
    return 0
  fi
  mkdir -p "$FERRETDB_DATA_DIR" "$LOG_DIR" "$RUN_DIR"
  local pid
  if pid=$(ferretdb_pid); then
    log "ferretdb (pid ${pid}) is starting; waiting"
  else
    if port_open 127.0.0.1 "$FERRETDB_PORT"; then
      die "port ${FERRETDB_PORT} is taken by a process that does not answer MongoDB pings"
    fi
    log "starting ferretdb"
    rm -f "$FERRETDB_PIDFILE"
    # setsid: own session, so the server outlives this script and the CI step's
    # process group. Telemetry off: there is no network, and the default
    # "undecided" state would otherwise keep trying to reach beacon.ferretdb.com.
    ferretdb_backend_start
    setsid "$FERRETDB_BIN" \
      --handler=postgresql \
      --postgresql-url="postgres://postgres:${PG_PASSWORD}@127.0.0.1:${FERRETDB_PG_PORT}/${FERRETDB_PG_DB}" \
      --listen-addr="127.0.0.1:${FERRETDB_PORT}" \
      --telemetry=disable \
      --state-dir="$FERRETDB_DATA_DIR" \
      --debug-addr="$FERRETDB_DEBUG_ADDR" \
      </dev/null >>"$FERRETDB_LOG" 2>&1 &
    echo $! >"$FERRETDB_PIDFILE"
  fi
  wait_until "$WAIT_TIMEOUT" "ferretdb on port ${FERRETDB_PORT}" "$FERRETDB_LOG" ferretdb_ready_or_dead ||
    die "ferretdb did not become ready"
  log "ferretdb up (mongodb://127.0.0.1:${FERRETDB_PORT})"
}

# Stops the wait early when the process has already exited (bad flag, panic),
# instead of burning the whole timeout. Uses kill -0 rather than ferretdb_pid:
# right after launch the child may not have exec'd ferretdb yet.
ferretdb_ready_or_dead() {
  ferretdb_ready && return 0
  kill -0 "$(cat "$FERRETDB_PIDFILE" 2>/dev/null)" 2>/dev/null || {
    echo "[infra] ERROR: ferretdb exited during start-up; last lines of ${FERRETDB_LOG}:" >&2
    tail -n 30 "$FERRETDB_LOG" >&2 || true
    exit 1
  }
  return 1
}

ferretdb_stop() {
  local pid
  if ! pid=$(ferretdb_pid); then
    rm -f "$FERRETDB_PIDFILE"
    if port_open 127.0.0.1 "$FERRETDB_PORT"; then
      die "port ${FERRETDB_PORT} is open but no ferretdb pid file at ${FERRETDB_PIDFILE}; not started by this script"
    fi
    log "ferretdb already stopped"
    return 0
  fi
  log "stopping ferretdb (pid ${pid})"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 15 "ferretdb to exit" "" eval "! kill -0 ${pid} 2>/dev/null"; then
    log "ferretdb ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$FERRETDB_PIDFILE"
  log "ferretdb stopped"
}

ferretdb_status() {
  ferretdb_ready
}

# -------------------------------------------------------------------- commands

check_service() {
  local s
  for s in "${SERVICES[@]}"; do
    [[ $1 == "$s" ]] && return 0
  done
  die "unknown service '$1' (expected one of: ${SERVICES[*]})"
}

cmd_install() {
  local s
  (($# > 0)) || set -- "${SERVICES[@]}"
  for s in "$@"; do
    check_service "$s"
    "${s}_install"
  done
  log "install: done"
}

cmd_up() {
  # Install everything first so apt-get update runs at most once.
  apt_ensure rabbitmq-server postgresql "postgresql-${PG_VERSION}"
  cmd_install
  rabbitmq_start
  postgres_start
  ferretdb_start
  log "up: all services running"
}

cmd_down() {
  ferretdb_stop
  ferretdb_backend_stop
  postgres_stop
  rabbitmq_stop
  log "down: all services stopped"
}

cmd_status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do
    if "${s}_status"; then
      echo "${s}: up"
    else
      echo "${s}: down"
      rc=1
    fi
  done
  return "$rc"
}

usage() {
  cat >&2 <<EOF
usage: $0 up|down|status|install [service...]
       $0 start|stop <rabbitmq|postgres|ferretdb>
       $0 cluster up|down|status|stop-node N|start-node N|kill-node N
EOF
  exit 2
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  case $cmd in
  up | down | install | start | stop) require_root ;;
  esac
  case $cmd in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  install) cmd_install "$@" ;;
  cluster) cmd_cluster "$@" ;;
  start | stop)
    (($# == 1)) || usage
    check_service "$1"
    if [[ $cmd == start ]]; then
      "${1}_install"
    fi
    "${1}_${cmd}"
    ;;
  -h | --help | help) usage ;;
  *) usage ;;
  esac
}

main "$@"
