"""Stream events back out of the log: decoded one by one, filtered, corruption reported not fatal."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gitobs.core.repo import ObsPaths
from gitobs.log import schema
from gitobs.log.eventlog import EventLog, window_micros

Warn = Callable[[str], None]


@dataclass
class EventFilter:
    """Which events a reader wants: a time window, type globs, a branch, a path. `gitobs events` and bundles
    ask one event at a time (`accepts`); replay asks batch by batch (`accepts_type`, `in_window`, `select`)."""

    since: float | None = None  # seconds since the epoch, inclusive
    until: float | None = None  # exclusive
    types: list[str] = field(default_factory=list)  # globs; empty: all
    branch: str | None = None  # events naming this branch (branch, from or to)
    path: str | None = None  # events naming this file or one under this directory; their file lists narrowed

    def accepts(self, event: schema.Event) -> bool:
        """For an event decoded with its envelope (data a dict): type, window and branch; no path."""
        if not self.accepts_type(event.type):
            return False
        if self.since is not None or self.until is not None:
            moment = schema.parse_ts(event.ts)
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment >= self.until:
                return False
        return self.branch is None or self.branch in _branches(event.data)

    def accepts_type(self, event_type: str) -> bool:
        return matches(event_type, self.types)

    def in_window(self, events: list) -> list:
        if self.since is None and self.until is None:
            return events
        since, until = _aware(self.since), _aware(self.until)
        return [e for e in events if (since is None or e.ts >= since) and (until is None or e.ts < until)]

    def select(self, events: list) -> list:
        """Of events in the window, those on the branch and naming a file under the path."""
        if self.branch is not None:
            events = [e for e in events if self.branch in _branches(e.data)]
        if self.path is not None:
            events = [e for e in events if _narrow_files(e.data, self.path)]
        return events


def _aware(moment: float | None) -> datetime | None:
    return None if moment is None else datetime.fromtimestamp(moment, tz=timezone.utc)


def _branches(data: Any) -> tuple:
    if isinstance(data, dict):
        return tuple(data.get(key) for key in ("branch", "from", "to"))
    return tuple(getattr(data, key, None) for key in ("branch", "from_", "to"))


def under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _narrow_files(data: Any, prefix: str) -> bool:
    """Keep only the files at or under `prefix` in the event's file list; False when none (or no list) is left."""
    if isinstance(data, dict):
        files = data.get("files")
        if not isinstance(files, list):
            return False
        kept = [f for f in files if isinstance(f, list) and f and isinstance(f[0], str) and under(f[0], prefix)]
        data["files"] = kept
        return bool(kept)
    files = getattr(data, "files", None)
    if not files or isinstance(data, schema.RollupDay):  # a rollup's counts cannot be cut to a path
        return False
    kept = [f for f in files if under(f.path, prefix)]
    data.files = kept
    return bool(kept)


def matches(event_type: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


def read_events(obs: ObsPaths, warn: Warn, event_filter: EventFilter | None = None) -> Iterator[schema.Event]:
    log = EventLog(obs.log)
    malformed = 0

    def report(corruption) -> None:
        warn(f"damaged log: {corruption.describe()}; skipped (gitobs doctor --repair)")

    window = window_micros(event_filter.since, event_filter.until) if event_filter is not None else None
    for line in log.iter_lines(on_corruption=report, window=window):
        try:
            event = schema.decode(line)
        except schema.UNDECODABLE:
            malformed += 1
            continue
        if event_filter is None or event_filter.accepts(event):
            yield event
    if malformed:
        warn(f"{malformed} malformed event line(s) in the log were skipped")
