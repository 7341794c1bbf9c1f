#!/usr/bin/env bash
# Static checks of everything under deploy/ plus docker-compose.yml. Needs Go (>= 1.24, at
# /usr/local/go/bin or on PATH) and no Docker engine or cluster.
#
#   deploy/validate.sh                 Helm chart and compose always; Prometheus rules and the
#                                      dashboard's PromQL when promtool is already installed
#   deploy/validate.sh --promtool      also install promtool if missing, and run its checks
#   deploy/validate.sh --no-promtool   skip the promtool checks even when promtool is installed
#   deploy/validate.sh --compose       also build Compose v2 if missing, and run `docker compose config`
#   deploy/validate.sh --no-compose    skip `docker compose config` even when Compose v2 is installed
#
# VALIDATE_PROMTOOL=auto|always|never and VALIDATE_COMPOSE=auto|always|never do the same as the
# flags (auto, the default, runs a check only when its tool is already installed; CI says always).
#
# helm is installed with `go install` when missing (a few minutes the first time on 2 cores);
# promtool takes several times longer to build, hence the auto mode. The Helm output is checked
# by deploy/tools/manifestcheck (objects decoded strictly into the Kubernetes API types, plus the
# chart's own rules) and docker-compose.yml by deploy/tools/composecheck (compose-go, the library
# behind `docker compose config`); with Compose v2 (built from the Go module proxy when missing
# and asked for, about 4 minutes) the file is also loaded by `docker compose config` itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export HOME="${HOME:-/root}"
export PATH="${PATH}:/usr/local/go/bin"

PROMTOOL_MODE="${VALIDATE_PROMTOOL:-auto}"
COMPOSE_MODE="${VALIDATE_COMPOSE:-auto}"
for arg in "$@"; do
  case "$arg" in
    --promtool) PROMTOOL_MODE=always ;;
    --no-promtool) PROMTOOL_MODE=never ;;
    --compose) COMPOSE_MODE=always ;;
    --no-compose) COMPOSE_MODE=never ;;
    -h | --help)
      sed -n '2,22s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      echo "usage: $0 [--promtool | --no-promtool] [--compose | --no-compose]" >&2
      exit 2
      ;;
  esac
done
for mode in "VALIDATE_PROMTOOL=$PROMTOOL_MODE" "VALIDATE_COMPOSE=$COMPOSE_MODE"; do
  case "${mode#*=}" in
    auto | always | never) ;;
    *)
      echo "${mode%%=*} must be auto, always or never (got '${mode#*=}')" >&2
      exit 2
      ;;
  esac
done

HELM_MODULE=helm.sh/helm/v3/cmd/helm@v3.22.0
PROMTOOL_MODULE=github.com/prometheus/prometheus/cmd/promtool@v0.316.0
# Compose v2's go.mod has exclude directives, which `go install pkg@version` refuses; it is built
# from its module source instead (deploy/tools/build-compose.sh).
COMPOSE_VERSION=v2.40.3
# A `go install`ed helm reports Kubernetes v1.20 unless told otherwise; the chart needs >= 1.28
# (the writers' ordinals come from the pod label apps.kubernetes.io/pod-index).
KUBE_VERSION=1.30.0
CHART=deploy/helm/dataflow

START=$SECONDS
step() { echo "[validate] $(printf '%4ds' $((SECONDS - START))) $*"; }
fail() {
  echo "[validate] FAILED: $*" >&2
  exit 1
}

command -v go >/dev/null 2>&1 || fail "Go is required (/usr/local/go/bin or PATH)"
GO_BIN="$(go env GOBIN)"
[ -n "$GO_BIN" ] || GO_BIN="$(go env GOPATH)/bin"
export PATH="${PATH}:${GO_BIN}"

ensure_tool() { # ensure_tool NAME GO_MODULE
  command -v "$1" >/dev/null 2>&1 && return
  step "installing $1 ($2) into $GO_BIN"
  go install "$2" || fail "go install $2"
}

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

ensure_tool helm "$HELM_MODULE"
step "building and testing deploy/tools (manifestcheck, composecheck)"
go -C deploy/tools build -buildvcs=false -o "$TMP/" ./manifestcheck ./composecheck || fail "building deploy/tools"
go -C deploy/tools test -buildvcs=false ./... >"$TMP/go-test.out" 2>&1 || fail "go test in deploy/tools: $(cat "$TMP/go-test.out")"

