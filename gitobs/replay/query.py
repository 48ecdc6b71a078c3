"""`gitobs query`: filter raw events with globs, group them by fields, aggregate one number per group.

Fields are read from the typed events replay decodes (gitobs/replay/engine.py), not from raw JSON: a payload
field left out of the log at its default reads as that default, as docs/events.md asks of readers.
A field the event's type does not declare, or a null, is missing. Memory holds one batch and one
accumulator per group (percentiles keep each group's values as 8-byte floats), never the events.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as member
from datetime import datetime, timezone
from itertools import repeat
from typing import Any

import msgspec

from gitobs.core.repo import GitobsError
from gitobs.log.eventlog import EventLog
from gitobs.log.read import EventFilter
from gitobs.replay.analysis import DAY_S, Context
from gitobs.replay.engine import EventDecoder, read_batches, without_gc
from gitobs.replay.stats import percentile, rounded

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
NONE_LABEL = "(none)"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ENVELOPE = ("type", "src", "wt", "ts", "seq")
DERIVED = ("day", "hour", "weekday")
FIELD_HELP = "type, src, wt, ts, seq, day, hour, weekday or data.NAME (data.steps.pick for nested)"
AGGREGATES = ("count", "sum", "min", "max", "avg")
MEMO_SIZE = 4096  # distinct texts a condition remembers its verdict on
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


@dataclass(frozen=True)
class Field:
    """How to read one field off an event: `get` gives a hashable value or MISSING; `label` its text form
    (what --where globs see and tables show); `json` its form in --json keys."""

    name: str
    get: Callable[[Any], Any]
    label: Callable[[Any], str]
    json: Callable[[Any], Any]


def parse_field(name: str, utc_offset_s: int) -> Field:
    if name in ENVELOPE:
        return _envelope_field(name)
    if name in DERIVED:
        return _time_field(name, utc_offset_s)
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == "data" and all(parts[1:]):
        lookup = _payload_lookup(tuple(parts[1:]))
        return Field(name, lookup, _text, _same)
    raise GitobsError(f"unknown field {name!r} (use {FIELD_HELP})")


def _envelope_field(name: str) -> Field:
    if name == "ts":  # the log's own text form: sorts in time order, globs like "2026-11-0*" work
        return Field(name, lambda e: _ts_text(e.ts), _text, _same)
    return Field(name, operator.attrgetter(name), _text, _same)


def _ts_text(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _time_field(name: str, utc_offset_s: int) -> Field:
    """Local day, hour and weekday, held as integers so they group cheaply and sort in time order."""
    if name == "day":
        return Field(name, lambda e: int((e.ts.timestamp() + utc_offset_s) // DAY_S), Context.day_text,
                     Context.day_text)
    if name == "hour":
        return Field(name, lambda e: int((e.ts.timestamp() + utc_offset_s) % DAY_S // 3600), str, _same)

    def weekday_name(index: int) -> str:
        return WEEKDAYS[index]

    return Field(name, lambda e: Context.weekday(int((e.ts.timestamp() + utc_offset_s) // DAY_S)), weekday_name,
                 weekday_name)


_SCALARS = (str, int, float, bool)


def _payload_lookup(names: tuple[str, ...]) -> Callable[[Any], Any]:
    first, rest = names[0], [_step(name) for name in names[1:]]
    readers: dict[type, Callable[[Any], Any]] = {}  # the first step inlined: it runs on every event

    def get(event: Any) -> Any:
        data = event.data
        reader = readers.get(data.__class__)
        if reader is None:
            reader = readers[data.__class__] = _reader(data.__class__, first)
        value = reader(data)
        for step in rest:
            if value is None or value is MISSING:
                return MISSING
            value = step(value)
        if value is None or value is MISSING:  # a null reads as missing: it has no text, no number
            return MISSING
        return value if value.__class__ in _SCALARS else _hashable(value)

    return get


def _step(name: str) -> Callable[[Any], Any]:
    """value -> its member `name`, by the name it has in the log ("from", not "from_"). How to read it is
    worked out once per class of value (payload struct, dict, list)."""
    readers: dict[type, Callable[[Any], Any]] = {}

    def step(value: Any) -> Any:
        cls = value.__class__
        reader = readers.get(cls)
        if reader is None:
            reader = readers[cls] = _reader(cls, name)
        return reader(value)

    return step


def _reader(cls: type, name: str) -> Callable[[Any], Any]:
    if issubclass(cls, dict):
        return lambda value: value.get(name, MISSING)
    if issubclass(cls, msgspec.Struct):
        attr = next((f.name for f in msgspec.structs.fields(cls) if f.encode_name == name), None)
        return operator.attrgetter(attr) if attr else lambda value: MISSING
    if issubclass(cls, list) and name.isdigit():
        index = int(name)
        return lambda value: value[index] if index < len(value) else MISSING
    return lambda value: MISSING


def _hashable(value: Any) -> Any:
    """Lists, objects and structs become their JSON text, so they can be keys and globbed."""
    return msgspec.json.encode(value).decode()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Condition:
    """One --where: the field's text form matches (or, negated, does not match) a case-sensitive glob."""

    field: Field
    pattern: str
    negate: bool
    match: Callable[[str], Any]
    seen: dict[Any, bool] = member(default_factory=dict)  # verdicts on values that repeat: types, branches, days

    def accepts(self, event: Any) -> bool:
        value = self.field.get(event)
        if value is MISSING:
            return self.negate
        cls = value.__class__
        if cls is not str and cls is not int:  # floats rarely repeat; bools would collide with 0 and 1
            return (self.match(self.field.label(value)) is None) is self.negate
        verdict = self.seen.get(value)
        if verdict is None:
            verdict = (self.match(self.field.label(value)) is None) is self.negate
            if len(self.seen) < MEMO_SIZE:
                self.seen[value] = verdict
        return verdict

    def accepts_type(self, event_type: str) -> bool:
        """Whether an event of this type can pass (only a condition on `type` can tell in advance)."""
        if self.field.name != "type":
            return True
        return (self.match(event_type) is None) is self.negate


