"""Synthetic logs for analyzer and report tests: events built from the real schema, written by the real
writer, replayed by the real engine."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.replay import plugins
from gitobs.replay.analysis import Context
from gitobs.replay.report import build_report
from gitobs.replay.sections import Report


def at(text: str) -> int:
    """ns since the epoch of a UTC time like "2026-11-02 09:30" (or "2026-11-02 09:30:15")."""
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text, layout).replace(tzinfo=timezone.utc)
            return int(moment.timestamp()) * 10**9
        except ValueError:
            continue
    raise ValueError(text)


class LogBuilder:
    """add(type, payload, when) in any order of calls; write() numbers them in call order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.events: list[schema.Event] = []

    def add(self, event_type: str, payload: schema.Payload, when: str, src: str = "hook", wt: str = ".") -> None:
        event = schema.make_event(event_type, payload, ts_ns=at(when), src=src, wt=wt,
                                  provenance=f"test:{len(self.events)}")
        event.seq = len(self.events) + 1
        self.events.append(event)

    def write(self) -> EventLog:
        log = EventLog(self.directory)
        log.append([schema.encode(event) for event in self.events])
        return log


def report(log: EventLog, only: list[str], now: str = "2026-11-30", warnings: list[str] | None = None,
           extra: list | None = None, **context) -> Report:
    """Replay `log` through the named analyzers (all when empty), the way `gitobs report` does."""
    provided = plugins.load(extra=extra)
    sink = warnings if warnings is not None else []
    return build_report(log, provided, only, Context(now=at(now) / 1e9, **context), sink.append)


def block(built: Report, section: str, block_id: str):
    """The block `block_id` of section `section`; fails the test if either is missing or the section failed."""
    [found] = [s for s in built.sections if s.name == section]
    assert found.error is None, found.error
    [wanted] = [b for b in found.blocks if b.id == block_id]
    return wanted


def eventgen():
    """benchmarks/eventgen.py, the benchmark's generator of realistic events, imported from where it lives."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    try:
        import eventgen as module
    finally:
        sys.path.pop(0)
    return module
