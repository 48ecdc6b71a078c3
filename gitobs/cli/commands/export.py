"""`gitobs export otlp|prometheus`: send or write what the log holds to an observability system, once.
Continuous export (from every scan) is turned on by the `export.*` settings, in user scope only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.text import Text

from gitobs.cli.commands import NoScanOption, RepoOption, open_repo, say, scan_now, warn
from gitobs.cli.commands.metrics import prometheus
from gitobs.core import config
from gitobs.core.repo import GitobsError
from gitobs.core.safe_text import inert
from gitobs.export.otlp.delivery import OtlpSettings, export

app = typer.Typer(no_args_is_help=True, help="Export events and metrics to OpenTelemetry or Prometheus.")
app.command("prometheus")(prometheus)


@app.command()
def otlp(
    endpoint: str = typer.Option(None, "--endpoint", help="Collector base URL (default: export.otlp.endpoint); "
                                 "requests go to /v1/logs and /v1/traces.", show_default=False),
    encoding: str = typer.Option(None, "--encoding", help="protobuf or json (default: export.otlp.encoding).",
                                 show_default=False),
    no_redact: bool = typer.Option(False, "--no-redact", help="Send branch names and paths in clear."),
    header: list[str] = typer.Option([], "--header", help="NAME=VALUE, added to the configured headers.",
                                     show_default=False),
    repo_dir: Path = RepoOption,
    no_scan: bool = NoScanOption,
) -> None:
    """Send every event not yet sent as OTLP log records, and commits and checkouts as traces."""
    repo = open_repo(repo_dir)
    settings = _settings(repo.common_dir, endpoint, encoding, no_redact, header)
    if not no_scan:
        scan_now(repo.obs)
    result = export(repo.common_dir, settings)
    if result.skipped:
        say("another export to this endpoint is running; it will send everything")
        return
    say(Text(f"sent {result.records} log record(s) and {result.spans} span(s) in {result.requests} "
             f"request(s) to {inert(settings.endpoint)}"))
    if result.queued:
        warn(f"{result.queued} request(s) kept for the next run: {inert(result.error)}")
        raise typer.Exit(1)


def _settings(common_dir: Path, endpoint: str | None, encoding: str | None, no_redact: bool,
              headers: list[str]) -> OtlpSettings:
    settings = OtlpSettings.load(common_dir)
    keys = config.KEYS
    changes: dict = {}
    if endpoint is not None:
        changes["endpoint"] = config.parse_value(keys["export.otlp.endpoint"], endpoint, "--endpoint")
    if encoding is not None:
        changes["encoding"] = config.parse_value(keys["export.otlp.encoding"], encoding, "--encoding")
    if headers:
        extra = config.from_cli(keys["export.otlp.headers"], ",".join(headers))
        changes["headers"] = {**settings.headers, **extra}
    if no_redact:
        changes["redact"] = False
    settings = dataclasses.replace(settings, **changes)
    if not settings.endpoint:
        raise GitobsError("no OTLP endpoint: pass --endpoint URL or set export.otlp.endpoint in your user "
                          "config (gitobs config set --user export.otlp.endpoint URL)")
    return settings