render() { # render OUT [helm template args...]
  local out="$1"
  shift
  helm template check "$CHART" --kube-version "$KUBE_VERSION" "$@" >"$out" 2>&1
}

# ------------------------------------------------------------------ Helm chart
step "helm lint --strict, helm template and manifestcheck for each ci/*-values.yaml"
# The chart's defaults: 8 partitions, one generator and filter (a ReadWriteOnce claim, Recreate), two
# of each writer.
DEFAULT_SCALE=(-partitions 8 -replicas "generator=1,filter=1,db-writer=2,mongo-writer=2")
for values in "$CHART"/ci/*-values.yaml; do
  name="$(basename "$values" -values.yaml)"
  case "$name" in
    default) expect=("${DEFAULT_SCALE[@]}") ;;
    existing-secret) expect=("${DEFAULT_SCALE[@]}" -servicemonitor -existing-secret dataflow-connections) ;;
    rules-tracing) expect=("${DEFAULT_SCALE[@]}" -rules -tracing -rules-out "$TMP/ci-rules.json") ;;
    scale-out) expect=(-partitions 8 -replicas "generator=4,filter=3,db-writer=3,mongo-writer=3") ;;
    *) fail "$values: add its expectations to deploy/validate.sh" ;;
  esac
  helm lint "$CHART" --strict --kube-version "$KUBE_VERSION" -f "$values" >"$TMP/lint.out" 2>&1 ||
    fail "helm lint with $values: $(cat "$TMP/lint.out")"
  render "$TMP/$name.yaml" -f "$values" || fail "helm template with $values: $(cat "$TMP/$name.yaml")"
  "$TMP/manifestcheck" "${expect[@]}" <"$TMP/$name.yaml" || fail "rendered manifests with $values"
  echo "           $name: $(grep -c '^kind:' "$TMP/$name.yaml") objects"
done

step "the filter's derived claim and strategy: ReadWriteOnce and Recreate for one filter, ReadWriteMany and RollingUpdate for several"
filter_shape() { # filter_shape RENDER: "<access modes of the filter's claim> <strategy of its Deployment>"
  perl -0ne '
    my ($modes, $type) = ("none", "none");
    for (split /^---\n/m) {
      next unless /^metadata:\n  name: check-dataflow-filter\n/m;
      if (/^kind: PersistentVolumeClaim$/m && /^  accessModes:\n((?:    - \S+\n)+)/m) {
        my $list = $1;
        $modes = join(",", $list =~ /- (\S+)/g);
      }
      ($type) = /^  strategy:\n    type: (\S+)$/m if /^kind: Deployment$/m;
    }
    print "$modes $type\n";
  ' "$1"
}
# ci/default-values.yaml keeps the chart's partitions (8) and one filter (manifestcheck asserted both
# above): one filter gets a ReadWriteOnce claim whatever partitions is, which every StorageClass
# provides. ci/scale-out-values.yaml has 3 filters over 8 partitions: they share a ReadWriteMany claim.
shape="$(filter_shape "$TMP/default.yaml")"
[ "$shape" = "ReadWriteOnce Recreate" ] ||
  fail "the defaults (partitions 8, one filter): filter claim and strategy are '$shape', expected 'ReadWriteOnce Recreate'"
shape="$(filter_shape "$TMP/scale-out.yaml")"
[ "$shape" = "ReadWriteMany RollingUpdate" ] ||
  fail "ci/scale-out-values.yaml (3 filters): filter claim and strategy are '$shape', expected 'ReadWriteMany RollingUpdate'"

step "scale-out edge cases: the original topology (partitions 1), one filter on a ReadWriteOnce claim, the limits"
# partitions 1: the single queue per sink; any number of writers (all but one stand by); one filter
# with Recreate on a ReadWriteOnce claim (manifestcheck asserts both).
render "$TMP/one-partition.yaml" -f "$CHART/ci/default-values.yaml" --set partitions=1 \
  --set apps.db-writer.replicas=3 --set apps.mongo-writer.replicas=3 ||
  fail "helm template with partitions 1: $(cat "$TMP/one-partition.yaml")"
"$TMP/manifestcheck" -partitions 1 -replicas filter=1,db-writer=3,mongo-writer=3 <"$TMP/one-partition.yaml" ||
  fail "rendered manifests with partitions 1"
grep -A1 '^  accessModes:' "$TMP/one-partition.yaml" | grep -q -- '- ReadWriteOnce' ||
  fail "partitions 1: the filter's claim is not ReadWriteOnce"
# partitions > 1 with the access mode set to ReadWriteOnce (as for an existingClaim of that mode): one
# filter, Recreate.
render "$TMP/one-filter-rwo.yaml" -f "$CHART/ci/default-values.yaml" --set apps.filter.persistence.accessMode=ReadWriteOnce ||
  fail "helm template with one filter on a ReadWriteOnce claim: $(cat "$TMP/one-filter-rwo.yaml")"
"$TMP/manifestcheck" -partitions 8 -replicas filter=1 <"$TMP/one-filter-rwo.yaml" ||
  fail "rendered manifests with one filter on a ReadWriteOnce claim"
grep -q '^    type: Recreate$' "$TMP/one-filter-rwo.yaml" || fail "one filter on a ReadWriteOnce claim: not Recreate"
# 64 of everything (16 filters, their maximum) under the longest release name Helm allows (53
# characters): the StatefulSet names must stay within 52 characters and the generator pod names
# within the source pattern.
LONG_RELEASE=release-name-of-fifty-three-characters-for-the-checks
helm template "$LONG_RELEASE" "$CHART" --kube-version "$KUBE_VERSION" -f "$CHART/ci/default-values.yaml" \
  --set partitions=64 --set apps.generator.replicas=64 --set apps.filter.replicas=16 --set apps.db-writer.replicas=64 \
  --set apps.mongo-writer.replicas=64 >"$TMP/limits.yaml" 2>&1 || fail "helm template at the limits: $(cat "$TMP/limits.yaml")"
"$TMP/manifestcheck" -partitions 64 -replicas generator=64,filter=16,db-writer=64,mongo-writer=64 <"$TMP/limits.yaml" ||
  fail "rendered manifests at the limits (64 partitions and replicas, 16 filters, a ${#LONG_RELEASE}-character release name)"

step "manifestcheck refuses scale-out manifests with one thing wrong"
broken() { # broken DESCRIPTION EXPECTED_OUTPUT PERL_EXPRESSION: edit the scale-out render, expect a refusal
  local what="$1" expected="$2" edit="$3"
  perl -0pe "$edit" "$TMP/scale-out.yaml" >"$TMP/broken.yaml"
  cmp -s "$TMP/scale-out.yaml" "$TMP/broken.yaml" && fail "broken manifests ($what): the edit changed nothing"
  if "$TMP/manifestcheck" -partitions 8 <"$TMP/broken.yaml" >"$TMP/broken.out" 2>&1; then
    fail "manifestcheck accepted $what"
  fi
  grep -q -- "$expected" "$TMP/broken.out" || fail "$what: unexpected output: $(cat "$TMP/broken.out")"
}
# shellcheck disable=SC2016 # $1, $2 are the Perl substitutions' capture groups
{
  broken "one broker app with other partitions" "disagree on RECORD_PARTITIONS" 's/RECORD_PARTITIONS: "8"/RECORD_PARTITIONS: "4"/'
  broken "a writer's REPLICAS other than its replicas" "DB_WRITER_REPLICAS is" 's/DB_WRITER_REPLICAS: "3"/DB_WRITER_REPLICAS: "2"/'
  broken "writer ordinals not from the pod-index label" "MONGO_WRITER_ORDINAL must come" \
    's/(name: MONGO_WRITER_ORDINAL\n(?:.*\n){2}\s*fieldPath: )\S+/$1metadata.name/'
  broken "a generator id not from the pod name" "GENERATOR_ID must come" \
    's/(name: GENERATOR_ID\n(?:.*\n){2}\s*fieldPath: )metadata.name/$1metadata.uid/'
  broken "the generator's state on an emptyDir" "is mounted from volume data, not from a volumeClaimTemplate" \
    's/(name: check-dataflow-generator\n(?:(?!---\n).*\n)*?\s*volumes:\n)(\s*)(- name: tmp\n)/$1$2- name: data\n$2  emptyDir: {}\n$2$3/;
     s/volumeClaimTemplates:\n(\s*)- metadata:\n(\s*)name: data/volumeClaimTemplates:\n$1- metadata:\n$2name: state/'
  broken "a writer as a Deployment" "no StatefulSet for app db-writer" \
    's/kind: StatefulSet\n(metadata:\n\s*name: check-dataflow-db-writer\n)/kind: Deployment\n$1/'
  broken "a PDB evicting two writers at once" "expected exactly 1" 's/maxUnavailable: 1/maxUnavailable: 2/'
  broken "a PDB selecting every app" "exactly one app" \
    's/(kind: PodDisruptionBudget\n(?:.*\n)*?\s*matchLabels:\n(?:.*\n){2})\s*app.kubernetes.io\/component: \S+\n/$1/'
  broken "anti-affinity on the zone only" "without a pod anti-affinity" 's/topologyKey: kubernetes.io\/hostname/topologyKey: topology.kubernetes.io\/zone/g'
  broken "several filters recreated" "expected RollingUpdate with maxUnavailable 0" \
    's/type: RollingUpdate\n\s*rollingUpdate:\n\s*maxUnavailable: 0\n\s*maxSurge: 1\n/type: Recreate\n/'
  broken "a filter rollout taking a pod down first" "must set maxUnavailable 0" 's/maxUnavailable: 0/maxUnavailable: 1/'
  broken "several filters on a ReadWriteOnce claim" "needs ReadWriteMany" 's/- ReadWriteMany/- ReadWriteOnce/'
  broken "several filters without a PodDisruptionBudget" "app filter: expected one PodDisruptionBudget" \
    's/---\n# Source: dataflow\/templates\/pdb.yaml\napiVersion: policy\/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: check-dataflow-filter\n(?:(?!---\n).*\n)*//'
  broken "several filters without a hostname anti-affinity" "Deployment check-dataflow-filter: 3 replicas without a pod anti-affinity" \
    's/(name: check-dataflow-filter\n(?:(?!---\n).*\n)*?\s*topologyKey: )kubernetes.io\/hostname/$1topology.kubernetes.io\/zone/'
  broken "an autoscaled writer" "no app may be autoscaled" \
    's/\z/---\napiVersion: autoscaling\/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: hpa\nspec:\n  scaleTargetRef: { apiVersion: apps\/v1, kind: StatefulSet, name: check-dataflow-db-writer }\n  minReplicas: 1\n  maxReplicas: 3\n/'
}

