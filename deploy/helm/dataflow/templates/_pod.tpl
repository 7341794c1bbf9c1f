{{/*
The pod template of one app, shared by its Deployment (filter) or StatefulSet (generator,
writers). Call with (dict "root" $ "app" $name "values" $app).
*/}}
{{- define "dataflow.podTemplate" -}}
{{- $ := .root }}
{{- $name := .app }}
{{- $app := .values }}
{{- $fullname := include "dataflow.appFullname" . }}
{{- $shutdown := int (get ($app.config | default dict) "SHUTDOWN_TIMEOUT_SECONDS" | default $.Values.config.SHUTDOWN_TIMEOUT_SECONDS) }}
{{- $preStop := int $.Values.preStopSleepSeconds }}
{{- $nodeEnv := get ($app.config | default dict) "NODE_ENV" | default $.Values.config.NODE_ENV }}
{{- $rules := and (eq $name "filter") (include "dataflow.hasRules" $) }}
{{- $statefulSet := eq (include "dataflow.kind" $name) "StatefulSet" }}
{{- $writer := include "dataflow.writerPrefix" $name }}
metadata:
  labels:
    {{- include "dataflow.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
    {{- with $.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # The rule set is left out of the checksums on purpose: changing it must not restart the
    # filter, which reloads the mounted file itself.
    checksum/config: {{ include "dataflow.appConfig" . | sha256sum }}
    {{- if not $.Values.existingSecret }}
    checksum/secret: {{ toJson $.Values.secrets | sha256sum }}
    {{- end }}
    {{- if $.Values.podMonitoringAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $app.port | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with (merge (deepCopy ($app.podAnnotations | default dict)) $.Values.podAnnotations) }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "dataflow.serviceAccountName" $ }}
  automountServiceAccountToken: false
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $.Values.podSecurityContext | nindent 4 }}
  # Drain time (SHUTDOWN_TIMEOUT_SECONDS) plus the preStop pause plus a margin, so the
  # kubelet's SIGKILL never cuts a drain short.
  terminationGracePeriodSeconds: {{ add $shutdown $preStop 10 }}
  containers:
    - name: {{ $name }}
      image: {{ include "dataflow.image" . }}
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      ports:
        - name: http
          containerPort: {{ $app.port }}
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ $fullname }}
      env:
        {{- if eq $name "generator" }}
        # The source id is the pod's name (<fullname>-generator-<ordinal>): unique, stable across
        # restarts, and never held by two pods at once.
        - name: GENERATOR_ID
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- with $writer }}
        # The StatefulSet ordinal: this writer prefers the partitions p with
        # p mod {{ . }}_REPLICAS == {{ . }}_ORDINAL.
        - name: {{ . }}_ORDINAL
          valueFrom:
            fieldRef:
              fieldPath: {{ include "dataflow.podIndexField" $ }}
        {{- end }}
        {{- range $key := splitList "," (include "dataflow.secretKeys" $name) }}
        - name: {{ $key }}
          valueFrom:
            secretKeyRef:
              name: {{ include "dataflow.secretName" $ }}
              key: {{ $key }}
              {{- if and (has $key (splitList "," (include "dataflow.optionalSecretKeys" $))) (ne (toString $nodeEnv) "production") }}
              # Outside production the app runs without it (the endpoint is then unauthenticated).
              optional: true
              {{- end }}
        {{- end }}
        {{- with $app.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      startupProbe:
        httpGet: { path: /health/live, port: http }
        {{- toYaml $.Values.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet: { path: /health/live, port: http }
        {{- toYaml $.Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet: { path: /health/ready, port: http }
        {{- toYaml $.Values.probes.readiness | nindent 8 }}
      {{- if gt $preStop 0 }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", "{{ $preStop }}"]
      {{- end }}
      {{- with $app.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $.Values.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with $app.persistence }}
        - name: data
          mountPath: {{ .mountPath }}
        {{- end }}
        {{- if $rules }}
        # The whole directory, never a subPath: the kubelet swaps the mounted ConfigMap's
        # files in place after an upgrade and the filter reloads them, without a restart.
        - name: rules
          mountPath: {{ include "dataflow.rulesDir" $ }}
          readOnly: true
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if and $app.persistence (not $statefulSet) }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ $app.persistence.existingClaim | default $fullname }}
    {{- end }}
    {{- if $rules }}
    - name: rules
      configMap:
        name: {{ $fullname }}-rules
    {{- end }}
  {{- with ($app.nodeSelector | default $.Values.nodeSelector) }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  affinity:
    {{- include "dataflow.affinity" . | nindent 4 }}
  {{- with ($app.tolerations | default $.Values.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
