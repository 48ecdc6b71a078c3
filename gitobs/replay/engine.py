"""Replay: stream the log frame by frame, decode only the event types someone consumes, filter, and hand
events to enrichers and analyzers in batches.

Decoding is one msgspec call per piece of a frame (a few hundred lines) into a tagged union with one struct
per event type: a consumed type gets its typed payload, any other type an empty struct whose fields are
skipped without being built. A piece's events go to the analyzers at once, while they are still in the CPU's
cache: handing on a whole 8192-line frame's objects made every stage a third slower. Memory stays bounded
by one segment and one batch, whatever the log's size. Order is the log's order, so the same log replays
the same way every time.
"""

from __future__ import annotations

import fnmatch
import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import compress
from operator import attrgetter
from typing import Any, Union

import msgspec

from gitobs.core.allocator import keep_freed_memory
from gitobs.core.names import recorded
from gitobs.log import schema
from gitobs.log.eventlog import EventLog, window_micros
from gitobs.log.read import EventFilter, matches

# Events decoded and handed on at a time: the objects of this many (about 60 KiB of log text) stay in a
# core's cache while every analyzer reads them.
BATCH_EVENTS = 256
_TS = attrgetter("ts")
_TYPE = attrgetter("type")
Warn = Callable[[str], None]


def _seconds(self) -> float:
    return self.ts.timestamp()


class GenericEvent(msgspec.Struct, kw_only=True):
    """An event of a type this gitobs does not declare (`x.<plugin>.*`, or from a newer gitobs)."""

    type: str
    seq: int = 0
    ts: datetime
    src: str = ""
    wt: str = ""
    data: Any = None

    t = property(_seconds)


ENVELOPE = ("seq", "src", "wt")  # the envelope's fields besides type and ts, which every event has


def _event_class(event_type: str, payload: type | None, keep: int, timed: bool,
                 read: frozenset[str] | None = None) -> type:
    """The struct an event of `event_type` decodes into: with its typed payload (FULL), with the envelope
    alone (HEAD: `data` reads None), or keeping nothing but, when `timed`, its time (SKIP). With `read`,
    only those of the envelope's and the payload's fields are built (what is left out is no attribute)."""
    name = "Event_" + event_type.replace(".", "_")
    envelope = [("seq", int, 0), ("ts", datetime), ("src", str, ""), ("wt", str, "")]
    if read is not None:
        envelope = [spec for spec in envelope if spec[0] == "ts" or spec[0] in read]
        payload = payload if payload is None else _narrowed(payload, read)
    # A skipped event keeps its time when there is a time window: the report counts every event in it.
    fields = {SKIP: [("ts", datetime)] if timed else [], HEAD: envelope, FULL: [*envelope, ("data", payload)]}[keep]
    namespace = {"type": event_type, "t": property(_seconds)}
    if keep == HEAD:
        namespace["data"] = None
    # gc=False: events make no reference cycles, and untracked they are smaller and skip the cyclic
    # collector's list at every allocation and free (a few % of a report, even with the collector off).
    return msgspec.defstruct(name, fields, kw_only=True, tag_field="type", tag=event_type, namespace=namespace,
                             gc=False)


def _narrowed(payload: type, read: frozenset[str]) -> type:
    """`payload` with only the fields in `read`: msgspec skips the others' text without building them."""
    kept = [info for info in msgspec.structs.fields(payload) if info.name in read]
    if len(kept) == len(payload.__struct_fields__):
        return payload
    specs = []
    for info in kept:
        if info.default is not msgspec.NODEFAULT:
            spec = msgspec.field(default=info.default, name=info.encode_name)
        elif info.default_factory is not msgspec.NODEFAULT:
            spec = msgspec.field(default_factory=info.default_factory, name=info.encode_name)
        else:
            spec = msgspec.field(name=info.encode_name)
        specs.append((info.name, info.type, spec))
    return msgspec.defstruct(payload.__name__ + "Read", specs, kw_only=True, omit_defaults=True, gc=False)


SKIP, HEAD, FULL = 0, 1, 2