step "the example rule set deploy/rules/rules.json passes the schema and is mounted"
# JSON is YAML: wrap the rule set as a values file.
{
  printf 'apps:\n  filter:\n    rules: '
  tr -d '\n' <deploy/rules/rules.json
  printf '\n'
} >"$TMP/example-rules-values.yaml"
render "$TMP/example-rules.yaml" -f "$CHART/ci/default-values.yaml" -f "$TMP/example-rules-values.yaml" ||
  fail "deploy/rules/rules.json: $(cat "$TMP/example-rules.yaml")"
"$TMP/manifestcheck" -rules <"$TMP/example-rules.yaml" || fail "manifests with deploy/rules/rules.json"

# The values schema mirrors the filter's rule-set checks; the filter's own parser has the last word.
RULE_SET_TS=apps/filter/src/routing/rule-set.ts
if [ -f "$RULE_SET_TS" ] && [ -d node_modules/ts-node ] && [ -d node_modules/tsconfig-paths ]; then
  step "the filter's rule-set parser accepts deploy/rules/rules.json and the rendered ci rule set"
  node -r ts-node/register/transpile-only -r tsconfig-paths/register -e '
    const fs = require("fs");
    const { parseRuleSet } = require(process.argv[1]);
    for (const file of process.argv.slice(2)) parseRuleSet(fs.readFileSync(file, "utf8"));
  ' "./$RULE_SET_TS" deploy/rules/rules.json "$TMP/ci-rules.json" || fail "the filter refuses a rule set"
