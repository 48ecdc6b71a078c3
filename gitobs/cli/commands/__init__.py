"""One module per command group; `gitobs.cli.app` wires them into the typer app."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:  # a scan's modules load only when a scan runs (scan_now)
    from gitobs.capture.ingest import ScanResult
    from gitobs.capture.state import ScanState
from gitobs.core.repo import GitobsError, ObsPaths, Repo, locate
from gitobs.core.safe_text import inert

# soft_wrap: a long path stays on one line (copyable, greppable) instead of being folded by rich
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

RepoOption = typer.Option(None, "-C", "--repo", help="Run as if gitobs was started in this directory.",
                          show_default=False)
NoScanOption = typer.Option(False, "--no-scan", help="Read the log as it is, without scanning first.")


def open_repo(path: Path | None) -> Repo:
    return locate(path)


def scan_time_text(state: ScanState) -> str:
    """When the last scan ran, in local time, or "never"."""
    if not state.last_scan_ns:
        return "never"
    return datetime.fromtimestamp(state.last_scan_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def warn(message: str) -> None:
    err_console.print(Text(inert(f"gitobs: warning: {message}")))  # inert twice is inert once


def say(text: str | Text = "") -> None:
    console.print(text if isinstance(text, Text) else Text(text))


def plain_write(line: str) -> None:
    sys.stdout.write(line + "\n")


# A marker older than this belongs to a background scan that died: reading commands remove it.
STALE_PENDING_S = 600


def scan_now(obs: ObsPaths) -> ScanResult:
    """What a reading command does first: a whole scan (imported here, when one runs: most of a scan's
    modules are not needed to read the log)."""
    from gitobs.upkeep.scan import scan

    clear_stale_pending(obs)
    return scan(obs.common_dir)


def scan_first(obs: ObsPaths) -> None:
    """scan_now for a reading command: a scan that cannot write (a read-only or full disk, a spool someone
    else owns) is one warning, and the log is read as it is, as with --no-scan."""
    try:
        scan_now(obs)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        warn(inert(f"could not scan first ({exc.strerror or exc}{where}); reading the log as it is"))


def clear_stale_pending(obs: ObsPaths) -> None:
    try:
        if time.time() - obs.scan_pending.stat().st_mtime > STALE_PENDING_S:
            obs.scan_pending.unlink()
    except FileNotFoundError:
        pass


def reading(repo: Repo) -> Repo:
    """`repo`, when gitobs ever recorded in it (an uninstalled one keeps its log to read); else say so."""
    if not repo.obs.root.is_dir():
        raise GitobsError("nothing recorded here yet (run gitobs install, then work as usual)")
    return repo
