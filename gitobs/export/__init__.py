"""Exporters the user opts into in their own config: OTLP to a collector (gitobs.export.otlp) and
Prometheus metrics, served or written to node_exporter's textfile (gitobs.export.prometheus). They read the
log and the analyzers; nothing here runs unless the user set it up."""