class EventDecoder:
    """Decodes whole frames. Types `full` accepts get their typed payload, types only `head` accepts the
    envelope alone; other types come back as instances of a class in `skipped`, with nothing built but
    their time (`timed`: for time windows, which count every event). `read(type)` narrows the fields built
    of the others (None: all)."""

    def __init__(self, full: Callable[[str], bool], head: Callable[[str], bool] = lambda _: False,
                 timed: bool = True, read: Callable[[str], frozenset[str] | None] = lambda _: None) -> None:
        self.wanted = lambda t: full(t) or head(t)
        keeps = {t: FULL if full(t) else HEAD if head(t) else SKIP for t in schema.PAYLOADS}
        classes = [_event_class(t, p, keeps[t], timed, read(t)) for t, p in schema.PAYLOADS.items()]
        self.skipped = frozenset(cls for cls in classes if keeps[cls.type] == SKIP)
        self.rollup_class = next((cls for cls in classes if cls.type == schema.ROLLUP and keeps[cls.type] == FULL), None)
        known = Union[tuple(classes)]  # noqa: UP007 - built at run time
        self._line = msgspec.json.Decoder(known)
        self._packed = msgspec.msgpack.Decoder(list[known])
        self._packed_one = msgspec.msgpack.Decoder(known)
        self._generic = msgspec.json.Decoder(GenericEvent)
        self.malformed = 0

    def decode_frame(self, content: bytes | memoryview) -> list:
        """The events of whole lines (a frame, or a piece of one)."""
        try:
            return self._line.decode_lines(content)
        except schema.UNDECODABLE:
            # An unknown type or a bad line somewhere in the frame: sort it out line by line.
            lines = bytes(content).split(b"\n")[:-1]
            return [event for line in lines if (event := self.decode_line(line)) is not None]

    def decode_pieces(self, content: bytes, lines: int) -> Iterator[tuple[list, bool]]:
        """The frame's events, with whether they are a piece of it: about `lines` at a time when it holds more
        than twice that, else all at once. Pieces are cut at line ends, by the length of the lines in its
        first 64 KiB (counting them all would cost more than cutting)."""
        sample = min(len(content), 1 << 16)
        step = sample * lines // max(1, content.count(b"\n", 0, sample))
        if len(content) <= 2 * step:
            yield self.decode_frame(content), False
            return
        view, start = memoryview(content), 0
        while start < len(content):
            end = content.find(b"\n", start + step) + 1 if len(content) - start > step * 3 // 2 else 0
            end = end or len(content)  # the last piece takes a remainder shorter than half a piece
            yield self.decode_frame(view[start:end]), True
            start = end

    def decode_packed(self, batch: bytes) -> list:
        """A list of events this decoder made, as msgspec.msgpack.encode wrote it (parallel.py ships them so)."""
        try:
            return self._packed.decode(batch)
        except msgspec.ValidationError:  # an x.* event among them: each one on its own
            return [self._unpacked(item) for item in msgspec.msgpack.decode(batch, type=list[msgspec.Raw])]

    def _unpacked(self, item: msgspec.Raw) -> Any:
        try:
            return self._packed_one.decode(item)
        except msgspec.ValidationError:
            return msgspec.msgpack.decode(item, type=GenericEvent)

    def decode_line(self, line: bytes) -> Any:
        try:
            return self._line.decode(line)
        except schema.UNDECODABLE:
            pass
        try:
            event = self._generic.decode(line)
        except schema.UNDECODABLE:
            self.malformed += 1
            return None
        if event.type in schema.PAYLOADS:  # a declared type whose payload does not fit its declaration
            self.malformed += 1
            return None
        return event if self.wanted(event.type) else None

def normalize_path(text: str) -> str:
    """`./src/api/` -> `src/api`: the form paths have in events (relative to the work tree, no slashes
    at the ends)."""
    cleaned = recorded(text.strip())  # typed as raw bytes or as recorded: `caf\xe9` either way
    if os.sep == "\\":
        cleaned = cleaned.replace("\\", "/")
    while cleaned.startswith("./"):
        cleaned = cleaned[2:]
    return cleaned.strip("/")


