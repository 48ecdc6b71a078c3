"""`gitobs status` (is it recording, what is there) and `gitobs doctor` (find and repair damage)."""

from __future__ import annotations

import collections
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from gitobs.commands import NoScanOption, RepoOption, console, open_repo, say, scan_time_text, warn
from gitobs.commands.scan import clear_stale_pending, scan_now
from gitobs.commands.schedule import describe as describe_schedule
from gitobs.otlp_export import describe as describe_exports
from gitobs.eventlog import EventLog
from gitobs.hookinstall import inspect
from gitobs.logread import read_events
from gitobs.repo import Repo
from gitobs.safe_text import inert
from gitobs.scanstate import load_state
from gitobs.spool import backlog


def status(repo_dir: Path = RepoOption, no_scan: bool = NoScanOption) -> None:
    """Show whether the hooks are installed and healthy, what the log holds, and the last scan."""
    repo = open_repo(repo_dir)
    if not repo.obs.is_enabled():
        say("gitobs is not installed in this repository (run gitobs install)")
        return
    if not no_scan:
        scan_now(repo.obs)
    _show_hooks(repo)
    damage = EventLog(repo.obs.log).check()
    counts = collections.Counter(event.type for event in read_events(repo.obs, lambda _: None))
    state = load_state(repo.obs.state)
    last = scan_time_text(state)
    say(f"log: {sum(counts.values())} event(s), {EventLog(repo.obs.log).size_bytes()} bytes on disk "
        f"in {inert(repo.obs.log)}")
    say(f"last scan: {last} ({state.last_scan_s:.3f} s); spool backlog: {backlog(repo.obs.spool)} record(s)")
    if repo.obs.paused.exists():
        say("recording is paused")
    for line in describe_schedule():
        say(Text(line))
    for line in describe_exports(repo.common_dir, seq=state.seq):
        say(Text(line))
    for corruption in damage:
        warn(f"damaged log: {corruption.describe()} (run gitobs doctor --repair)")
    if counts:
        table = Table("event type", "count", box=None, pad_edge=False)
        for event_type, count in sorted(counts.items()):
            table.add_row(Text(inert(event_type)), str(count))
        console.print(table)


def _show_hooks(repo: Repo) -> None:
    statuses = inspect(repo.hooks_dir)
    healthy = [s for s in statuses if not s.problem]
    say(f"hooks: {len(healthy)}/{len(statuses)} healthy in {inert(repo.hooks_dir)}")
    for hook in statuses:
        if hook.problem:
            warn(f"hook {hook.name}: {inert(hook.problem)}")


def doctor(
    repo_dir: Path = RepoOption,
    repair: bool = typer.Option(False, "--repair", help="Truncate a torn log tail, remove stale markers."),
) -> None:
    """Check the hooks and the log for damage; with --repair, fix what can be fixed safely."""
    repo = open_repo(repo_dir)
    _show_hooks(repo)
    log = EventLog(repo.obs.log)
    damage = log.repair() if repair else log.check()
    for corruption in damage:
        action = "truncated" if repair and corruption.torn_tail else "found"
        say(Text(f"log: {action} {inert(corruption.describe())}"))
    if repair:
        clear_stale_pending(repo.obs)
    if not damage:
        say("log: no damage found")
    elif not repair:
        say("run gitobs doctor --repair to truncate torn tails (a scan that crashed writes its events again)")
