{{- define "echo.labels" -}}
app.kubernetes.io/name: echo
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "echo.selector" -}}
app.kubernetes.io/name: echo
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