@contextmanager
def without_gc() -> Iterator[None]:
    # Decoded events hold no reference cycles; the cyclic collector would only walk millions of them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class Split:
    """Where the log is cut for two processes: at the first event, from `offset` bytes into segment `segment` on,
    that comes more than `horizon_s` seconds after every event before it there (a night, say). The head is
    everything before that event, the tail the rest. Both processes find the same event: they apply the
    same rule to the same events."""

    segment: int
    horizon_s: float
    offset: int = 0  # the search begins this many bytes into the segment (a frame's start), not at its start


@dataclass
class ReadCounts:
    in_window: int = 0  # every event in the time window, of any type (a rollup: the events it replaced)
    rollup_days: int = 0
    malformed: int = 0  # lines that decoded as no event
    found: bool = False  # (head, tail) the split event was met
    latest: datetime | None = None  # (head) the newest event handed on before the split
    earliest: datetime | None = None  # (tail) the oldest event handed on from the split on


class _SplitFinder:
    def __init__(self, horizon_s: float) -> None:
        self.horizon = timedelta(seconds=horizon_s)
        self.latest: datetime | None = None

    def cut(self, events: list, skipped: frozenset) -> int | None:
        """The index in `events` of the split event, when it is in this frame. Only the types someone
        consumes count (the others may not even have their time decoded)."""
        latest, horizon = self.latest, self.horizon
        for index, event in enumerate(events):
            if type(event) in skipped:
                continue
            ts = event.ts
            if latest is None or ts > latest:
                if latest is not None and ts - latest > horizon:
                    return index
                latest = ts
        self.latest = latest
        return None


def _newest(moment: datetime | None, events: list) -> datetime | None:
    newest = max(map(_TS, events), default=None)
    return newest if moment is None or (newest is not None and newest > moment) else moment


def _oldest(moment: datetime | None, events: list) -> datetime | None:
    oldest = min(map(_TS, events), default=None)
    return oldest if moment is None or (oldest is not None and oldest < moment) else moment


def type_times(events: list, times: dict[tuple[str, bool], datetime], newest: bool) -> None:
    """The newest (or oldest) time per (type, from gitobs import) of `events`, into `times`. An event decoded
    without its src (no analyzer reads it) counts as not imported: its time is checked by every analyzer."""
    for event in events:
        key = (event.type, getattr(event, "src", None) == schema.IMPORTED)
        found = times.get(key)
        if found is None or (event.ts > found if newest else event.ts < found):
            times[key] = event.ts


def _frames(log: EventLog, decoder: EventDecoder, report: Callable, counts: ReadCounts, split: Split | None,
            side: str, lines: int, window: tuple[int, int] | None) -> Iterator[tuple[list, bool]]:
    """Every frame's decoded events, of any type, about `lines` at a time (EventDecoder.decode_pieces), for one
    side of a split: "all" (no split), "head" or "tail". Frames wholly outside `window` are not even read."""
    pieces = decoder.decode_pieces
    if side == "all":
        for content in log.iter_contents(report, window=window):
            yield from pieces(content, lines)
        return
    assert split is not None
    if side == "head":
        for content in log.iter_contents(report, stop=split.segment, window=window):
            yield from pieces(content, lines)
        if split.offset:
            cut = split.segment + 1
            for content in log.iter_contents(report, start=split.segment, stop=cut, window=window, before=split.offset):
                yield from pieces(content, lines)
    finder = _SplitFinder(split.horizon_s)
    later = {"after": split.offset} if split.offset else {}
    malformed = decoder.malformed
    for content in log.iter_contents(report, start=split.segment, window=window, **later):
        for events, piece in pieces(content, lines):
            if not counts.found and (cut := finder.cut(events, decoder.skipped)) is not None:
                counts.found = True
                if side == "head":
                    yield events[:cut], piece
                    return
                # The head decoded these pieces too, up to this one: its malformed lines are the head's count
                counts.malformed -= decoder.malformed - malformed
                events = events[cut:]
            if side == "head" or counts.found:
                yield events, piece


