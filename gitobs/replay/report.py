"""Build a report: make the chosen analyzers, replay the log through them, collect their sections."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from gitobs.core.repo import GitobsError
from gitobs.log.eventlog import EventLog
from gitobs.log.read import EventFilter
from gitobs.replay import cache as replay_cache
from gitobs.replay import parallel
from gitobs.replay.analysis import Analyzer, Context, utc_text
from gitobs.replay.engine import (
    Consumer,
    ReadCounts,
    describe_failure,
    replay,
    without_gc,
)
from gitobs.replay.plugins import PluginInfo, Provided
from gitobs.replay.sections import Block, Report, Section, Window

Warn = Callable[[str], None]


def choose(provided: Provided, only: list[str]) -> list[tuple[type[Analyzer], PluginInfo]]:
    """The analyzers named in `only` (all when empty), in report order."""
    known = {cls.name: (cls, info) for cls, info in provided.analyzers}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise GitobsError(f"no analyzer named {', '.join(map(repr, unknown))} (see gitobs plugins); "
                          f"loaded: {', '.join(sorted(known)) or 'none'}")
    chosen = [known[name] for name in only] if only else list(known.values())
    return sorted(chosen, key=lambda pair: (getattr(pair[0], "order", 100), pair[0].name))


def build_report(log: EventLog, provided: Provided, only: list[str], context: Context, warn: Warn,
                 workers: int = 2, cache: bool = True) -> Report:
    """`workers` > 1 lets a big log be replayed by two processes (gitobs/replay/parallel.py); `cache` lets the
    analyzers' states after the sealed segments be kept and reused (gitobs/replay/cache.py). The report is
    the same either way."""
    warnings: set[str] = set()

    def note(message: str) -> None:  # to the user now (once: both processes may see the same damage), and kept
        if message not in warnings:
            warnings.add(message)
            warn(message)

    # Also while the forked child's states are unpickled and merged and results made: the cyclic collector
    # would walk every analyzer's state again and again.
    with without_gc():
        report = _build(log, provided, only, context, note, workers, cache)
    report.warnings = sorted(warnings)  # sorted: the same whichever process noticed what first
    return report


def _build(log: EventLog, provided: Provided, only: list[str], context: Context, warn: Warn,
           workers: int, cache: bool) -> Report:
    sections: list[Section] = []
    analyzers: list[tuple[Consumer, Section]] = []
    for cls, info in choose(provided, only):
        section = Section(name=cls.name, title=getattr(cls, "title", cls.name), plugin=info.name)
        sections.append(section)
        consumer = _make(cls, context, warn, section)
        if consumer is not None:
            analyzers.append((consumer, section))
    enrichers = [c for cls, info in provided.enrichers
                 if (c := _make(cls, context, warn, Section(name=cls.name, title=cls.name, plugin=info.name)))]
    event_filter = EventFilter(since=context.since, until=context.until, branch=context.branch, path=context.path)
    consumers = [consumer for consumer, _ in analyzers]
    counts = None
    if cache and not enrichers:  # an enricher may change any event: its analyzers' states are not kept
        counts = replay_cache.replay_cached(log, consumers, event_filter, context, warn, workers)
    if counts is None:
        counts = _replay(log, consumers, enrichers, event_filter, warn, workers)
    for enricher in enrichers:
        if enricher.error is not None:
            warn(f"enricher {enricher.name!r} failed and was skipped: {enricher.error}")
    for consumer, section in analyzers:
        _finish(consumer, section, warn)
    return Report(now=utc_text(context.now), utc_offset=offset_text(context.utc_offset_s), window=_window(context),
                  events=counts.in_window, sections=sections, rollup_days=counts.rollup_days)


def _replay(log: EventLog, consumers: list[Consumer], enrichers: list[Consumer], event_filter: EventFilter,
            warn: Warn, workers: int) -> ReadCounts:
    """Replay in one process, or in two (gitobs/replay/parallel.py) when the log is big and analyzers can merge.
    Enrichers may keep state across the whole stream, so with any loaded the replay stays in one process."""
    split = horizons = None
    if workers > 1 and not enrichers:
        horizons = [parallel.horizon_of(consumer) for consumer in consumers]
        split = parallel.split_point(log, horizons)
    if split is None or horizons is None:
        return replay(log, consumers, enrichers, event_filter, warn)
    return parallel.replay_split(log, consumers, horizons, event_filter, split, warn)


def _make(cls: type, context: Context, warn: Warn, section: Section) -> Consumer | None:
    try:
        payloads, fields = getattr(cls, "payloads", None), getattr(cls, "fields", None)
        return Consumer(name=cls.name, instance=cls(context), consumes=tuple(cls.consumes),
                        payloads=None if payloads is None else tuple(payloads),
                        fields=None if fields is None else {glob: tuple(names) for glob, names in fields.items()})
    except GitobsError:
        raise  # the user's mistake (a bad -O option): a one-line error, not a plugin failure
    except Exception as exc:  # noqa: BLE001 - one plugin's failure never takes the report down
        _fail(section, describe_failure(exc), warn)
        return None


def _finish(consumer: Consumer, section: Section, warn: Warn) -> None:
    outcome, consumer.outcome = consumer.outcome, None  # it may hold the consumer: no cycle left behind
    if consumer.error is None:
        try:
            blocks = list(outcome() if outcome is not None else consumer.instance.result())
            bad = [b for b in blocks if not isinstance(b, Block)]
            if bad:
                raise TypeError(f"result() returned {type(bad[0]).__name__}, not a gitobs.replay.sections block")
            section.blocks = blocks
            return
        except Exception as exc:  # noqa: BLE001
            consumer.error = describe_failure(exc)
    _fail(section, consumer.error, warn)


def _fail(section: Section, error: str, warn: Warn) -> None:
    section.error = error
    section.blocks = []
    warn(f"analyzer {section.name!r} (plugin {section.plugin!r}) failed and was skipped: {error}")


def _window(context: Context) -> Window:
    return Window(since=utc_text(context.since) if context.since is not None else None,
                  until=utc_text(context.until) if context.until is not None else None,
                  path=context.path, branch=context.branch)


def offset_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_offset(now: float) -> int:
    """This machine's UTC offset at `now`, in seconds (DST is not re-applied per event)."""
    offset = datetime.fromtimestamp(now, tz=timezone.utc).astimezone().utcoffset() or timedelta()
    return int(offset.total_seconds())


def parse_offset(text: str) -> int:
    """`+01:00`, `-0530`, `UTC`, `Z` -> seconds."""
    cleaned = text.strip().upper()
    if cleaned in ("UTC", "Z"):
        return 0
    digits = cleaned[1:].replace(":", "")
    if cleaned[:1] not in "+-" or not digits.isdigit() or len(digits) not in (2, 4):
        raise GitobsError(f"not a UTC offset: {text!r} (use e.g. +01:00, -05:30 or UTC)")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 14 or minutes >= 60:
        raise GitobsError(f"not a UTC offset: {text!r} (hours up to 14, minutes below 60)")
    return (1 if cleaned[0] == "+" else -1) * (hours * 3600 + minutes * 60)