def parse_where(text: str, utc_offset_s: int) -> Condition:
    name, sep, pattern = text.partition("=")
    negate = name.endswith("!")
    name = name[:-1] if negate else name
    if not sep or not name.strip():
        raise GitobsError(f"not a condition: {text!r} (use FIELD=GLOB or FIELD!=GLOB, e.g. type='commit.*')")
    matcher = re.compile(fnmatch.translate(pattern)).match
    return Condition(parse_field(name.strip(), utc_offset_s), pattern, negate, matcher)


@dataclass(frozen=True)
class Aggregate:
    name: str  # count, sum, min, max, avg or pNN
    field: Field | None  # None for count
    q: float | None = None  # the percentile, for pNN


def parse_aggregate(words: Sequence[str], utc_offset_s: int) -> Aggregate:
    """`[]` or `["count"]`; `["sum", FIELD]`, `["p90", FIELD]`, ..."""
    if not words:
        return Aggregate("count", None)
    name, rest = words[0], list(words[1:])
    match = _PERCENTILE.match(name)
    if name not in AGGREGATES and not match:
        raise GitobsError(f"unknown aggregation {name!r} (use count, sum, min, max, avg, p50, p90 or p99)")
    if name == "count":
        if rest:
            raise GitobsError(f"count takes no field (got {' '.join(map(repr, rest))}); use --where to narrow")
        return Aggregate("count", None)
    if len(rest) != 1:
        raise GitobsError(f"{name} takes one field, e.g. `{name} data.seconds`")
    q = float(match.group(1)) if match else None
    if q == 0:
        raise GitobsError(f"unknown aggregation {name!r} (percentiles go from p1 to p100)")
    return Aggregate(name, parse_field(rest[0], utc_offset_s), q)


