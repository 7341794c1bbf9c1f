#!/usr/bin/env bash
# A local 3-node RabbitMQ cluster on this one machine, for scale and failover tests, next to (and
# independent of) the main node rabbit@<host> on 5672 that scripts/infra.sh runs. Sourced by
# scripts/infra.sh, which provides log, die, wait_until, port_open, apt_ensure and rabbitmq_configure;
# run directly, it hands over to `scripts/infra.sh cluster ...`.
#
#   scripts/infra.sh cluster up | down | status
#   scripts/infra.sh cluster stop-node N | start-node N | kill-node N     (N = 1, 2 or 3)
#
# node rabbit-N@<host>, N = 1..3:
#   AMQP                 568N    amqp://guest:guest@127.0.0.1:568N (guest: loopback only, the default)
#   Erlang distribution  2568N   (the main node has 25672; epmd on 4369 is shared)
#   management HTTP      1568N   (the main node's would be 15672)
#   Prometheus           1578N   (the main node's would be 15692)
#   data                 /var/lib/rabbitmq/cluster/rabbit-N (mnesia, quorum logs, generated config);
#                        deleted by `cluster down`, so every `cluster up` after it starts a clean cluster
#   log                  /var/log/rabbitmq/cluster/rabbit-N@<host>.log
# The Erlang cookie is the main node's (/var/lib/rabbitmq/.erlang.cookie: every node runs as the
# rabbitmq user with that home), so the same rabbitmqctl reaches all of them: `rabbitmqctl -n
# rabbit-1@<host> cluster_status`.
#
# Configuration: each node reads a generated rabbitmq.conf (its listener ports) and its own conf.d
# with a copy of deploy/rabbitmq/20-dataflow.conf, never /etc/rabbitmq/ (the main node's), and the
# plugins of deploy/rabbitmq/enabled_plugins (rabbitmq_consistent_hash_exchange always).
#
# Quorum queues: in 3.10.8 a quorum queue declared without x-quorum-initial-group-size gets the
# rabbit application's `quorum_cluster_size`, 3 by default (rabbit.app), placed on cluster members
# (rabbit_queue_location:select_leader_and_followers), so on this 3-node cluster every quorum queue
# has a member on all three nodes; nothing is set for it. (3.10's rabbitmq.conf schema has no key
# for it; only advanced.config could change it.) The leader goes to the node the declaring client
# is connected to (queue_leader_locator defaults to client-local).

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  exec "$(dirname "$0")/infra.sh" cluster "$@"
fi

CLUSTER_SIZE=3
CLUSTER_HOST="${HOSTNAME%%.*}"
CLUSTER_DATA_BASE=/var/lib/rabbitmq/cluster
CLUSTER_LOG_BASE=/var/log/rabbitmq/cluster
RABBITMQ_COOKIE=/var/lib/rabbitmq/.erlang.cookie
# An extra (ignored) emulator argument that marks a cluster node's beam.smp command line, so a
# node is found by number, and rabbitmq_vm_running (the main node) can skip the cluster's VMs.
CLUSTER_VM_MARK=-dataflow_cluster_node

cluster_node() { echo "rabbit-${1}@${CLUSTER_HOST}"; }
cluster_amqp_port() { echo $((5680 + $1)); }
cluster_dist_port() { echo $((25680 + $1)); }
cluster_mgmt_port() { echo $((15680 + $1)); }
cluster_prom_port() { echo $((15780 + $1)); }
cluster_dir() { echo "${CLUSTER_DATA_BASE}/rabbit-${1}"; }
cluster_log() { echo "${CLUSTER_LOG_BASE}/$(cluster_node "$1").log"; }
cluster_url() { echo "amqp://guest:guest@127.0.0.1:$(cluster_amqp_port "$1")"; }

check_cluster_node_number() {
  if ! [[ $1 =~ ^[1-9][0-9]*$ ]] || (($1 > CLUSTER_SIZE)); then
    die "node number must be 1..${CLUSTER_SIZE}, not '$1'"
  fi
}

# Prints the pid of node N's server VM (booting or running), if any.
cluster_node_pid() {
  local d args
  for d in /proc/[0-9]*; do
    [[ -r $d/comm && $(<"$d/comm") == beam.smp ]] 2>/dev/null || continue
    args=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
    if [[ $args == *"-s rabbit boot"* && $args == *" ${CLUSTER_VM_MARK} rabbit-${1} "* ]]; then
      echo "${d#/proc/}"
      return 0
    fi
  done
  return 1
}

