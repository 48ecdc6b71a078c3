"""`gitobs scan`: ingest spool records and reflogs into the log; also what the hooks start in the background."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from gitobs.commands import RepoOption, open_repo, say
from gitobs.repo import GitobsError, ObsPaths
from gitobs.scan import ScanResult
from gitobs.scan import scan as run_scan
from gitobs.scanstate import load_state
from gitobs.spool import write_note

# Background scans start at most this often; hooks queue at most one (the scan.pending marker).
BACKGROUND_INTERVAL_S = 2.0
# A marker older than this belongs to a background scan that died: reading commands remove it.
STALE_PENDING_S = 600


def scan(
    repo_dir: Path = RepoOption,
    git_dir: Path = typer.Option(None, "--git-dir", help="The common git dir, as the hooks pass it.",
                                 show_default=False),
    background: bool = typer.Option(False, "--background", hidden=True),
    quiet: bool = typer.Option(False, "-q", "--quiet"),
) -> None:
    """Turn new hook records and reflog entries into events in the log."""
    common = git_dir.resolve() if git_dir else open_repo(repo_dir).common_dir
    obs = ObsPaths(common)
    if background:
        _background(obs)
        return
    result = scan_now(obs)
    if not quiet:
        say(describe(result))


def scan_now(obs: ObsPaths) -> ScanResult:
    clear_stale_pending(obs)
    return run_scan(obs.common_dir)


def describe(result: ScanResult) -> str:
    if result.skipped:
        return "another scan is running; it will pick up everything"
    text = (f"scanned {result.records} hook record(s) and {result.reflog_entries} reflog entr"
            f"{'y' if result.reflog_entries == 1 else 'ies'}: {result.events} new event(s)")
    if result.garbage:
        text += f"; dropped {len(result.garbage)} unreadable spool file(s)"
    return text


def clear_stale_pending(obs: ObsPaths) -> None:
    try:
        if time.time() - obs.scan_pending.stat().st_mtime > STALE_PENDING_S:
            obs.scan_pending.unlink()
    except FileNotFoundError:
        pass


def _background(obs: ObsPaths) -> None:
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
        run_scan(obs.common_dir, wait_s=120)
    except GitobsError as exc:
        if obs.is_enabled():  # a bad setting, say: the user sees it in the log, not in git's output
            write_note(obs.spool, "gitobs-error", ["background scan", str(exc)])
    except Exception as exc:  # noqa: BLE001 - the one place where anything must be caught and kept
        write_note(obs.spool, "gitobs-error", ["background scan", f"{type(exc).__name__}: {exc}"])
