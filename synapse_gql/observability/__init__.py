"""Operating the server: Prometheus metrics, OpenTelemetry traces, request-scoped logs."""