cluster_port_open() { port_open 127.0.0.1 "$(cluster_amqp_port "$1")"; }

# The rabbit app runs and the node's listeners accept connections (as rabbitmq_ready for the main node).
cluster_node_ready() {
  port_open 127.0.0.1 "$(cluster_amqp_port "$1")" &&
    rabbitmq-diagnostics -q -n "$(cluster_node "$1")" -t 10 check_port_connectivity >/dev/null 2>&1
}

# The plugins of every cluster node: the main node's list for compose (deploy/rabbitmq/enabled_plugins,
# an Erlang list), plus the consistent-hash exchange whatever that file says. Listener plugins other
# than management and Prometheus would need ports of their own below.
cluster_plugins() {
  local file list p plugins=() out=()
  file="${SCRIPT_DIR}/../deploy/rabbitmq/enabled_plugins"
  list=$(tr -d '[]. \n\t' <"$file") || die "cannot read ${file}"
  IFS=, read -r -a plugins <<<"$list"
  for p in "${plugins[@]}" rabbitmq_consistent_hash_exchange; do
    [[ -n $p && " ${out[*]} " != *" ${p} "* ]] && out+=("$p")
  done
  local IFS=,
  echo "[${out[*]}]."
}

# Writes node N's configuration under its data dir (again at every start, so changes to the deploy
# files reach the next start) and creates its dirs.
cluster_node_configure() {
  local n=$1 dir
  dir=$(cluster_dir "$n")
  install -d -o rabbitmq -g rabbitmq "$dir" "$dir/mnesia" "$CLUSTER_LOG_BASE"
  install -d "$dir/conf.d"
  install -m 0644 "${SCRIPT_DIR}/../deploy/rabbitmq/20-dataflow.conf" "$dir/conf.d/20-dataflow.conf" ||
    die "could not install ${dir}/conf.d/20-dataflow.conf"
  cat >"$dir/rabbitmq.conf" <<EOF
# Generated by scripts/infra.sh cluster for $(cluster_node "$n"); rewritten at each start.
listeners.tcp.default = $(cluster_amqp_port "$n")
management.tcp.port = $(cluster_mgmt_port "$n")
prometheus.tcp.port = $(cluster_prom_port "$n")
EOF
  cluster_plugins >"$dir/enabled_plugins"
  # Read instead of /etc/rabbitmq/rabbitmq-env.conf, which belongs to the main node.
  echo "# $(cluster_node "$n"): its settings come from the environment scripts/infra.sh starts it with." >"$dir/rabbitmq-env.conf"
  chmod 0644 "$dir/rabbitmq.conf" "$dir/enabled_plugins" "$dir/rabbitmq-env.conf"
}

# The node's server and the CLI tools find the cookie in the rabbitmq user's home. On a machine
# where no node has run yet, create it once, before three nodes race to do so.
rabbitmq_cookie_ensure() {
  [[ -s $RABBITMQ_COOKIE ]] && return 0
  local cookie
  log "creating the Erlang cookie ${RABBITMQ_COOKIE}"
  # Whole input to tr (no SIGPIPE under pipefail); 20 capital letters, as Erlang makes them.
  cookie=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc '[:upper:]')
  (umask 077 && printf '%s' "${cookie:0:20}" >"$RABBITMQ_COOKIE")
  chown rabbitmq:rabbitmq "$RABBITMQ_COOKIE"
  chmod 0400 "$RABBITMQ_COOKIE"
}

# Starts node N's VM in the background (the Debian wrapper drops to the rabbitmq user and keeps
# the environment).
cluster_node_launch() {
  local n=$1 dir port
  dir=$(cluster_dir "$n")
  for port in "$(cluster_amqp_port "$n")" "$(cluster_dist_port "$n")"; do
    if port_open 127.0.0.1 "$port"; then
      die "port ${port} is taken by a process that is not $(cluster_node "$n")"
    fi
  done
  cluster_node_configure "$n"
  log "starting $(cluster_node "$n") (AMQP $(cluster_amqp_port "$n"), distribution $(cluster_dist_port "$n"))"
  env \
    RABBITMQ_NODENAME="$(cluster_node "$n")" \
    RABBITMQ_NODE_PORT="$(cluster_amqp_port "$n")" \
    RABBITMQ_DIST_PORT="$(cluster_dist_port "$n")" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$CLUSTER_LOG_BASE" \
    RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_CONFIG_FILES="$dir/conf.d" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${CLUSTER_VM_MARK} rabbit-${n}" \
    rabbitmq-server -detached || die "rabbitmq-server -detached failed for $(cluster_node "$n") (see $(cluster_log "$n"))"
}

