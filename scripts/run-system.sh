#!/usr/bin/env bash
# Runs the whole system on this machine without Docker: starts RabbitMQ, PostgreSQL and FerretDB
# (installing them when missing), builds the four apps and runs them from dist/, each with its log
# in data/logs/. Ctrl-C (or SIGTERM) stops the apps gracefully: each drains and exits 0.
# Settings come from the environment or a .env file (see .env.example).
set -euo pipefail
cd "$(dirname "$0")/.."

APPS=(db-writer mongo-writer filter generator)
LOG_DIR=data/logs
mkdir -p "$LOG_DIR"

scripts/infra.sh up
npm run build

pids=()
stop_all() {
  trap - INT TERM
  echo "[system] stopping (each app drains first)..."
  # Reverse order: the generator stops producing before the filter and the writers go.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "[system] stopped"
  exit 0
}
trap stop_all INT TERM

for app in "${APPS[@]}"; do
  # The semi-space cap is the apps' memory policy (libs/config/src/heap-policy.ts).
  node --max-semi-space-size=8 "dist/apps/$app/main.js" >>"$LOG_DIR/$app.log" 2>&1 &
  pids+=("$!")
  echo "[system] started $app (pid $!, log $LOG_DIR/$app.log)"
  # The writers and the filter declare the topology before the generator sends anything.
  [ "$app" = generator ] || sleep 2
done

cat <<INFO
[system] running:
  generator     http://127.0.0.1:${GENERATOR_PORT:-3001}/health/ready  /metrics
  filter        http://127.0.0.1:${FILTER_PORT:-3002}/health/ready  /metrics  ws://127.0.0.1:${FILTER_PORT:-3002}/ingest
  db-writer     http://127.0.0.1:${DB_WRITER_PORT:-3003}/health/ready  /metrics
  mongo-writer  http://127.0.0.1:${MONGO_WRITER_PORT:-3004}/health/ready  /metrics
  file sink     ${FILTER_OUTPUT_DIR:-./data/filtered}
[system] Ctrl-C to stop
INFO

# Exit (and stop the rest) if any app dies.
wait -n "${pids[@]}" || true
echo "[system] an app exited; see $LOG_DIR"
stop_all
