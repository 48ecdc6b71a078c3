"""One module per command group; `gitobs.app` wires them into the typer app."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from gitobs.repo import Repo, locate
from gitobs.scanstate import ScanState

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
    err_console.print(Text(f"gitobs: warning: {message}"))


def say(text: str | Text = "") -> None:
    console.print(text if isinstance(text, Text) else Text(text))


def plain_write(line: str) -> None:
    sys.stdout.write(line + "\n")