# Set when `up` launched, found booting or joined a node: only then does it wait for all again.
CLUSTER_CHANGED=0

# Launches node N unless its VM already runs (or boots).
cluster_node_start() {
  local n=$1 pid
  if cluster_node_ready "$n"; then
    log "$(cluster_node "$n") already running"
  elif pid=$(cluster_node_pid "$n"); then
    CLUSTER_CHANGED=1
    log "$(cluster_node "$n") (pid ${pid}) is booting; waiting"
  else
    CLUSTER_CHANGED=1
    cluster_node_launch "$n"
  fi
}

cluster_node_wait() {
  wait_until "$WAIT_TIMEOUT" "$(cluster_node "$1") on port $(cluster_amqp_port "$1")" "$(cluster_log "$1")" \
    cluster_node_ready "$1" || die "$(cluster_node "$1") did not become ready"
}

# The nodes of the cluster that node N belongs to, as it sees them, one a line: `disk` or `running`.
cluster_members() {
  local json
  json=$(rabbitmqctl -q -n "$(cluster_node "$1")" -t 30 cluster_status --formatter json 2>/dev/null) || return 1
  # {"disk_nodes":["rabbit-1@vm",...],...,"running_nodes":[...],...}
  grep -o "\"${2}_nodes\":\[[^]]*\]" <<<"$json" | grep -o 'rabbit[^"]*@[^"]*' || true
}

# Node N (2 or 3) joins node 1, unless it is already in node 1's cluster: stop_app, join_cluster
# (the node's own data is reset by joining), start_app.
cluster_node_join() {
  local n=$1 first
  first=$(cluster_node 1)
  if cluster_members "$n" disk | grep -qx "$first"; then
    return 0
  fi
  CLUSTER_CHANGED=1
  log "$(cluster_node "$n") joins ${first}"
  rabbitmqctl -q -n "$(cluster_node "$n")" stop_app >/dev/null || die "stop_app on $(cluster_node "$n") failed"
  rabbitmqctl -q -n "$(cluster_node "$n")" join_cluster "$first" >/dev/null ||
    die "$(cluster_node "$n") could not join ${first}"
  rabbitmqctl -q -n "$(cluster_node "$n")" start_app >/dev/null || die "start_app on $(cluster_node "$n") failed"
}

cluster_all_running() {
  (($(cluster_members 1 running | wc -l) == CLUSTER_SIZE))
}

cluster_up() {
  local n
  apt_ensure rabbitmq-server
  rabbitmq_cookie_ensure
  # All three boot at once (about 5 s each), then nodes 2 and 3 join node 1.
  for ((n = 1; n <= CLUSTER_SIZE; n++)); do
    cluster_node_start "$n"
  done
  if ((CLUSTER_CHANGED)); then
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
      cluster_node_wait "$n"
    done
  fi
  for ((n = 2; n <= CLUSTER_SIZE; n++)); do
    cluster_node_join "$n"
  done
  wait_until "$WAIT_TIMEOUT" "${CLUSTER_SIZE} running nodes in $(cluster_node 1)'s cluster_status" "$(cluster_log 1)" \
    cluster_all_running || die "the cluster did not form: $(cluster_members 1 running | tr '\n' ' ')"
  if ((CLUSTER_CHANGED)); then
    # After start_app the joined nodes open their listeners again.
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
      cluster_node_wait "$n"
    done
    log "cluster up: $(cluster_members 1 running | tr '\n' ' ')"
  else
    log "cluster already running"
  fi
  for ((n = 1; n <= CLUSTER_SIZE; n++)); do
    cluster_url "$n"
  done
}