else
  step "SKIPPED the filter's rule-set parser (run npm ci first)"
fi

refused() { # refused DESCRIPTION EXPECTED_ERROR_TEXT [helm template args...]
  local what="$1" expected="$2"
  shift 2
  if render "$TMP/refused.out" "$@"; then
    fail "the schema accepted $what"
  fi
  grep -q -- "$expected" "$TMP/refused.out" || fail "$what: unexpected error: $(cat "$TMP/refused.out")"
}
step "the values schema refuses invalid settings"
refused "the defaults (empty connection strings, no existingSecret)" "/secrets/RABBITMQ_URL"
refused "production without FILTER_ADMIN_TOKEN" "FILTER_ADMIN_TOKEN" \
  -f "$CHART/ci/default-values.yaml" --set secrets.FILTER_ADMIN_TOKEN=
refused "Kubernetes 1.27 (no pod-index label)" "kubeVersion" -f "$CHART/ci/default-values.yaml" --kube-version 1.27.0
refused "partitions 0" "partitions" -f "$CHART/ci/default-values.yaml" --set partitions=0
refused "partitions 65" "partitions" -f "$CHART/ci/default-values.yaml" --set partitions=65
refused "a second filter with partitions 1" "apps.filter.replicas (2) needs partitions > 1" \
  -f "$CHART/ci/default-values.yaml" --set partitions=1 --set apps.filter.replicas=2
