{{/*
Chart name, truncated to the 63 characters Kubernetes allows in a label value.
*/}}
{{- define "dataflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Release-wide base name. App resources append "-<app>", so this leaves room for "-mongo-writer".
*/}}
{{- define "dataflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
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
data directory, rules file, filter URL). Renders YAML
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