@dataclass
class Query:
    where: list[Condition] = member(default_factory=list)
    group_by: list[Field] = member(default_factory=list)
    aggregate: Aggregate = member(default_factory=lambda: Aggregate("count", None))

    def wants_type(self, event_type: str) -> bool:
        return all(condition.accepts_type(event_type) for condition in self.where)

    @property
    def reads_payload(self) -> bool:
        fields = [c.field for c in self.where] + self.group_by + [self.aggregate.field]
        return any(f is not None and f.name.startswith("data.") for f in fields)


def build_query(where: Sequence[str], group_by: Sequence[str], aggregate: Sequence[str],
                utc_offset_s: int) -> Query:
    names = list(dict.fromkeys(name.strip() for name in group_by))  # a field given twice groups once
    return Query(where=[parse_where(text, utc_offset_s) for text in where],
                 group_by=[parse_field(name, utc_offset_s) for name in names],
                 aggregate=parse_aggregate(aggregate, utc_offset_s))


@dataclass
class Row:
    key: tuple  # one value (or MISSING) per group-by field
    value: int | float | None


@dataclass
class Result:
    query: Query
    rows: list[Row]  # sorted by key
    events: int  # events that passed the filters and every --where
    skipped: int  # of those, events without a numeric value for the aggregated field


def query_log(log: EventLog, query: Query, event_filter: EventFilter, warn: Callable[[str], None]) -> Result:
    """Stream the log through the filters and the query. Types a `type` condition rules out are never
    decoded beyond their tag."""
    if query.reads_payload or event_filter.branch is not None or event_filter.path is not None:
        decoder = EventDecoder(query.wants_type)
    else:  # the envelope alone: a fraction of the decoding
        decoder = EventDecoder(lambda _: False, head=query.wants_type)
    with without_gc():
        return run(query, read_batches(log, decoder, event_filter, warn))


def run(query: Query, batches: Iterable[list]) -> Result:
    """Whole batches at a time: filters and key functions run in comprehensions and C-level maps, so the
    per-event cost is a few calls, not a Python loop body per condition and field."""
    key_of = _key_function(query.group_by)
    tests = [condition.accepts for condition in query.where]
    accumulator = _ACCUMULATORS.get(query.aggregate.name, _Percentile)(query.aggregate)
    events = 0
    for batch in batches:
        for accepts in tests:
            batch = list(filter(accepts, batch))
        events += len(batch)
        accumulator.feed(batch, key_of)
    width = len(query.group_by)
    rows = [Row(key if width != 1 else (key,), value) for key, value in accumulator.values()]
    if not width and not rows:  # no grouping: always one answer, even over no events
        rows = [Row((), 0 if query.aggregate.name in ("count", "sum") else None)]
    rows.sort(key=lambda row: key_order(row.key))
    return Result(query, rows, events, accumulator.skipped)


def _key_function(fields: list[Field]) -> Callable[[Any], Any] | None:
    """event -> its group: None for no grouping, the bare value for one field, a tuple for more."""
    getters = [f.get for f in fields]
    if not getters:
        return None
    if len(getters) == 1:
        return getters[0]
    return lambda event: tuple([get(event) for get in getters])


class _Count:
    def __init__(self, aggregate: Aggregate) -> None:
        self.counts: Counter = Counter()
        self.skipped = 0

    def feed(self, batch: list, key_of: Callable[[Any], Any] | None) -> None:
        if key_of is None:
            if batch:
                self.counts[()] += len(batch)
        else:
            self.counts.update(map(key_of, batch))

    def values(self) -> Iterable[tuple[Any, int | float | None]]:
        return self.counts.items()


class _Numbers:
    """Base of the aggregates over a field: hands on (group, number) pairs, counts events with no number
    (missing, text, bools: a flag is not a quantity)."""

    def __init__(self, aggregate: Aggregate) -> None:
        self.get = aggregate.field.get  # type: ignore[union-attr] - parse_aggregate gives every non-count a field
        self.q = aggregate.q
        self.groups: dict[Any, Any] = {}
        self.skipped = 0

    def feed(self, batch: list, key_of: Callable[[Any], Any] | None) -> None:
        keys = repeat(()) if key_of is None else map(key_of, batch)
        pairs = [(key, value) for key, value in zip(keys, map(self.get, batch))
                 if value.__class__ is int or value.__class__ is float]
        self.skipped += len(batch) - len(pairs)
        self.add(pairs)

    def add(self, pairs: list[tuple[Any, int | float]]) -> None:
        raise NotImplementedError


