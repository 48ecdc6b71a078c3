"""`gitobs demo`: a scratch repository, a scripted session through real git, and what gitobs recorded."""

from __future__ import annotations

import collections
import shutil
import tempfile
import time
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from gitobs.cli.commands import console, plain_write, say, warn
from gitobs.cli.commands.events import event_line
from gitobs.cli.commands.report import load_plugins, write_report
from gitobs.cli.demo import Session, play, prepare
from gitobs.core.repo import GitobsError, locate
from gitobs.log.eventlog import EventLog
from gitobs.log.read import read_events
from gitobs.replay.analysis import Context
from gitobs.replay.report import local_offset
from gitobs.upkeep.scan import scan


def demo(
    directory: Path = typer.Option(None, "--dir", help="Build the demo repository here and keep it.",
                                   show_default=False),
) -> None:
    """Play a realistic git session in a scratch repository and show what gitobs recorded."""
    if directory is not None and directory.exists() and any(directory.iterdir()):
        raise GitobsError(f"{directory} is not empty; give a new directory to --dir")
    scratch = Path(tempfile.mkdtemp(prefix="gitobs-demo-")) if directory is None else None
    target = (scratch / "calc") if scratch else directory.resolve()
    try:
        say(Text("Building a demo repository and playing a session of git work:", style="bold"))
        prepare(target, say)
        play(Session(target, say))
        repo = locate(target)
        result = scan(repo.common_dir)
        say()
        say(Text(f"Recorded {result.events} events from {result.records} hook records and "
                 f"{result.reflog_entries} reflog entries:", style="bold"))
        recorded = list(read_events(repo.obs, warn))
        for event in recorded:
            plain_write("  " + event_line(event))
        _counts(recorded)
        say()
        say(Text("What gitobs report makes of it:", style="bold"))
        now = time.time()
        provided, renderer = load_plugins("text")
        write_report(EventLog(repo.obs.log), provided, renderer, [], Context(now=now, utc_offset_s=local_offset(now)),
                     None)
        if scratch is None:
            say(f"\nThe repository stays in {target}; try: gitobs report -C {target} --format html -o report.html")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _counts(recorded: list) -> None:
    counts = collections.Counter(event.type for event in recorded)
    table = Table("event type", "count", box=None, title="By type", title_justify="left")
    for event_type, count in sorted(counts.items()):
        table.add_row(event_type, str(count))
    console.print()
    console.print(table)
