"""Stream events back out of the log: decoded one by one, filtered, corruption reported not fatal."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import msgspec

from gitobs import schema
from gitobs.eventlog import EventLog
from gitobs.repo import ObsPaths

Warn = Callable[[str], None]


@dataclass
class EventFilter:
    types: list[str] = field(default_factory=list)  # globs: "commit.*"
    since: float | None = None  # seconds since the epoch
    until: float | None = None
    branch: str | None = None

    def accepts(self, event: schema.Event) -> bool:
        if self.types and not any(fnmatch.fnmatchcase(event.type, pattern) for pattern in self.types):
            return False
        if self.since is not None or self.until is not None:
            moment = schema.parse_ts(event.ts)
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment >= self.until:
                return False
        return self.branch is None or self.branch in branches_of(event)


def branches_of(event: schema.Event) -> set[str]:
    data = event.data if isinstance(event.data, dict) else {}
    return {value for key in ("branch", "from", "to") if isinstance(value := data.get(key), str)}


def read_events(obs: ObsPaths, warn: Warn, event_filter: EventFilter | None = None) -> Iterator[schema.Event]:
    log = EventLog(obs.log)
    malformed = 0

    def report(corruption) -> None:
        warn(f"damaged log: {corruption.describe()}; skipped (gitobs doctor --repair)")

    for line in log.iter_lines(on_corruption=report):
        try:
            event = schema.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):  # nested past the decoder's limit
            malformed += 1
            continue
        if event_filter is None or event_filter.accepts(event):
            yield event
    if malformed:
        warn(f"{malformed} malformed event line(s) in the log were skipped")
