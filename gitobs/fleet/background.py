"""The scan the hooks start in the background (`python -m gitobs scan --background --git-dir DIR`).

It has an entry of its own in gitobs/__main__.py (gitobs.cli.main.background_git_dir) that skips the command
line's machinery (typer and every command module), because it runs after a great many git commands: that is
most of its start-up time."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from gitobs.capture.spool import write_note
from gitobs.capture.state import load_state
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.export.otlp.after_scan import after_scan
from gitobs.upkeep.scan import scan

# Background scans start at most this often; hooks queue at most one (the scan.pending marker).
BACKGROUND_INTERVAL_S = 2.0


def main(git_dir: Path) -> None:
    run(ObsPaths(git_dir.resolve()))
    sys.exit(0)


def run(obs: ObsPaths) -> None:
    """Detached from the terminal and throttled; errors go to the log as gitobs.error, never to git."""
    try:
        os.setsid()
    except OSError:
        pass
    try:
        last = load_state(obs.state).last_scan_ns / 1e9
        time.sleep(max(0.5, min(BACKGROUND_INTERVAL_S, last + BACKGROUND_INTERVAL_S - time.time())))
        try:
            obs.scan_pending.unlink()  # from here on, a new hook run may queue the next scan
        except FileNotFoundError:
            pass
        scan(obs.common_dir, wait_s=120)
        after_scan(obs.common_dir)
    except GitobsError as exc:
        if obs.is_enabled():  # a bad setting, say: the user sees it in the log, not in git's output
            write_note(obs.spool, "gitobs-error", ["background scan", str(exc)])
    except Exception as exc:  # noqa: BLE001 - the one place where anything must be caught and kept
        write_note(obs.spool, "gitobs-error", ["background scan", f"{type(exc).__name__}: {exc}"])
