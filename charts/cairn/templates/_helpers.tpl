{{/* Names and labels, after Helm's conventions. */}}
{{- define "cairn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cairn.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cairn.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cairn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cairn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cairn.labels" -}}
helm.sh/chart: {{ include "cairn.chart" . }}
{{ include "cairn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cairn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cairn.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cairn.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret this chart manages, holding whatever no existingSecret provides. */}}
{{- define "cairn.secretName" -}}
{{- include "cairn.fullname" . }}
{{- end }}

{{/*
The external URL: config.externalUrl, else the first ingress host (https:// when one of the
ingress's TLS entries names it), else empty (Cairn uses each request's Host).
*/}}
{{- define "cairn.externalUrl" -}}
{{- if .Values.config.externalUrl }}
{{- .Values.config.externalUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $host := (first .Values.ingress.hosts).host }}
{{- $tls := false }}
{{- range .Values.ingress.tls }}
{{- if has $host .hosts }}{{ $tls = true }}{{ end }}
{{- end }}
{{- printf "%s://%s" (ternary "https" "http" $tls) $host }}
{{- end }}
{{- end }}

{{/* Fails the render with the reason when a required value is missing. */}}
{{- define "cairn.validate" -}}
{{- if not (or .Values.database.url .Values.database.existingSecret) }}
{{- fail "database.url or database.existingSecret is required: Cairn's replicas share one PostgreSQL" }}
{{- end }}
{{- if not .Values.s3.bucket }}
{{- fail "s3.bucket is required: Cairn's replicas share one S3 bucket" }}
{{- end }}
{{- if not (or .Values.s3.existingSecret (and .Values.s3.accessKeyId .Values.s3.secretAccessKey)) }}
{{- fail "s3.accessKeyId and s3.secretAccessKey, or s3.existingSecret, are required" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (eq (kindIs "invalid" .Values.podDisruptionBudget.minAvailable) (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set exactly one of minAvailable and maxUnavailable" }}
{{- end }}
{{- end }}

{{/*
The pod's environment, shared by the server and the migration Job: every name is one of Cairn's
settings (src/config/settings.ts).
*/}}
{{- define "cairn.env" -}}
- name: CAIRN_DATA_DIR
  value: /var/lib/cairn
- name: CAIRN_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ default (include "cairn.secretName" .) .Values.database.existingSecret }}
      key: {{ ternary .Values.database.existingSecretKey "database-url" (ne .Values.database.existingSecret "") }}
- name: CAIRN_STORAGE
  value: s3
- name: CAIRN_S3_BUCKET
  value: {{ .Values.s3.bucket | quote }}
- name: CAIRN_S3_REGION
  value: {{ .Values.s3.region | quote }}
{{- with .Values.s3.endpoint }}
- name: CAIRN_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.s3.prefix }}
- name: CAIRN_S3_PREFIX
  value: {{ . | quote }}
{{- end }}
{{- if not (kindIs "invalid" .Values.s3.forcePathStyle) }}
- name: CAIRN_S3_FORCE_PATH_STYLE
  value: {{ .Values.s3.forcePathStyle | quote }}
{{- end }}
{{- if not (kindIs "invalid" .Values.s3.partSize) }}
- name: CAIRN_S3_PART_SIZE
  value: {{ .Values.s3.partSize | int64 | quote }}
{{- end }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ default (include "cairn.secretName" .) .Values.s3.existingSecret }}
      key: {{ ternary .Values.s3.accessKeyIdKey "s3-access-key-id" (ne .Values.s3.existingSecret "") }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default (include "cairn.secretName" .) .Values.s3.existingSecret }}
      key: {{ ternary .Values.s3.secretAccessKeyKey "s3-secret-access-key" (ne .Values.s3.existingSecret "") }}
{{- end }}
