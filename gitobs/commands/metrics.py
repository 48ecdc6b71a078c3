"""`gitobs export prometheus` (the metrics once, to a node_exporter textfile or stdout) and
`gitobs metrics serve` (the metrics over HTTP on 127.0.0.1, for a Prometheus scraping this machine)."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import typer
from rich.text import Text

from gitobs.commands import NoScanOption, RepoOption, open_repo, plain_write, say, warn
from gitobs.exposition import TEXTFILE_SUFFIX, write_textfile
from gitobs.metrics_server import LOOPBACK, MetricsServer, serve as serve_until_stopped
from gitobs.prometheus import Collection, Target, exposition, registered
from gitobs.repo import GitobsError
from gitobs.safe_text import inert

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
    text = exposition(targets, Collection(scan_first=not no_scan, lock_wait_s=lambda obs: 30.0,
                                          budget_s=math.inf, warn=warn))
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
    options = Collection(scan_first=not no_scan, warn=once)
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