def read_batches(log: EventLog, decoder: EventDecoder, event_filter: EventFilter, warn: Warn,
                 batch_events: int = BATCH_EVENTS, counts: ReadCounts | None = None, split: Split | None = None,
                 side: str = "all", warn_malformed: bool = True) -> Iterator[list]:
    """Filtered events of wanted types, in log order, about `batch_events` at a time (a bigger frame cut in
    pieces, smaller ones gathered until a batch is full): of the whole log, or of one side of `split`."""

    def report(corruption) -> None:
        warn(f"damaged log: {corruption.describe()}; skipped (gitobs doctor --repair)")

    counts = counts if counts is not None else ReadCounts()
    pending: list = []
    skipped = decoder.skipped
    malformed_before = decoder.malformed
    rollup_class = decoder.rollup_class
    window = window_micros(event_filter.since, event_filter.until)
    for events, piece in _frames(log, decoder, report, counts, split, side, batch_events, window):
        events = event_filter.in_window(events)
        counts.in_window += len(events)
        present = set(map(type, events))
        if rollup_class in present:
            rollups = [event for event in events if type(event) is rollup_class]
            counts.rollup_days += len(rollups)
            counts.in_window += sum(event.data.events - 1 for event in rollups)
        if not skipped.isdisjoint(present):  # types no one consumes are rare: most pieces go on whole
            events = [e for e in events if type(e) not in skipped]
        kept = event_filter.select(events)
        if side == "head":  # what the cut is checked against (parallel.py)
            counts.latest = _newest(counts.latest, kept)
        elif side == "tail":
            counts.earliest = _oldest(counts.earliest, kept)
        pending.extend(kept)
        if pending and (piece or len(pending) >= batch_events):  # a piece the filters emptied is no batch
            yield pending
            pending = []
    if pending:
        yield pending
    counts.malformed += decoder.malformed - malformed_before
    if side == "all" and warn_malformed and counts.malformed:
        warn(malformed_warning(counts.malformed))


def malformed_warning(count: int) -> str:
    return f"{count} malformed event line(s) in the log were skipped"


@dataclass
class Consumer:
    """An analyzer or enricher instance and where its events go: replay's view of a plugin."""

    name: str
    instance: Any
    consumes: tuple[str, ...]
    payloads: tuple[str, ...] | None = None  # types whose payload it reads; None: all it consumes
    fields: dict[str, tuple[str, ...]] | None = None  # Analyzer.fields: what it reads of which types
    error: str | None = None
    # Where its blocks come from when not from instance.result() now: made already, or in the forked child
    # (parallel.py). Returns them or raises what result() raised.
    outcome: Callable[[], list] | None = None
    _takes: dict[str, bool] = field(default_factory=dict, repr=False)
    # (types known, code -> 1 if it takes it); -1: not made yet, even while no type is known (an empty batch
    # may come first, and translate takes no table shorter than 256)
    _table: tuple[int, bytes] = field(default=(-1, b""), repr=False)

    def takes(self, event_type: str) -> bool:
        """Whether it consumes this type: dispatch asks for every type of every batch, so it is remembered."""
        known = self._takes.get(event_type)
        if known is None:
            known = self._takes[event_type] = matches(event_type, self.consumes)
        return known

    def table(self) -> bytes:
        """For bytes.translate: each known type's code to 1 when it takes the type, else 0."""
        if self._table[0] != len(_CODES):  # new types have come since it was made
            self._table = len(_CODES), bytes(self.takes(kind) for kind in _CODES).ljust(256, b"\0")
        return self._table[1]

    def reads_payload(self, event_type: str) -> bool:
        if not matches(event_type, self.consumes):
            return False
        if self.fields is not None:
            return any(set(names) - set(ENVELOPE) for names in self._fields_of(event_type))
        return self.payloads is None or any(fnmatch.fnmatchcase(event_type, p) for p in self.payloads)

    def reads(self, event_type: str) -> set[str] | None:
        """The fields it reads of a type it consumes (None: all of them, envelope and payload)."""
        if self.fields is None:
            return None if self.reads_payload(event_type) else set(ENVELOPE)
        return {name for names in self._fields_of(event_type) for name in names}

    def _fields_of(self, event_type: str) -> list[tuple[str, ...]]:
        assert self.fields is not None
        return [names for pattern, names in self.fields.items() if fnmatch.fnmatchcase(event_type, pattern)]


