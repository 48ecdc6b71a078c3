"""`gitobs scan`: ingest spool records and reflogs into the log; also what the hooks start in the background."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.text import Text

from gitobs.capture.ingest import ScanResult
from gitobs.cli.commands import RepoOption, open_repo, say, scan_now, warn
from gitobs.core.registry import Registry
from gitobs.core.repo import ObsPaths
from gitobs.core.safe_text import inert
from gitobs.export.otlp.after_scan import after_scan
from gitobs.fleet.background import run as run_in_background
from gitobs.fleet.last_run import record_run
from gitobs.fleet.scan_all import scan_entries


def scan(
    repo_dir: Path = RepoOption,
    git_dir: Path = typer.Option(None, "--git-dir", help="The common git dir, as the hooks pass it.",
                                 show_default=False),
    background: bool = typer.Option(False, "--background", hidden=True),
    every: bool = typer.Option(False, "--all", help="Every repository gitobs is installed in (gitobs repos)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Say nothing unless something failed."),
) -> None:
    """Turn new hook records and reflog entries into events in the log."""
    if every:
        scan_registered(quiet)
        return
    common = git_dir.resolve() if git_dir else open_repo(repo_dir).common_dir
    obs = ObsPaths(common)
    if background:
        run_in_background(obs)
        return
    result = scan_now(obs)
    if not quiet:
        say(describe(result))
    after_scan(obs.common_dir)


def scan_registered(quiet: bool) -> None:
    """`scan --all`: one line per repository, a failure reported and the others scanned; exit 1 if any failed."""
    started = time.time()
    outcomes = scan_entries(Registry().entries())
    run = record_run(started, outcomes)
    for outcome in outcomes:
        if outcome.error is not None:
            warn(f"{inert(outcome.label)}: {inert(outcome.error)}")
        elif not quiet and outcome.result is not None:
            say(Text(f"{inert(outcome.label)}: {describe(outcome.result)}"))
    if not quiet:
        say(f"{run.repos} repositor{'y' if run.repos == 1 else 'ies'} scanned in {run.seconds:.2f} s"
            + (f", {len(run.failed)} failed" if run.failed else "")
            + ("" if run.repos else " (gitobs install registers a repository)"))
    if run.failed:
        raise SystemExit(1)


def describe(result: ScanResult) -> str:
    if result.skipped:
        return "another scan is running; it will pick up everything"
    text = (f"scanned {result.records} hook record(s) and {result.reflog_entries} reflog entr"
            f"{'y' if result.reflog_entries == 1 else 'ies'}: {result.events} new event(s)")
    if result.garbage:
        text += f"; dropped {len(result.garbage)} unreadable spool file(s)"
    return text
