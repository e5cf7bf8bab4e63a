{{- define "aimock.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aimock.fullname" -}}
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

{{- define "aimock.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "aimock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels; "component" tells replay pods from the recorder. */}}
{{- define "aimock.selector" -}}
app.kubernetes.io/name: {{ include "aimock.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "aimock.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "aimock.cassettesConfigMap" -}}
{{- .Values.cassettes.configMap.name | default (printf "%s-cassettes" (include "aimock.fullname" .)) }}
{{- end }}

{{/* Seconds the kubelet waits after the preStop pause: aimock's own deadline plus a margin. */}}
{{- define "aimock.gracePeriod" -}}
{{- add (div (add .Values.shutdownTimeoutMs 999) 1000) .Values.preStopSleepSeconds .Values.terminationMarginSeconds }}
{{- end }}

{{- define "aimock.controlSecret" -}}
{{- .Values.control.existingSecret | default (printf "%s-control" (include "aimock.fullname" .)) }}
{{- end }}

{{- define "aimock.authSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "aimock.fullname" .)) }}
{{- end }}

{{/* Environment shared by replay and record: the control token and API keys from Secrets. */}}
{{- define "aimock.env" -}}
- name: AIMOCK_LOG
  value: {{ .Values.logLevel | quote }}
{{- if or .Values.control.existingSecret .Values.control.token }}
- name: AIMOCK_CONTROL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "aimock.controlSecret" . }}
      key: {{ .Values.control.existingSecretKey }}
{{- end }}
{{- if or .Values.auth.existingSecret .Values.auth.apiKeys }}
- name: AIMOCK_API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "aimock.authSecret" . }}
      key: {{ .Values.auth.existingSecretKey }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "aimock.probes" -}}
readinessProbe:
  httpGet:
    path: /ready
    port: http
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: 10
  failureThreshold: 3
{{- end }}

{{- define "aimock.lifecycle" -}}
{{- if gt (int .Values.preStopSleepSeconds) 0 }}
lifecycle:
  preStop:
    sleep:
      seconds: {{ .Values.preStopSleepSeconds }}
{{- end }}
{{- end }}
