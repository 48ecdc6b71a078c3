"""`gitobs export otlp|prometheus`: send or write what the log holds to an observability system, once.
Continuous export (from every scan) is turned on by the `export.*` settings, in user scope only."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Export events and metrics to OpenTelemetry or Prometheus.")
