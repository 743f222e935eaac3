{{/* Chart name, overridable. */}}
{{- define "gpu-telemetry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/*
Base name of every object. Kept to 40 characters so that "<base>-collector-NN" and the
StatefulSets' pod names and controller-revision-hash labels stay within Kubernetes limits.
*/}}
{{- define "gpu-telemetry.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gpu-telemetry.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: (dict "ctx" $ "component" "writer") */}}
{{- define "gpu-telemetry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gpu-telemetry.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label: (dict "ctx" $ "component" "writer") */}}
{{- define "gpu-telemetry.labels" -}}
helm.sh/chart: {{ include "gpu-telemetry.chart" .ctx }}
{{ include "gpu-telemetry.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "gpu-telemetry.name" .ctx }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/* The pipeline image; image.repository is mandatory. */}}
{{- define "gpu-telemetry.image" -}}
{{- $repo := required "image.repository is required (the image built from deploy/docker/Dockerfile)" .Values.image.repository -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{- define "gpu-telemetry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gpu-telemetry.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Service names. */}}
{{- define "gpu-telemetry.writerHeadless" -}}{{ include "gpu-telemetry.fullname" . }}-writer-headless{{- end -}}
{{- define "gpu-telemetry.writerService" -}}{{ include "gpu-telemetry.fullname" . }}-writer{{- end -}}
{{- define "gpu-telemetry.readerHeadless" -}}{{ include "gpu-telemetry.fullname" . }}-reader-headless{{- end -}}
{{- define "gpu-telemetry.postgresqlName" -}}{{ include "gpu-telemetry.fullname" . }}-postgresql{{- end -}}

{{/* Fully qualified name of a Service in the release namespace: (dict "ctx" $ "name" "x") */}}
{{- define "gpu-telemetry.fqdn" -}}
{{- printf "%s.%s.svc.%s" .name .ctx.Release.Namespace .ctx.Values.clusterDomain -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds of a draining component: (dict "component" "writer" "values" .Values.writer)
Defaults to the drain timeout + 30 s and refuses a value that would cut the drain short.
*/}}
{{- define "gpu-telemetry.terminationGrace" -}}
{{- $drain := int .values.drainTimeoutSeconds -}}
{{- $grace := add $drain 30 -}}
{{- if not (kindIs "invalid" .values.terminationGracePeriodSeconds) -}}
{{- $grace = int .values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- if le $grace $drain -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) must be larger than %s.drainTimeoutSeconds (%d), or the kubelet kills the pod before it drained" .component $grace .component $drain) -}}
{{- end -}}
{{- $grace -}}
{{- end -}}

{{/* Logging environment shared by every binary. */}}
{{- define "gpu-telemetry.logEnv" -}}
- name: LOG_FORMAT
  value: {{ .Values.log.format | quote }}
- name: LOG_LEVEL
  value: {{ .Values.log.level | quote }}
{{- end -}}

{{/*
Database environment: DATABASE_URL (flag --database-url) and, for the bundled PostgreSQL,
PGPASSWORD, which libpq reads when the connection string has no password.
*/}}
{{- define "gpu-telemetry.databaseEnv" -}}
{{- if .Values.postgresql.enabled -}}
{{- if .Values.externalDatabase.existingSecret -}}
{{- fail "externalDatabase.existingSecret is set but postgresql.enabled is true: set postgresql.enabled=false to use the external database" -}}
{{- end -}}
- name: DATABASE_URL
  value: {{ printf "host=%s port=%d dbname=%s user=%s sslmode=disable" (include "gpu-telemetry.fqdn" (dict "ctx" . "name" (include "gpu-telemetry.postgresqlName" .))) (int .Values.postgresql.port) .Values.postgresql.auth.database .Values.postgresql.auth.username | quote }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "gpu-telemetry.postgresqlSecretName" . }}
      key: {{ include "gpu-telemetry.postgresqlPasswordKey" . }}
{{- else -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "externalDatabase.existingSecret is required when postgresql.enabled is false (a Secret holding the database URL)" .Values.externalDatabase.existingSecret }}
      key: {{ required "externalDatabase.secretKey is required" .Values.externalDatabase.secretKey }}
{{- end -}}
{{- end -}}

{{- define "gpu-telemetry.postgresqlSecretName" -}}
{{- if .Values.postgresql.auth.existingSecret -}}
{{- .Values.postgresql.auth.existingSecret -}}
{{- else -}}
{{- include "gpu-telemetry.postgresqlName" . -}}
{{- end -}}
{{- end -}}

{{- define "gpu-telemetry.postgresqlPasswordKey" -}}
{{- if .Values.postgresql.auth.existingSecret -}}
{{- .Values.postgresql.auth.passwordKey -}}
{{- else -}}
password
{{- end -}}
{{- end -}}

{{/*
Pod template annotations: the component's podAnnotations, `extra` and the Prometheus
scrape annotations (metrics.podAnnotations), the first winning on a shared key; no
annotations key at all when every one is empty.
(dict "ctx" $ "port" 8081 "values" .Values.writer "extra" (dict ...))
*/}}
{{- define "gpu-telemetry.podAnnotations" -}}
{{- $a := dict -}}
{{- if .ctx.Values.metrics.podAnnotations -}}
{{- $_ := set $a "prometheus.io/scrape" "true" -}}
{{- $_ := set $a "prometheus.io/port" (.port | toString) -}}
{{- $_ := set $a "prometheus.io/path" "/metrics" -}}
{{- end -}}
{{- $a = merge (deepCopy (default dict .values.podAnnotations)) (default dict .extra) $a -}}
{{- if $a -}}
annotations:
  {{- toYaml $a | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* Pod-level fields shared by every pipeline pod: (dict "ctx" $ "values" .Values.writer) */}}
{{- define "gpu-telemetry.podCommon" -}}
serviceAccountName: {{ include "gpu-telemetry.serviceAccountName" .ctx }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .ctx.Values.podSecurityContext | nindent 2 }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* HTTP probes on the service port: (dict "port" "http") */}}
{{- define "gpu-telemetry.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/*
Optional numeric flags as a YAML list, empty when every value is null:
(list (list "--max-inflight-bytes" .Values.writer.maxInflightBytes) ...)
*/}}
{{- define "gpu-telemetry.optionalArgs" -}}
{{- $out := list -}}
{{- range $pair := . -}}
{{- if not (kindIs "invalid" (index $pair 1)) -}}
{{- $out = append $out (index $pair 0) -}}
{{- $out = append $out (index $pair 1 | int64 | toString) -}}
{{- end -}}
{{- end -}}
{{- if $out -}}
{{- toYaml $out -}}
{{- end -}}
{{- end -}}