class _Sum(_Numbers):
    def add(self, pairs: list[tuple[Any, int | float]]) -> None:
        groups = self.groups
        for key, value in pairs:
            state = groups.get(key)
            if state is None:
                groups[key] = [value, 1]
            else:
                state[0] += value
                state[1] += 1

    def values(self) -> Iterable[tuple[Any, int | float | None]]:
        return ((key, _number(total)) for key, (total, _) in self.groups.items())


class _Avg(_Sum):
    def values(self) -> Iterable[tuple[Any, int | float | None]]:
        return ((key, rounded(total / count)) for key, (total, count) in self.groups.items())


class _Min(_Numbers):
    def add(self, pairs: list[tuple[Any, int | float]]) -> None:
        groups = self.groups
        for key, value in pairs:
            state = groups.get(key)
            if state is None or value < state:
                groups[key] = value

    def values(self) -> Iterable[tuple[Any, int | float | None]]:
        return ((key, _number(value)) for key, value in self.groups.items())


class _Max(_Min):
    def add(self, pairs: list[tuple[Any, int | float]]) -> None:
        groups = self.groups
        for key, value in pairs:
            state = groups.get(key)
            if state is None or value > state:
                groups[key] = value


class _Percentile(_Numbers):
    """Keeps each group's numbers as 8-byte floats (an exact nearest rank needs them all)."""

    floats = False  # any float seen; else the answer goes back to a whole number

    def add(self, pairs: list[tuple[Any, int | float]]) -> None:
        groups = self.groups
        if not self.floats:
            self.floats = any(value.__class__ is float for _, value in pairs)
        for key, value in pairs:
            state = groups.get(key)
            if state is None:
                state = groups[key] = array("d")
            state.append(value)

    def values(self) -> Iterable[tuple[Any, int | float | None]]:
        for key, state in self.groups.items():
            found = percentile(state, self.q)  # type: ignore[arg-type] - pNN always has its q
            yield key, _number(found if self.floats or found is None else int(found))


def _number(value: float | None) -> int | float | None:
    return rounded(value) if isinstance(value, float) else value


_ACCUMULATORS: dict[str, type] = {"count": _Count, "sum": _Sum, "avg": _Avg, "min": _Min, "max": _Max}


def key_order(key: tuple) -> tuple:
    """Numbers first (in numeric order), then text, then missing: a total order over mixed keys."""
    return tuple((2, 0, "") if v is MISSING else (1, 0, v) if isinstance(v, str) else (0, v, "") for v in key)


def table_order(rows: list[Row]) -> list[Row]:
    """Largest value first; ties (and rows without a value) by key."""
    def order(row: Row) -> tuple:
        value = row.value
        return (value is None, -value if value is not None else 0, key_order(row.key))
    return sorted(rows, key=order)


def key_labels(query: Query, key: tuple) -> list[str | None]:
    """Text per key part; None for a missing value (shown as (none))."""
    return [None if v is MISSING else f.label(v) for f, v in zip(query.group_by, key)]


def to_json(result: Result) -> dict:
    query = result.query
    aggregate = query.aggregate
    return {
        "group_by": [f.name for f in query.group_by],
        "aggregate": aggregate.name,
        "field": aggregate.field.name if aggregate.field else None,
        "rows": [{"key": _key_json(query, row.key), "value": row.value} for row in result.rows],
        "events": result.events,
        "skipped": result.skipped,
    }


def _key_json(query: Query, key: tuple) -> dict[str, Any]:
    """Field name -> value, in --group-by order; null for a missing value."""
    return {f.name: None if v is MISSING else f.json(v) for f, v in zip(query.group_by, key)}
