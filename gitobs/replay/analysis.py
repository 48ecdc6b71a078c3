"""The classes a plugin subclasses (Analyzer, Enricher, Renderer) and the Context a report hands them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from gitobs.core.repo import GitobsError
from gitobs.core.timespec import parse_duration
from gitobs.replay.sections import AnyBlock, Report

DAY_S = 86400


def utc_text(t: float) -> str:
    """Seconds since the epoch as an ISO UTC time to the second: how reports show a moment."""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Context:
    """What a report is about. Everything an analyzer's output may depend on besides the events is here,
    which is what makes the same events and the same `--now` give the same report."""

    now: float  # seconds since the epoch
    utc_offset_s: int = 0  # local time = UTC + this, for hours and days
    since: float | None = None
    until: float | None = None
    path: str | None = None  # only files under this prefix ("src/api/")
    depth: int | None = None  # directory depth for per-directory tables
    branch: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # "sessions.idle_gap" -> "45m"

    def option(self, analyzer: str, key: str, default: str) -> str:
        return self.options.get(f"{analyzer}.{key}", default)

    def duration(self, analyzer: str, key: str, default_s: float) -> float:
        text = self.options.get(f"{analyzer}.{key}")
        if text is None:
            return float(default_s)
        try:
            return parse_duration(text)
        except GitobsError as exc:  # from -O or a report.options of a config file: say which option
            raise GitobsError(f"option {analyzer}.{key}: {exc} (set by -O or report.options)") from None

    def integer(self, analyzer: str, key: str, default: int) -> int:
        text = self.options.get(f"{analyzer}.{key}")
        if text is None:
            return default
        try:
            return int(text)
        except ValueError:
            raise GitobsError(f"option {analyzer}.{key} takes a whole number, not {text!r}") from None

    def local_day(self, t: float) -> int:
        """Days since 1970-01-01 in local time (1970-01-01 was a Thursday: weekday = (day + 3) % 7)."""
        return int((t + self.utc_offset_s) // DAY_S)

    def report_day(self) -> int:
        """The local day the report ends on: its now, or the last moment before `until` if that is earlier."""
        return self.local_day(self.now if self.until is None else min(self.now, self.until - 0.001))

    def local_hour(self, t: float) -> int:
        return int((t + self.utc_offset_s) % DAY_S // 3600)

    @staticmethod
    def weekday(day: int) -> int:
        """Monday 0 .. Sunday 6 of a `local_day`."""
        return (day + 3) % 7

    @staticmethod
    def day_text(day: int) -> str:
        return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(days=day)).strftime("%Y-%m-%d")


class Analyzer:
    """Subclass, set the class attributes, and implement feed() and result().

    `consumes`: event type globs ("commit.*"); empty means every event. Replay hands `feed` lists of
    events in log order; the list and its events are shared with other analyzers: read, never modify. An event has `type`, `seq`, `ts` (an aware UTC datetime), `t` (the same as seconds
    since the epoch), `src`, `wt` and `data`: the typed payload of docs/events.md (attributes, `from_` for
    "from"), or a plain dict for `x.*` types. A payload field left at its default may be absent from the
    log: read it as the default.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    consumes: ClassVar[tuple[str, ...]] = ()
    # The consumed types whose payload it reads (globs); None: all of them. For the others `data` is None
    # and replay skips decoding their payloads, which is most of the cost of a broad analyzer.
    payloads: ClassVar[tuple[str, ...] | None] = None
    # Narrower still (optional; replaces `payloads`): per consumed type (globs as keys), the fields it reads:
    # payload attributes (`from_` for "from") and any of the envelope's `seq`, `src` and `wt` (`type`, `ts`
    # and `t` are always there). A type no key matches is read for its time alone (`data` is None). Replay
    # builds only the fields some consumer reads; one left out is no attribute at all. A 40-hex sha is a
    # string per event whether anyone reads it or not.
    fields: ClassVar[dict[str, tuple[str, ...]] | None] = None
    order: ClassVar[int] = 100  # sections are shown by order, then name; the built-ins use 10..70

    def __init__(self, context: Context) -> None:
        self.context = context

    def option(self, key: str, default: str) -> str:
        return self.context.option(self.name, key, default)

    def feed(self, events: Sequence) -> None:
        raise NotImplementedError

    def result(self) -> list[AnyBlock]:
        raise NotImplementedError

    # Optional: two processes for one report. An analyzer that implements merge() can be fed the log in two
    # parts by two instances (gitobs/replay/parallel.py); one that does not is fed all of it by one instance.

    def horizon(self) -> float:
        """Seconds beyond which this analyzer's events no longer interact: when every event of a second
        part comes more than this after every event of the first, the two instances' states merge exactly.
        0 for pure counts; an idle gap that splits sessions; a window that pairs events."""
        return 0.0

    def merge(self, later: Analyzer) -> None:
        """Fold into this instance the state of `later`, an instance of the same class made with the same
        context and fed the events right after this one's (more than horizon() seconds after all of them).
        Called before result(); `later` is not used again. With the report cache (save_state), this instance
        may be fed more events after it: the state it leaves must feed on as one fed everything would."""
        raise NotImplementedError

    # Its merge needs time order only among events that gitobs import did not make (src "import"): imported
    # history it leaves out, or only counts. A log out of time order because of an import still merges it.
    imported_in_any_order: ClassVar[bool] = False

    # Optional: the report cache (gitobs/replay/cache.py, docs/plugins.md). An analyzer that sets
    # `state_version` (1 or more) and `state_type` and implements save_state() and load_state() has its state
    # after the log's sealed segments kept under .git/obs/, and a later report feeds it only what came after.
    # Its feed() must not read context.now, since or until (result() may), unless `state_uses_now` says so.
    state_version: ClassVar[int] = 0  # 0: never cached; bump it whenever the state's shape or meaning changes
    state_type: ClassVar[Any] = None  # what save_state() returns, as msgspec decodes it (a Struct, say)
    state_uses_now: ClassVar[bool] = False  # feed() reads context.now: a state is kept per --now
    # result() reads context.now (or anything but the state and the rest of the context): its sections are
    # not kept. When False, the sections it gave at a checkpoint are kept with it, and a report with nothing
    # new after the checkpoint shows them without loading the state.
    result_uses_now: ClassVar[bool] = True

    @classmethod
    def result_now_key(cls, context: Context) -> str | None:
        """For an analyzer whose result() reads the report's now (or until) only through a coarser value (the
        day or the hour it falls in, say): that value as text. Its sections are then kept with the checkpoint
        too, and shown again while the key is the same. None (the default): made anew every time."""
        return None

    def save_state(self) -> Any:
        """This instance's state, fed so far, as a value of `state_type` (msgspec encodes it: plain types and
        Structs, nothing that runs code). It may settle caches first; feeding may go on after it."""
        raise NotImplementedError

    def load_state(self, state: Any) -> None:
        """Take a state save_state() made (decoded as `state_type`) into this new instance, made with the same
        context: afterwards it must feed and give results exactly as the instance that saved it would."""
        raise NotImplementedError


class Enricher:
    """Runs on every batch before the analyzers: returns the batch to hand on (see hookspecs)."""

    name: ClassVar[str]
    consumes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: Context) -> None:
        self.context = context

    def enrich(self, events: list) -> list:
        raise NotImplementedError


class Renderer:
    format: ClassVar[str]  # the `--format` name
    suffix: ClassVar[str] = ".txt"  # for `-o` files without one

    def render(self, report: Report, color: bool) -> str:
        raise NotImplementedError
