"""`gitobs status` (is it recording, what is there) and `gitobs doctor` (find and repair damage)."""

from __future__ import annotations

import collections
import math
from pathlib import Path

import msgspec
import typer
from rich.table import Table
from rich.text import Text

from gitobs.capture.install import inspect
from gitobs.capture.spool import backlog
from gitobs.capture.state import load_state
from gitobs.cli.commands import (
    NoScanOption,
    RepoOption,
    clear_stale_pending,
    console,
    open_repo,
    say,
    scan_first,
    scan_time_text,
    warn,
)
from gitobs.cli.commands.schedule import describe as describe_schedule
from gitobs.core import config
from gitobs.core.lock import exclusive
from gitobs.core.repo import GitobsError, ObsPaths, Repo
from gitobs.core.safe_text import inert
from gitobs.history.cursor import forget_cursor, import_lock
from gitobs.log import schema
from gitobs.log.eventlog import EventLog, Repaired
from gitobs.log.read import read_events

LOCK_WAIT_S = 30.0


def status(repo_dir: Path = RepoOption, no_scan: bool = NoScanOption) -> None:
    """Show whether the hooks are installed and healthy, what the log holds, and the last scan."""
    repo = open_repo(repo_dir)
    repo.obs.check_own()
    if not repo.obs.is_enabled():
        say("gitobs is not installed in this repository (run gitobs install)")
        return
    if not no_scan:
        scan_first(repo.obs)
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
    for line in _export_lines(repo.common_dir, state.seq):
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
    repair: bool = typer.Option(False, "--repair", help="Take damage out of the log, remove stale markers."),
) -> None:
    """Check the hooks and the log for damage; with --repair, take it out of the log, keeping the damaged
    bytes. Exits with 1 whenever the log was damaged."""
    repo = open_repo(repo_dir)
    _show_hooks(repo)
    log = EventLog(repo.obs.log)
    _show_kept(log)
    if repair:
        damaged = bool(_repair(repo.obs, log))
        clear_stale_pending(repo.obs)
    else:
        damaged = _check(log)
    if damaged:
        raise typer.Exit(1)
    say("log: no damage found")


def _check(log: EventLog) -> bool:
    damage = log.check()
    for corruption in damage:
        torn = " (a torn tail: a write cut short)" if corruption.torn_tail else ""
        say(Text(f"log: found {inert(corruption.describe())}{torn}"))
    if damage:
        say("run gitobs doctor --repair to take the damage out of the log (the damaged bytes are kept)")
    return bool(damage)


def _repair(obs: ObsPaths, log: EventLog) -> list[Repaired]:
    """Repair under both locks: no scan appends meanwhile, and no import saves a cursor that still counts
    the commits the repair takes out."""
    if not obs.root.is_dir():
        return []
    with import_lock(obs.root, "a gitobs import is running; run gitobs doctor --repair once it has finished"):
        with exclusive(obs.lock, LOCK_WAIT_S) as held:
            if not held:
                raise GitobsError("a scan kept the lock for 30 s; try again in a moment")
            # the cursor first: a repair killed after its rename would leave it counting what it took
            repaired = log.repair(_events_in_place, before=lambda: forget_cursor(obs.root))
    for item in repaired:
        say(Text(f"log: {_repair_text(item)}"))
    if repaired:
        say(Text(f"log: the damaged bytes are kept in {inert(log.damaged_dir)}"))
    if any(not item.corruption.torn_tail for item in repaired):  # a torn tail's writer writes it again
        say("run gitobs import to record again the commits the lost lines named")
    return repaired


def _events_in_place(lines: list[bytes], before: bytes | None, after: bytes | None) -> list[bytes]:
    """What repair puts back of a damaged frame (eventlog.Selector): whole events (envelope, payload, time)
    whose seq rises between their good neighbours' and whose id comes once. A damaged frame can inflate
    into lines that parse but were never written, such as a shifted copy of another."""
    low, high = _seq(before, 0), _seq(after, math.inf)
    kept: list[bytes] = []
    ids: set[str] = set()
    for line in lines:
        event = _event(line)
        if event is None or not low < event.seq < high or event.id in ids:
            continue
        kept.append(line)
        ids.add(event.id)
        low = event.seq
    return kept


def _seq(line: bytes | None, default: float) -> float:
    event = _event(line) if line is not None else None
    return default if event is None else event.seq


def _event(line: bytes) -> schema.Event | None:
    try:
        event = schema.validate(schema.decode(line))
        schema.parse_ts(event.ts)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None
    return event


def _repair_text(item: Repaired) -> str:
    what = inert(item.corruption.describe())
    if item.corruption.torn_tail:
        return f"truncated {what}"
    doubt = " (it failed its checksum: one of them may hold the damage)" if item.doubtful else ""
    return f"isolated {what}; salvaged {item.salvaged} line(s){doubt}"


def _show_kept(log: EventLog) -> None:
    """What earlier repairs took out of the log is still there for a person to look at, or delete."""
    kept = sorted(log.damaged_dir.glob("*")) if log.damaged_dir.is_dir() else []
    if kept:
        say(Text(f"log: {len(kept)} damaged piece(s) kept from earlier repairs in {inert(log.damaged_dir)}"))


def _export_lines(common_dir: Path, seq: int) -> list[str]:
    """The OTLP export's state where one is configured; its module (HTTP and all) loads only then."""
    if not config.load(common_dir, config.main_work_tree(common_dir))["export.otlp.endpoint"]:
        return []
    from gitobs.export.otlp.delivery import describe

    return describe(common_dir, seq=seq)