# Graceful stop of node N: `shutdown` returns once the VM has exited. Its data stays, so
# start-node brings it back into the cluster.
cluster_node_stop() {
  local n=$1 pid
  if ! pid=$(cluster_node_pid "$n"); then
    log "$(cluster_node "$n") already stopped"
    return 0
  fi
  log "stopping $(cluster_node "$n") (pid ${pid})"
  rabbitmqctl -q -n "$(cluster_node "$n")" shutdown >/dev/null 2>&1 || true
  if ! wait_until 30 "$(cluster_node "$n") to exit" "$(cluster_log "$n")" eval "! kill -0 ${pid} 2>/dev/null"; then
    log "$(cluster_node "$n") did not exit; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 10 "$(cluster_node "$n") to exit" "" eval "! kill -0 ${pid} 2>/dev/null" || die "$(cluster_node "$n") did not stop"
  fi
  log "$(cluster_node "$n") stopped"
}

# A crash: SIGKILL to the node's beam.smp, no shutdown of any kind.
cluster_node_kill() {
  local n=$1 pid
  if ! pid=$(cluster_node_pid "$n"); then
    log "$(cluster_node "$n") is not running"
    return 0
  fi
  log "killing $(cluster_node "$n") (SIGKILL to beam.smp pid ${pid})"
  kill -KILL "$pid"
  wait_until 10 "$(cluster_node "$n") to exit" "" eval "! kill -0 ${pid} 2>/dev/null" || die "pid ${pid} survived SIGKILL"
}

# Brings node N back (after stop-node or kill-node): it rejoins the cluster from its own data. A
# node whose data was deleted joins node 1 afresh.
cluster_node_up() {
  local n=$1
  apt_ensure rabbitmq-server
  rabbitmq_cookie_ensure
  cluster_node_start "$n"
  cluster_node_wait "$n"
  if ((n > 1)); then
    cluster_node_join "$n"
    cluster_node_wait "$n"
  fi
  log "$(cluster_node "$n") up ($(cluster_url "$n"))"
}

cluster_down() {
  local n pids=() failed=0
  # In parallel (each takes several seconds): the data goes anyway.
  for ((n = 1; n <= CLUSTER_SIZE; n++)); do
    cluster_node_stop "$n" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do
    wait "$n" || failed=1
  done
  ((failed == 0)) || die "not every cluster node stopped; data left in ${CLUSTER_DATA_BASE}"
  for ((n = 1; n <= CLUSTER_SIZE; n++)); do
    rm -rf "$(cluster_dir "$n")"
  done
  rmdir "$CLUSTER_DATA_BASE" 2>/dev/null || true
  log "cluster down: nodes stopped, data deleted (logs kept in ${CLUSTER_LOG_BASE})"
}

# One line a node; exit 1 unless all are up. Then node 1's view of the cluster, when it runs.
# Without root the CLI tools cannot read the cookie: then only the AMQP ports are probed.
cluster_status() {
  local n rc=0 ready=cluster_node_ready
  if [[ $(id -u) -ne 0 ]]; then
    ready=cluster_port_open
  fi
  for ((n = 1; n <= CLUSTER_SIZE; n++)); do
    if "$ready" "$n"; then
      echo "$(cluster_node "$n"): up $(cluster_url "$n")"
    elif cluster_node_pid "$n" >/dev/null; then
      echo "$(cluster_node "$n"): starting (or its app is stopped)"
      rc=1
    else
      echo "$(cluster_node "$n"): down"
      rc=1
    fi
  done
  local first
  first=$(cluster_node 1)
  if [[ $ready == cluster_node_ready ]] && port_open 127.0.0.1 "$(cluster_dist_port 1)"; then
    echo "${first} sees running: $(cluster_members 1 running | tr '\n' ' ')"
  fi
  return "$rc"
}

cluster_usage() {
  cat >&2 <<EOF
usage: $0 cluster up|down|status
       $0 cluster stop-node|start-node|kill-node N   (N = 1..${CLUSTER_SIZE})
EOF
  exit 2
}

cmd_cluster() {
  (($# >= 1)) || cluster_usage
  local cmd=$1
  shift
  case $cmd in
  up | down | status)
    (($# == 0)) || cluster_usage
    ;;
  stop-node | start-node | kill-node)
    (($# == 1)) || cluster_usage
    check_cluster_node_number "$1"
    ;;
  *) cluster_usage ;;
  esac
  [[ $cmd == status ]] || require_root
  case $cmd in
  up) cluster_up ;;
  down) cluster_down ;;
  status) cluster_status ;;
  stop-node) cluster_node_stop "$1" ;;
  start-node) cluster_node_up "$1" ;;
  kill-node) cluster_node_kill "$1" ;;
  esac
}
