{{/*
Chart name, truncated to the 63 characters Kubernetes allows in a label value.
*/}}
{{- define "dataflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Release-wide base name. App resources append "-<app>"; at most 39 characters, so that the
longest StatefulSet name, "<fullname>-mongo-writer", stays within the 52 characters a StatefulSet
name may have (its pods carry the label controller-revision-hash=<name>-<10-character hash>, and a
label value has at most 63).
*/}}
{{- define "dataflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 39 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 39 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 39 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dataflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of one app's resources. Call with (dict "root" $ "app" $name).
*/}}
{{- define "dataflow.appFullname" -}}
{{- printf "%s-%s" (include "dataflow.fullname" .root) .app }}
{{- end }}

{{- define "dataflow.labels" -}}
helm.sh/chart: {{ include "dataflow.chart" . }}
app.kubernetes.io/name: {{ include "dataflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: dataflow
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels of one app's resources. Call with (dict "root" $ "app" $name).
*/}}
{{- define "dataflow.appLabels" -}}
{{ include "dataflow.labels" .root }}
app.kubernetes.io/component: {{ .app }}
{{- end }}

{{/*
Selector labels of one app: immutable on a Deployment, so they never include the version.
*/}}
{{- define "dataflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dataflow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .app }}
{{- end }}

{{/*
The workload kind of each app. The generator and the writers are StatefulSets: the pod's stable
name is the generator's source id (GENERATOR_ID) and the writer's ordinal picks its preferred
partitions. The filter is a Deployment: it has no ordinal, and all its replicas share one volume
(dataflow.filterAccessMode).
*/}}
{{- define "dataflow.kind" -}}
{{- get (dict "generator" "StatefulSet" "filter" "Deployment" "db-writer" "StatefulSet" "mongo-writer" "StatefulSet") . }}
{{- end }}

{{/*
The apps that declare and use the RabbitMQ topology, and so get RECORD_PARTITIONS (all the same).
*/}}
{{- define "dataflow.brokerApps" -}}
filter,db-writer,mongo-writer
{{- end }}

{{/*
The writers' variable prefix (<PREFIX>_ORDINAL, <PREFIX>_REPLICAS); empty for the other apps.
*/}}
{{- define "dataflow.writerPrefix" -}}
{{- get (dict "db-writer" "DB_WRITER" "mongo-writer" "MONGO_WRITER") . }}
{{- end }}

{{/*
The downward-API field holding a StatefulSet pod's ordinal: the pod-index label, set by the
StatefulSet controller since Kubernetes 1.28 (hence the chart's kubeVersion).
*/}}
{{- define "dataflow.podIndexField" -}}
metadata.labels['apps.kubernetes.io/pod-index']
{{- end }}

{{/*
Variables the chart derives and sets itself, for any app; `config` and `extraEnv` may not set them
(templates/validate.yaml refuses a release that tries). Comma-separated.
*/}}
{{- define "dataflow.derivedEnv" -}}
RECORD_PARTITIONS,GENERATOR_ID,DB_WRITER_ORDINAL,DB_WRITER_REPLICAS,MONGO_WRITER_ORDINAL,MONGO_WRITER_REPLICAS
{{- end }}

{{/*
The environment variable holding each app's HTTP port (CONTRACT.md §7).
*/}}
{{- define "dataflow.portEnv" -}}
{{- get (dict "generator" "GENERATOR_PORT" "filter" "FILTER_PORT" "db-writer" "DB_WRITER_PORT" "mongo-writer" "MONGO_WRITER_PORT") . }}
{{- end }}

{{/*
The Secret keys each app reads, and nothing more (least privilege). Comma-separated.
*/}}
{{- define "dataflow.secretKeys" -}}
{{- get (dict "generator" "INGEST_TOKEN" "filter" "RABBITMQ_URL,INGEST_TOKEN,FILTER_ADMIN_TOKEN" "db-writer" "RABBITMQ_URL,DATABASE_URL" "mongo-writer" "RABBITMQ_URL,MONGODB_URL") . }}
{{- end }}

{{/*
Secret keys an app can run without outside production (NODE_ENV): the tokens.
*/}}
{{- define "dataflow.optionalSecretKeys" -}}
INGEST_TOKEN,FILTER_ADMIN_TOKEN
{{- end }}

{{/*
Where the filter's rule set is mounted. A directory mount (never subPath), so the kubelet's
in-place ConfigMap updates reach the running filter.
*/}}
{{- define "dataflow.rulesDir" -}}
/etc/dataflow/rules
{{- end }}

{{/*
Whether the filter runs with a rule set from values (apps.filter.rules not empty).
Renders "true" or nothing.
*/}}
{{- define "dataflow.hasRules" -}}
{{- $filter := index .Values.apps "filter" }}
{{- if and $filter.enabled (not (empty ($filter.rules | default dict))) }}true{{ end }}
{{- end }}

{{/*
The environment variable pointing at an app's persistent volume, for apps that have one.
*/}}
{{- define "dataflow.persistenceEnv" -}}
{{- get (dict "generator" "GENERATOR_STATE_DIR" "filter" "FILTER_OUTPUT_DIR") . }}
{{- end }}

{{/*
Image of one app. Call with (dict "root" $ "app" $name "values" $app).
*/}}
{{- define "dataflow.image" -}}
{{- $img := .root.Values.image }}
{{- $own := .values.image | default dict }}
{{- $tag := $own.tag | default $img.tag | default .root.Chart.AppVersion }}
{{- if $own.repository }}
{{- printf "%s:%s" $own.repository $tag }}
{{- else if $img.registry }}
{{- printf "%s/%s-%s:%s" $img.registry $img.repository .app $tag }}
{{- else }}
{{- printf "%s-%s:%s" $img.repository .app $tag }}
{{- end }}
{{- end }}

{{- define "dataflow.secretName" -}}
{{- default (include "dataflow.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "dataflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dataflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The URL the generator connects to: set explicitly, or this release's filter Service.
*/}}
{{- define "dataflow.filterWsUrl" -}}
{{- $generator := index .Values.apps "generator" }}
{{- if $generator.config.FILTER_WS_URL }}
{{- $generator.config.FILTER_WS_URL }}
{{- else }}
{{- printf "ws://%s:%v/ingest" (include "dataflow.appFullname" (dict "root" . "app" "filter")) (index .Values.apps "filter").port }}
{{- end }}
{{- end }}

{{/*
One app's non-secret environment: the tracing variables (when tracing.otlpEndpoint is set), the
shared `config` over them, the app's `config` over that, then the values the chart derives (port,
data directory, rules file, filter URL, RECORD_PARTITIONS, the writers' <PREFIX>_REPLICAS; the
per-pod GENERATOR_ID and <PREFIX>_ORDINAL come from the downward API instead). Renders YAML
key: "value" lines; null values are left out so the app applies its own default.
Call with (dict "root" $ "app" $name "values" $app).
*/}}
{{- define "dataflow.appConfig" -}}
{{- $env := dict }}
{{- with .root.Values.tracing }}
{{- if .otlpEndpoint }}
{{- $env = dict "OTEL_EXPORTER_OTLP_ENDPOINT" .otlpEndpoint "OTEL_SERVICE_NAME" $.app "OTEL_TRACES_SAMPLER" .sampler "OTEL_TRACES_SAMPLER_ARG" .samplerArg }}
{{- end }}
{{- end }}
{{- $env = merge (deepCopy (.values.config | default dict)) (deepCopy .root.Values.config) $env }}
{{- if and (eq .app "filter") (include "dataflow.hasRules" .root) }}
{{- $_ := set $env "FILTER_RULES_FILE" (printf "%s/rules.json" (include "dataflow.rulesDir" .root)) }}
{{- end }}
{{- $_ := set $env (include "dataflow.portEnv" .app) .values.port }}
{{- with .values.persistence }}
{{- $_ := set $env (include "dataflow.persistenceEnv" $.app) .mountPath }}
{{- end }}
{{- if eq .app "generator" }}
{{- $_ := set $env "FILTER_WS_URL" (include "dataflow.filterWsUrl" .root) }}
{{- end }}
{{- if has .app (splitList "," (include "dataflow.brokerApps" .root)) }}
{{- $_ := set $env "RECORD_PARTITIONS" .root.Values.partitions }}
{{- end }}
{{- with include "dataflow.writerPrefix" .app }}
{{- $_ := set $env (printf "%s_REPLICAS" .) $.values.replicas }}
{{- end }}
{{- range $key := keys $env | sortAlpha }}
{{- $value := get $env $key }}
{{- if kindIs "float64" $value }}
{{- /* values.yaml numbers arrive as float64; print whole ones as integers, never as 1e+06 */}}
{{- if eq $value (float64 (int64 $value)) }}
{{- $value = int64 $value }}
{{- end }}
{{- end }}
{{- if not (kindIs "invalid" $value) }}
{{ $key }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Pod affinity of one app: the app's `affinity` (or the shared one), plus, unless that already has
a podAntiAffinity of its own, a preferred anti-affinity between the app's pods on
kubernetes.io/hostname, so that a node drain takes one pod of the app at a time (the PDB then
holds the next eviction until the replacement is ready). Call with (dict "root" $ "app" $name
"values" $app).
*/}}
{{- define "dataflow.affinity" -}}
{{- $affinity := deepCopy (.values.affinity | default .root.Values.affinity | default dict) }}
{{- if not (hasKey $affinity "podAntiAffinity") }}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "dataflow.selectorLabels" . | fromYaml)) }}
{{- $_ := set $affinity "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) }}
{{- end }}
{{- toYaml $affinity }}
{{- end }}

{{/*
The access mode of the filter's output volume: apps.filter.persistence.accessMode when set, else
derived from `partitions` and the filter's replicas. One filter: ReadWriteOnce (what every
StorageClass provides; partitions 1 always has one filter, which appends to its files itself).
Several filters (partitions > 1): ReadWriteMany (every filter replica runs a file writer that
appends to the partition directories FILTER_OUTPUT_DIR/<p> it is the active consumer of, fenced by
an fcntl lock on FILTER_OUTPUT_DIR/<p>/.owner.lock, so every replica mounts the same directory).
*/}}
{{- define "dataflow.filterAccessMode" -}}
{{- $persistence := (index .Values.apps "filter").persistence | default dict }}
{{- if $persistence.accessMode }}
{{- $persistence.accessMode }}
{{- else if and (gt (int .Values.partitions) 1) (gt (int (index .Values.apps "filter").replicas) 1) }}
{{- "ReadWriteMany" }}
{{- else }}
{{- "ReadWriteOnce" }}
{{- end }}
{{- end }}

{{/*
Whether the filter rolls out replica by replica ("true" or nothing): only with partitions > 1 (the
file writers fence each partition directory by its lock, so old and new pods may overlap) and a
ReadWriteMany volume (the surge pod mounts it while the old pods still do). Otherwise Recreate:
with partitions 1 two filters would append to the same hourly files, and a ReadWriteOnce volume
may not attach to the surge pod's node.
*/}}
{{- define "dataflow.filterRolling" -}}
{{- if and (gt (int .Values.partitions) 1) (eq (include "dataflow.filterAccessMode" .) "ReadWriteMany") }}true{{ end }}
{{- end }}

{{/*
The filter Deployment's strategy (dataflow.filterRolling): RollingUpdate with maxUnavailable 0 and
maxSurge 1, so a rollout starts each new pod before it stops an old one and ingest never stops; or
Recreate.
*/}}
{{- define "dataflow.filterStrategy" -}}
{{- if include "dataflow.filterRolling" . }}
type: RollingUpdate
rollingUpdate:
  maxUnavailable: 0
  maxSurge: 1
{{- else }}
type: Recreate
{{- end }}
{{- end }}