refused "several filters on a ReadWriteOnce claim" "apps.filter.replicas (3) needs apps.filter.persistence.accessMode ReadWriteMany" \
  -f "$CHART/ci/default-values.yaml" --set apps.filter.replicas=3 --set apps.filter.persistence.accessMode=ReadWriteOnce
refused "17 filters" "filter/replicas" -f "$CHART/ci/default-values.yaml" --set apps.filter.replicas=17
refused "no filter replica (enabled: false is the way)" "filter/replicas" -f "$CHART/ci/default-values.yaml" \
  --set apps.filter.replicas=0
refused "an access mode Kubernetes has no use for here" "filter/persistence/accessMode" \
  -f "$CHART/ci/default-values.yaml" --set apps.filter.persistence.accessMode=ReadOnlyMany
refused "65 generators" "generator/replicas" -f "$CHART/ci/default-values.yaml" --set apps.generator.replicas=65
refused "no db-writer replica (enabled: false is the way)" "db-writer/replicas" -f "$CHART/ci/default-values.yaml" \
  --set apps.db-writer.replicas=0
refused "more mongo-writers than partitions" "apps.mongo-writer.replicas (5) is more than partitions (4)" \
  -f "$CHART/ci/default-values.yaml" --set partitions=4 --set apps.mongo-writer.replicas=5
refused "RECORD_PARTITIONS set apart from partitions" "apps.filter.config.RECORD_PARTITIONS" \
  -f "$CHART/ci/default-values.yaml" --set apps.filter.config.RECORD_PARTITIONS=4
refused "a fixed GENERATOR_ID" "apps.generator.config.GENERATOR_ID" -f "$CHART/ci/default-values.yaml" \
  --set apps.generator.config.GENERATOR_ID=generator-1
refused "a writer ordinal in extraEnv" "DB_WRITER_ORDINAL is set by the chart" -f "$CHART/ci/default-values.yaml" \
  --set apps.db-writer.extraEnv[0].name=DB_WRITER_ORDINAL --set-string apps.db-writer.extraEnv[0].value=0
refused "a strategy of the filter's own (the chart derives it)" "strategy" -f "$CHART/ci/default-values.yaml" \
  --set apps.filter.strategy.type=Recreate
refused "autoscaling of the db-writer" "autoscaling" -f "$CHART/ci/default-values.yaml" \
  --set apps.db-writer.autoscaling.enabled=true
refused "autoscaling of the mongo-writer" "autoscaling" -f "$CHART/ci/default-values.yaml" \
  --set apps.mongo-writer.autoscaling.enabled=true
refused "a drop rule without a reason" "reason" -f "$CHART/ci/default-values.yaml" \
  --set-json 'apps.filter.rules={"rules":[{"name":"r","when":{"field":"seq","op":"gt","value":1},"route":"drop"}],"default":"file"}'
refused "an unknown rule operator" "op" -f "$CHART/ci/default-values.yaml" \
  --set-json 'apps.filter.rules={"rules":[{"name":"r","when":{"field":"seq","op":"between","value":1},"route":"file"}],"default":"file"}'
refused "drop as the default route" "default" -f "$CHART/ci/default-values.yaml" \
  --set-json 'apps.filter.rules={"rules":[],"default":"drop"}'
refused "an unknown sampler" "sampler" -f "$CHART/ci/default-values.yaml" \
  --set tracing.otlpEndpoint=http://collector:4318 --set tracing.sampler=sometimes

