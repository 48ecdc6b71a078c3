"""Prometheus metrics: counters and histograms kept per repository, the text exposition format, the
`metrics serve` HTTP server and the node_exporter textfile."""
