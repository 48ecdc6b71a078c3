"""`gitobs query`: count, sum or take percentiles of raw events, filtered and grouped by any field."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from gitobs.cli.commands import (
    NoScanOption,
    RepoOption,
    console,
    open_repo,
    reading,
    say,
    scan_first,
    warn,
)
from gitobs.core.names import recorded
from gitobs.core.safe_text import inert
from gitobs.core.timespec import parse_moment
from gitobs.log.eventlog import EventLog
from gitobs.log.read import EventFilter
from gitobs.replay.engine import normalize_path
from gitobs.replay.query import (
    NONE_LABEL,
    Result,
    build_query,
    key_labels,
    query_log,
    table_order,
    to_json,
)
from gitobs.replay.report import local_offset, parse_offset


def query(
    aggregate: list[str] = typer.Argument(None, metavar="AGG FIELD", show_default=False,
                                          help="count (the default), or sum, min, max, avg, p50, p90, p99 "
                                          "(any pNN) followed by a field."),
    where: list[str] = typer.Option([], "--where", "-w", help="FIELD=GLOB (case-sensitive, against the "
                                    "field's text); FIELD!=GLOB negates; repeatable, all must hold."),
    group_by: list[str] = typer.Option([], "--group-by", "-g", help="A field to group by; repeatable."),
    since: str = typer.Option(None, help="Start: a duration before now (30d) or a date.", show_default=False),
    until: str = typer.Option(None, help="End (exclusive): a duration before now or a date.", show_default=False),
    branch: str = typer.Option(None, help="Only events on this branch.", show_default=False),
    path: str = typer.Option(None, help="Only events with files under this directory (or this file).",
                             show_default=False),
    as_json: bool = typer.Option(False, "--json", help="A JSON document, rows sorted by key."),
    now: str = typer.Option(None, help="What durations count back from (default: the current time).",
                            show_default=False),
    utc_offset: str = typer.Option(None, help="day, hour and weekday at this offset, e.g. +01:00 (default: "
                                   "this machine's).", show_default=False),
    repo_dir: Path = RepoOption,
    no_scan: bool = NoScanOption,
) -> None:
    """Count events, or sum, min, max, avg or pNN a field, filtered with --where and grouped with --group-by.

    Fields: type, src, wt, ts, seq; data.NAME as docs/events.md names it (data.from, data.steps.pick).

    Derived fields: day (local YYYY-MM-DD), hour (local 0-23) and weekday (Mon..Sun).

    A missing field (not in the event's type, or null) never matches FIELD=GLOB, always FIELD!=GLOB.

    Groups show a missing field as (none); sum, min, max, avg and pNN skip events with no number there.

    Tables list the largest value first, ties by key. Example: gitobs query -g data.branch sum data.added
    """
    moment = parse_moment(now, time.time()) if now else time.time()
    offset = parse_offset(utc_offset) if utc_offset else local_offset(moment)
    built = build_query(where, group_by, aggregate or [], offset)
    event_filter = EventFilter(since=parse_moment(since, moment) if since else None,
                                until=parse_moment(until, moment) if until else None,
                                branch=recorded(branch) if branch else None, path=normalize_path(path) if path else None)
    repo = open_repo(repo_dir)
    reading(repo)
    if not no_scan and repo.obs.is_enabled():
        scan_first(repo.obs)
    result = query_log(EventLog(repo.obs.log), built, event_filter, warn)
    if as_json:
        # ASCII only: names from the log reach the terminal as \u escapes, never as control characters
        sys.stdout.write(json.dumps(to_json(result), indent=2) + "\n")
    else:
        show(result)


def show(result: Result) -> None:
    aggregate = result.query.aggregate
    heading = aggregate.name if aggregate.field is None else f"{aggregate.name} {aggregate.field.name}"
    table = Table(box=None, pad_edge=False)
    for f in result.query.group_by:
        table.add_column(Text(inert(f.name)), overflow="fold")
    table.add_column(Text(inert(heading)), justify="right")
    for row in table_order(result.rows):
        cells = [Text(NONE_LABEL, style="dim") if label is None else Text(inert(label))
                 for label in key_labels(result.query, row.key)]
        table.add_row(*cells, Text("-" if row.value is None else str(row.value)))
    console.print(table)
    footer = f"{result.events} event(s)"
    if aggregate.field is not None:
        footer += f", {result.skipped} skipped (no number in {aggregate.field.name})"
    say(Text(inert(footer), style="dim"))