step "an upgrade onto an existing filter claim of another access mode stops before anything is applied"
# `lookup` finds nothing without a cluster: a copy of the chart answers it with a ReadWriteOnce claim,
# as chart 0.3 created it (and this chart does for one filter), then with a ReadWriteMany one.
STUBBED="$TMP/stubbed-chart"
cp -r "$CHART" "$STUBBED"
perl -0pi -e 's/\(lookup "v1" "PersistentVolumeClaim" \.Release\.Namespace \$claim\)/(dict "spec" (dict "accessModes" (list "ReadWriteOnce")))/' \
  "$STUBBED/templates/validate.yaml"
grep -q '(dict "accessModes" (list "ReadWriteOnce"))' "$STUBBED/templates/validate.yaml" ||
  fail "templates/validate.yaml no longer looks up the filter's claim as this check expects"
stubbed() { # stubbed OUT [helm template args...]
  local out="$1"
  shift
  helm template check "$STUBBED" --kube-version "$KUBE_VERSION" -f "$CHART/ci/default-values.yaml" "$@" >"$out" 2>&1
}
if stubbed "$TMP/stubbed.out" --set apps.filter.replicas=3; then
  fail "the chart accepted a ReadWriteMany claim where a ReadWriteOnce one exists"
fi
grep -q 'PersistentVolumeClaim check-dataflow-filter exists with access modes \[ReadWriteOnce\]' "$TMP/stubbed.out" ||
  fail "a ReadWriteMany claim where a ReadWriteOnce one exists: unexpected error: $(cat "$TMP/stubbed.out")"
stubbed "$TMP/stubbed.out" || fail "one filter (the defaults) on the existing ReadWriteOnce claim: $(cat "$TMP/stubbed.out")"
stubbed "$TMP/stubbed.out" --set partitions=1 || fail "partitions 1 on the existing ReadWriteOnce claim: $(cat "$TMP/stubbed.out")"
# Back from several filters to one: the existing claim is ReadWriteMany, and one filter asks for
# ReadWriteOnce unless apps.filter.persistence.accessMode keeps ReadWriteMany.
perl -0pi -e 's/\(dict "accessModes" \(list "ReadWriteOnce"\)\)/(dict "accessModes" (list "ReadWriteMany"))/' \
  "$STUBBED/templates/validate.yaml"
grep -q '(dict "accessModes" (list "ReadWriteMany"))' "$STUBBED/templates/validate.yaml" ||
  fail "the stubbed chart's lookup no longer answers with a ReadWriteMany claim"
stubbed "$TMP/stubbed.out" --set apps.filter.replicas=3 || fail "3 filters on the existing ReadWriteMany claim: $(cat "$TMP/stubbed.out")"
if stubbed "$TMP/stubbed.out"; then
  fail "the chart accepted a ReadWriteOnce claim where a ReadWriteMany one exists"
fi
grep -q 'PersistentVolumeClaim check-dataflow-filter exists with access modes \[ReadWriteMany\]' "$TMP/stubbed.out" ||
  fail "a ReadWriteOnce claim where a ReadWriteMany one exists: unexpected error: $(cat "$TMP/stubbed.out")"
stubbed "$TMP/stubbed.out" --set apps.filter.persistence.accessMode=ReadWriteMany ||
  fail "one filter on the existing ReadWriteMany claim with accessMode ReadWriteMany: $(cat "$TMP/stubbed.out")"

# ------------------------------------------------------------------ Grafana
step "dashboard JSON: parses, unique panel ids, no overlapping panels, every panel has a query"
# shellcheck disable=SC2016 # the ${...} belong to the JavaScript template literals
node -e '
  const fs = require("fs");
  const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const ids = d.panels.map((p) => p.id);
  if (new Set(ids).size !== ids.length) throw new Error("duplicate panel ids");
  const cells = new Map();
  for (const p of d.panels) {
    const g = p.gridPos;
    if (g.x + g.w > 24) throw new Error(`panel ${p.id} is wider than the grid`);
    if (p.type !== "row" && !(p.targets || []).some((t) => t.expr)) throw new Error(`panel ${p.id} has no query`);
    for (let x = g.x; x < g.x + g.w; x++)
      for (let y = g.y; y < g.y + g.h; y++) {
        const key = `${x},${y}`;
        if (cells.has(key)) throw new Error(`panels ${cells.get(key)} and ${p.id} overlap`);
        cells.set(key, p.id);
      }
  }
  // A rule file is YAML, and JSON strings are valid YAML scalars.
  const exprs = d.panels.flatMap((p) => (p.targets || []).map((t) => t.expr));
  const rules = exprs.map((e, i) => `      - record: dashboard:expr${i}\n        expr: ${JSON.stringify(e)}`);
  fs.writeFileSync(process.argv[2], "groups:\n  - name: dashboard\n    rules:\n" + rules.join("\n") + "\n");
