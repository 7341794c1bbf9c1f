#!/usr/bin/env bash
# Static checks of everything under deploy/ plus docker-compose.yml. Needs no Docker engine and
# no cluster. Installs helm and promtool with `go install` when they are missing (Go must be
# at /usr/local/go/bin or on PATH; the first build takes several minutes on 2 cores).
#
#   deploy/validate.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export HOME="${HOME:-/root}"
export PATH="${PATH}:/usr/local/go/bin:${HOME}/go/bin"

HELM_MODULE=helm.sh/helm/v3/cmd/helm@v3.22.0
PROMTOOL_MODULE=github.com/prometheus/prometheus/cmd/promtool@v0.316.0
# A `go install`ed helm reports Kubernetes v1.20 unless told otherwise; the chart needs >= 1.25.
KUBE_VERSION=1.30.0
CHART=deploy/helm/dataflow

step() { echo "[validate] $*"; }
fail() {
  echo "[validate] FAILED: $*" >&2
  exit 1
}

ensure_tool() { # ensure_tool NAME GO_MODULE
  command -v "$1" >/dev/null 2>&1 && return
  command -v go >/dev/null 2>&1 || fail "$1 is missing and Go is not installed to build it"
  step "installing $1 ($2)"
  go install "$2"
}

ensure_tool helm "$HELM_MODULE"
ensure_tool promtool "$PROMTOOL_MODULE"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# ------------------------------------------------------------------ Helm chart
step "helm lint (ci values, --strict)"
for values in "$CHART"/ci/*-values.yaml; do
  helm lint "$CHART" --strict --kube-version "$KUBE_VERSION" -f "$values" >/dev/null ||
    fail "helm lint with $values"
  helm template check "$CHART" --kube-version "$KUBE_VERSION" -f "$values" >"$TMP/$(basename "$values").out" ||
    fail "helm template with $values"
done

step "schema refuses defaults without connection strings"
if helm template check "$CHART" --kube-version "$KUBE_VERSION" >"$TMP/defaults.out" 2>&1; then
  fail "the chart rendered with empty secrets and no existingSecret"
fi
grep -q "/secrets/RABBITMQ_URL" "$TMP/defaults.out" || fail "unexpected schema error: $(cat "$TMP/defaults.out")"

step "schema refuses a second generator replica"
if helm template check "$CHART" --kube-version "$KUBE_VERSION" -f "$CHART/ci/default-values.yaml" \
  --set apps.generator.replicas=2 >/dev/null 2>&1; then
  fail "apps.generator.replicas=2 was accepted"
fi

step "existingSecret renders no Secret and references the named one"
out="$TMP/existing-secret-values.yaml.out"
! grep -q "^kind: Secret" "$out" || fail "a Secret was rendered although existingSecret is set"
grep -q "name: dataflow-connections" "$out" || fail "Deployments do not reference existingSecret"
grep -q "^kind: ServiceMonitor" "$out" || fail "ServiceMonitor not rendered"

# ------------------------------------------------------------------ Prometheus
step "promtool check config / rules / test rules"
# The config names the rule file by its in-container path; check a copy pointing at the repo's.
sed "s#/etc/prometheus/alerts.yml#$ROOT/deploy/prometheus/alerts.yml#" deploy/prometheus/prometheus.yml >"$TMP/prometheus.yml"
promtool check config "$TMP/prometheus.yml" >/dev/null || fail "promtool check config"
promtool check rules deploy/prometheus/alerts.yml >/dev/null || fail "promtool check rules"
promtool test rules deploy/prometheus/alerts.test.yml >/dev/null || fail "promtool test rules"

# ------------------------------------------------------------------ Grafana
step "dashboard JSON parses and every panel query is valid PromQL"
# shellcheck disable=SC2016 # the ${...} belong to the JavaScript template literal
node -e '
  const fs = require("fs");
  const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const exprs = d.panels.flatMap((p) => (p.targets || []).map((t) => t.expr));
  const ids = d.panels.map((p) => p.id);
  if (new Set(ids).size !== ids.length) throw new Error("duplicate panel ids");
  // A rule file is YAML, and JSON strings are valid YAML scalars.
  const rules = exprs.map((e, i) => `      - record: dashboard:expr${i}\n        expr: ${JSON.stringify(e)}`);
  fs.writeFileSync(process.argv[2], "groups:\n  - name: dashboard\n    rules:\n" + rules.join("\n") + "\n");
' deploy/grafana/dashboards/dataflow.json "$TMP/dashboard-rules.yml"
promtool check rules "$TMP/dashboard-rules.yml" >/dev/null || fail "a dashboard query is not valid PromQL"

# ------------------------------------------------------------------ compose
if docker compose version >/dev/null 2>&1; then
  step "docker compose config -q"
  docker compose config -q || fail "docker compose config"
else
  step "docker compose plugin not installed: checking docker-compose.yml is well-formed YAML only"
  # Without the plugin there is no compose-aware validator here; at least parse the YAML.
  if python3 -c "import yaml" 2>/dev/null; then
    python3 -c "import sys, yaml; yaml.safe_load(open(sys.argv[1]))" docker-compose.yml ||
      fail "docker-compose.yml is not valid YAML"
  else
    step "python3 yaml module missing: compose file not checked"
  fi
fi

step "all checks passed"
