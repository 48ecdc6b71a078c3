"""`gitobs events`: the recorded events, oldest first, filtered."""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import typer

from gitobs.cli.commands import (
    NoScanOption,
    RepoOption,
    open_repo,
    plain_write,
    reading,
    scan_first,
    warn,
)
from gitobs.core.names import recorded
from gitobs.core.repo import GitobsError
from gitobs.core.safe_text import inert
from gitobs.core.timespec import parse_moment
from gitobs.log import schema
from gitobs.log.read import EventFilter, read_events

SHA_FIELDS = {"sha", "shas", "old", "new", "from_sha", "to_sha", "reverts", "reverted", "tip"}


def events(
    repo_dir: Path = RepoOption,
    types: list[str] = typer.Option([], "--type", "-t", help="Event type glob, e.g. 'commit.*'; repeatable."),
    since: str = typer.Option(None, help="Start: a duration ago (2h, 7d) or a date.", show_default=False),
    until: str = typer.Option(None, help="End: a duration ago or a date.", show_default=False),
    branch: str = typer.Option(None, help="Only events on this branch.", show_default=False),
    limit: int = typer.Option(0, help="Only the last N events (0: all)."),
    output: str = typer.Option("text", "--format", help="text or jsonl."),
    no_scan: bool = NoScanOption,
) -> None:
    """Print recorded events, oldest first."""
    if output not in ("text", "jsonl"):
        raise GitobsError(f"unknown format {output!r} (use text or jsonl)")
    now = time.time()
    event_filter = EventFilter(
        types=types, since=parse_moment(since, now) if since else None,
        until=parse_moment(until, now) if until else None, branch=recorded(branch) if branch else None)
    repo = reading(open_repo(repo_dir))
    if not no_scan and repo.obs.is_enabled():
        scan_first(repo.obs)
    stream = read_events(repo.obs, warn, event_filter)
    for event in most_recent(stream, limit) if limit > 0 else stream:
        plain_write(schema.encode(event).decode() if output == "jsonl" else event_line(event))


def most_recent(events: Iterable[schema.Event], limit: int) -> list[schema.Event]:
    """The `limit` latest events by time, oldest first. Not the log's last lines: `gitobs import` appends
    old history after newer events."""
    latest = heapq.nlargest(limit, events, key=lambda event: (event.ts, event.seq))
    return latest[::-1]


def event_line(event: schema.Event) -> str:
    moment = datetime.fromtimestamp(schema.parse_ts(event.ts), tz=timezone.utc).astimezone()
    where = "" if event.wt == "." else f" [{inert(event.wt)}]"
    return f"{moment:%Y-%m-%d %H:%M:%S}  {inert(event.type):<20} {summary(event)}{where}"  # x.* types are anyone's


def summary(event: schema.Event) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    if event.type == "branch.switch":
        return f"{_name(data.get('from'), data.get('from_sha'))} -> {_name(data.get('to'), data.get('to_sha'))}"
    if event.type == "commit.created":
        text = (f"{_short(data.get('sha'))} on {_name(data.get('branch'))}: +{data.get('added', 0)} "
                f"-{data.get('deleted', 0)} in {data.get('files_total', 0)} file(s)")
        if data.get("merge"):
            text += ", merge"
        if data.get("revert"):
            text += f", reverts {_short(data.get('reverts')) or 'a commit'}"
        return text
    parts = []
    for key, value in data.items():
        if isinstance(value, list):
            shown = [_short(item) if key in SHA_FIELDS else item for item in value]
            value = ",".join(inert(item) for item in shown) if all(isinstance(i, str) for i in value) \
                else f"{len(value)} item(s)"
        elif isinstance(value, dict):
            value = ",".join(f"{inert(k)}:{v}" for k, v in value.items())
        elif key in SHA_FIELDS:
            value = _short(value)
        parts.append(f"{inert(key)}={inert(value)}")
    return " ".join(parts)


def _short(sha: object) -> str:
    return str(sha)[:7] if sha else ""


def _name(branch: object, sha: object = None) -> str:
    return inert(branch) if branch else f"(detached {_short(sha)})"