' deploy/grafana/dashboards/dataflow.json "$TMP/dashboard-rules.yml" || fail "dashboard JSON"

# ------------------------------------------------------------------ Prometheus
if [ "$PROMTOOL_MODE" = always ]; then
  ensure_tool promtool "$PROMTOOL_MODULE"
fi
if [ "$PROMTOOL_MODE" != never ] && command -v promtool >/dev/null 2>&1; then
  step "promtool check config / check rules / test rules; dashboard queries are valid PromQL"
  # The config names the rule file by its in-container path; check a copy pointing at the repo's.
  sed "s#/etc/prometheus/alerts.yml#$ROOT/deploy/prometheus/alerts.yml#" deploy/prometheus/prometheus.yml >"$TMP/prometheus.yml"
  promtool check config "$TMP/prometheus.yml" >/dev/null || fail "promtool check config"
  promtool check rules deploy/prometheus/alerts.yml >/dev/null || fail "promtool check rules"
  promtool test rules deploy/prometheus/alerts.test.yml >/dev/null || fail "promtool test rules"
  promtool check rules "$TMP/dashboard-rules.yml" >/dev/null || fail "a dashboard query is not valid PromQL"
else
  step "SKIPPED promtool checks (promtool not installed or --no-promtool; run with --promtool)"
fi

# ------------------------------------------------------------------ compose
step "docker-compose.yml: compose-go validation and assertions"
"$TMP/composecheck" docker-compose.yml || fail "docker-compose.yml"

# Compose v2 only: Debian's docker-compose 1.29 refuses the file's top-level `name:`.
compose_v2() { # compose_v2 COMMAND...: true when COMMAND is Compose v2
  local version
  version="$("$@" version --short 2>/dev/null)" && [[ $version == 2.* || $version == v2.* ]]
}
COMPOSE=()
if compose_v2 docker compose; then
  COMPOSE=(docker compose)
elif compose_v2 "$GO_BIN/docker-compose"; then
  COMPOSE=("$GO_BIN/docker-compose")
elif [ "$COMPOSE_MODE" = always ]; then
  step "building Compose ${COMPOSE_VERSION} into $GO_BIN/docker-compose"
  deploy/tools/build-compose.sh "$COMPOSE_VERSION" "$GO_BIN/docker-compose" || fail "building Compose ${COMPOSE_VERSION}"
  COMPOSE=("$GO_BIN/docker-compose")
fi
if [ "$COMPOSE_MODE" != never ] && [ ${#COMPOSE[@]} -gt 0 ]; then
  step "docker compose config ($("${COMPOSE[@]}" version --short)): the file as Compose itself loads it"
  # Like composecheck, only the file's own defaults (no caller variables, no local .env file) plus
  # placeholders for the secrets it requires; without them it must refuse to load.
  secrets=()
  for name in INGEST_TOKEN FILTER_ADMIN_TOKEN RABBITMQ_PASSWORD POSTGRES_PASSWORD MONGODB_PASSWORD GRAFANA_ADMIN_PASSWORD; do
    secrets+=("$name=placeholder-${name,,}")
  done
  if env -i HOME="$HOME" PATH="$PATH" "${COMPOSE[@]}" --project-directory "$ROOT" -f docker-compose.yml \
    --env-file /dev/null config --quiet >/dev/null 2>&1; then
    fail "docker compose config loaded docker-compose.yml without its secrets"
  fi
  env -i HOME="$HOME" PATH="$PATH" "${secrets[@]}" "${COMPOSE[@]}" --project-directory "$ROOT" -f docker-compose.yml \
    --env-file /dev/null config --quiet || fail "docker compose config"
  services="$(env -i HOME="$HOME" PATH="$PATH" "${secrets[@]}" "${COMPOSE[@]}" --project-directory "$ROOT" \
    -f docker-compose.yml --env-file /dev/null config --services | sort | tr '\n' ' ')"
  echo "           services: $services"
else
  step "SKIPPED docker compose config (Compose v2 not installed or --no-compose; run with --compose)"
fi

step "all checks passed"
