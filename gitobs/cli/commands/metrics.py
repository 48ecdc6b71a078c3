"""`gitobs export prometheus` (the metrics once, to a node_exporter textfile or stdout) and
`gitobs metrics serve` (the metrics over HTTP on 127.0.0.1, for a Prometheus scraping this machine)."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import typer
from rich.text import Text

from gitobs.cli.commands import (
    NoScanOption,
    RepoOption,
    open_repo,
    plain_write,
    say,
    warn,
)
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.core.safe_text import inert
from gitobs.export.prometheus.exposition import TEXTFILE_SUFFIX, write_textfile
from gitobs.export.prometheus.repositories import (
    Collection,
    Target,
    exposition,
    registered,
)
from gitobs.export.prometheus.server import LOOPBACK, MetricsServer
from gitobs.export.prometheus.server import serve as serve_until_stopped
from gitobs.upkeep.scan import scan

app = typer.Typer(no_args_is_help=True, help="Prometheus metrics of the log, served over HTTP on 127.0.0.1.")

AllOption = typer.Option(False, "--all", help="Every repository gitobs is installed in (gitobs repos).")


def prometheus(
    textfile: Path = typer.Option(None, "--textfile", help="Write node_exporter's textfile format to this file, "
                                  "atomically (its name must end in .prom); without it: print.", show_default=False),
    every: bool = AllOption,
    repo_dir: Path = RepoOption,
    no_scan: bool = NoScanOption,
) -> None:
    """Write the Prometheus metrics of this repository, or of every one, once."""
    if textfile is not None and textfile.suffix != TEXTFILE_SUFFIX:
        raise GitobsError(f"{textfile}: a node_exporter textfile's name must end in {TEXTFILE_SUFFIX}")
    targets = _targets(repo_dir, every)
    options = Collection(scan_first=None if no_scan else scan_quickly, lock_wait_s=lambda obs: 30.0,
                         budget_s=math.inf, warn=warn)
    text = exposition(targets, options)
    if textfile is None:
        sys.stdout.write(text)
        return
    write_textfile(textfile.absolute(), text)
    say(Text(f"wrote the metrics of {len(targets)} repositor{'y' if len(targets) == 1 else 'ies'} "
             f"to {inert(textfile)}"))


@app.command()
def serve(
    port: int = typer.Option(..., "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free one, printed)."),
    every: bool = AllOption,
    repo_dir: Path = RepoOption,
    no_scan: bool = NoScanOption,
) -> None:
    """Serve /metrics on 127.0.0.1 for Prometheus, computed at each scrape (after a scan, unless --no-scan),
    until Ctrl-C or SIGTERM."""
    chosen = _targets(repo_dir, every)  # refused here, before listening

    def targets() -> list[Target]:
        return registered() if every else chosen  # the registry read again at each scrape: new ones show up

    once = _once(warn)
    options = Collection(scan_first=None if no_scan else scan_quickly, warn=once)
    server = MetricsServer(LOOPBACK, port, lambda: exposition(targets(), options), once)
    plain_write(f"serving http://{LOOPBACK}:{server.port}/metrics (Ctrl-C stops)")
    sys.stdout.flush()
    serve_until_stopped(server)
    plain_write("stopped")


def _targets(repo_dir: Path | None, every: bool) -> list[Target]:
    if every:
        if repo_dir is not None:
            raise GitobsError("--all and -C name different repositories: give one of them")
        return registered()
    repo = open_repo(repo_dir)
    if not repo.obs.root.is_dir():
        raise GitobsError("gitobs is not installed in this repository (run gitobs install)")
    return [Target(repo.obs)]


def _once(show: Callable[[str], None]) -> Callable[[str], None]:
    """A warning shown the first time only: scrapes come every few seconds."""
    seen: set[str] = set()

    def once(message: str) -> None:
        if message not in seen:
            seen.add(message)
            show(message)
    return once


def scan_quickly(obs: ObsPaths) -> None:
    """Before a repository is counted: what is new, waiting at most 1 s for its lock (busy: another scan is
    writing it all down); the textfile is not this command's to rewrite."""
    scan(obs.common_dir, wait_s=1.0, export=False)