def decoder_for(consumers: list[Consumer], event_filter: EventFilter) -> EventDecoder:
    """A decoder that builds the payloads `consumers` read and the envelopes of the rest they take."""

    def full(event_type: str) -> bool:
        if event_type == schema.ROLLUP:  # always: the window's event count needs how many each one replaced
            return event_filter.accepts_type(event_type)
        return event_filter.accepts_type(event_type) and any(c.reads_payload(event_type) for c in consumers)

    def head(event_type: str) -> bool:
        # branch and path filters read payloads
        payload_free = event_filter.branch is None and event_filter.path is None
        return payload_free and event_filter.accepts_type(event_type) and any(
            matches(event_type, c.consumes) for c in consumers)

    def read(event_type: str) -> frozenset[str] | None:
        if event_filter.branch is not None or event_filter.path is not None or event_type == schema.ROLLUP:
            return None  # the filters read payloads; a rollup is read whole
        found: set[str] = set()
        for consumer in consumers:
            if matches(event_type, consumer.consumes):
                names = consumer.reads(event_type)
                if names is None:
                    return None
                found |= names
        return frozenset(found)

    timed = event_filter.since is not None or event_filter.until is not None
    return EventDecoder(full, head, timed=timed, read=read)


def replay(log: EventLog, analyzers: list[Consumer], enrichers: list[Consumer], event_filter: EventFilter,
           warn: Warn, split: Split | None = None, side: str = "all", decoder: EventDecoder | None = None,
           warn_malformed: bool = True) -> ReadCounts:
    """Feed every analyzer its events (of the whole log, or of one side of `split`); returns the counts,
    `in_window` being how many events of any type the time window holds. A consumer that raises is marked
    with its error and fed no more; the others go on. `warn_malformed`: say how many lines were malformed
    (a caller replaying the log in parts says it once, for all of them)."""
    decoder = decoder or decoder_for([*enrichers, *analyzers], event_filter)
    counts = ReadCounts()
    keep_freed_memory()
    with without_gc():
        for batch in read_batches(log, decoder, event_filter, warn, counts=counts, split=split, side=side,
                                  warn_malformed=warn_malformed):
            for enricher in enrichers:
                batch = _enrich(enricher, batch)
            dispatch(batch, analyzers)
    return counts


def _enrich(enricher: Consumer, batch: list) -> list:
    if enricher.error is not None:
        return batch
    try:
        return list(enricher.instance.enrich(batch))
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, not fatal
        enricher.error = describe_failure(exc)
        return batch


_CODES: dict[str, int] = {}  # every event type dispatched, numbered: one byte each


def dispatch(batch: list, analyzers: list[Consumer]) -> None:
    """Each analyzer's share of the batch, in log order: the batch itself when it takes every type in it.
    The batch's types become one byte each, and an analyzer's bytes.translate of them (1: takes it) is what
    compress selects by: all in C, and a few times faster than a set lookup per event and analyzer."""
    kinds = list(map(_TYPE, batch))
    codes = _codes(kinds)
    for analyzer in analyzers:
        if analyzer.error is not None:
            continue
        chosen = codes.translate(analyzer.table()) if codes is not None else bytes(map(analyzer.takes, kinds))
        if 1 not in chosen:
            continue
        share = batch if 0 not in chosen else list(compress(batch, chosen))
        try:
            analyzer.instance.feed(share)
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, not fatal
            analyzer.error = describe_failure(exc)


def _codes(kinds: list[str]) -> bytes | None:
    """The types' codes; None past 256 types (then dispatch asks each analyzer about each event)."""
    try:
        return bytes(map(_CODES.__getitem__, kinds))
    except KeyError:
        for kind in kinds:
            if kind not in _CODES and len(_CODES) < 256:
                _CODES[kind] = len(_CODES)
    try:
        return bytes(map(_CODES.__getitem__, kinds))
    except KeyError:
        return None


class Failed(Exception):
    """A failure described already (by a forked child): describe_failure gives its text as it is."""


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, Failed):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
