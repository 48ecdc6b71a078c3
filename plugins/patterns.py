"""Sessions and patterns: work sittings split at idle gaps, branch switches per sitting (focus), recurring
sequences from a declarative table, and which event type follows which.

The log is read in log order, which is time order within a scan and nearly so across scans. An event
earlier than the activity already seen (one written late, such as GitButler's first look at its history)
joins the current session without moving its bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from gitobs.plugin import (
    IMPORTED,
    Analyzer,
    AnyBlock,
    Cell,
    Context,
    Fact,
    Facts,
    Reservoir,
    ReservoirState,
    Table,
    add_counts,
    hookimpl,
    micros,
    rounded,
    seconds_of,
    utc_text,
)

NEVER = -math.inf
BEFORE_ALL = datetime.min.replace(tzinfo=timezone.utc)  # no activity yet
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NOT_A_STEP = frozenset({"worktree.sample"})  # taken at every scan: it would follow everything


# -- recurring sequences: a table of patterns, one matcher ------------------------------------------------

@dataclass(frozen=True)
class Step:
    type: str
    test: Callable[[Any], bool] | None = None  # on the payload
    reads: tuple[str, ...] = ()  # the payload fields `test` reads
    at_least: int = 1  # events of this step in a row (others may come between) before the next step counts


@dataclass(frozen=True)
class Pattern:
    name: str
    steps: tuple[Step, ...]
    same_branch: bool = False  # every step on the same branch in the same worktree (each type has a `branch`)
    in_session: bool = True  # every step within one session
    within: tuple[str, float] | None = None  # (option key, default seconds): first step to last at most this


def _squashes(data: Any) -> bool:
    return data.steps.get("squash", 0) > 0 or data.steps.get("fixup", 0) > 0


def _finished(data: Any) -> bool:
    return data.outcome == "finish"


def _forced(data: Any) -> bool:
    return data.force


PATTERNS: tuple[Pattern, ...] = (
    Pattern("commit -> amend", (Step("commit.created"), Step("commit.amended")), same_branch=True,
            in_session=False, within=("amend_window", 600.0)),
    Pattern("stash -> switch -> stash pop", (Step("stash.push"), Step("branch.switch"), Step("stash.pop"))),
    Pattern("WIP commits -> squash",
            (Step("commit.created", at_least=2), Step("history.rebase", _squashes, reads=("steps",))),
            same_branch=True),
    Pattern("rebase -> force push",
            (Step("history.rebase", _finished, reads=("outcome",)), Step("push", _forced, reads=("force",)))),
    Pattern("commit -> undo", (Step("commit.created"), Step("commit.undone")), same_branch=True),
    Pattern("blocked -> retry", (Step("commit.blocked"), Step("commit.created")), same_branch=True),
)


class Matcher:
    """Counts one pattern's occurrences: its steps in order, other types in between, no event of the
    pattern's own types out of turn. One partial match per scope (the worktree and its branch, so that two
    detached worktrees stay apart; or the whole stream):
    [step reached, events of that step, start time]. It moves on at the next step's event, grows with
    more events of its current step (after the first step, or while the first needs several), starts over
    at a first step's event (the latest start wins), and is dropped at any other event of its types, when it
    outgrows its window, or when its session ends. The first occurrence keeps its start time as an example.
    The steps are compiled to tuples: `see` runs for about a quarter of all events."""

    __slots__ = ("pattern", "types", "tests", "needs", "final", "keyed", "within", "partial", "count", "first")

    def __init__(self, pattern: Pattern, context: Context, analyzer: str) -> None:
        self.pattern = pattern
        self.types = tuple(step.type for step in pattern.steps)
        self.tests = tuple(step.test for step in pattern.steps)
        self.needs = tuple(step.at_least for step in pattern.steps)
        self.final = len(pattern.steps) - 1
        self.keyed = pattern.same_branch
        self.within = None if pattern.within is None else context.duration(analyzer, *pattern.within)
        self.partial: dict[str | None, list] = {}
        self.count = 0
        self.first: float | None = None

    def see(self, event: Any, t: float) -> None:
        data, kind = event.data, event.type
        key = (event.wt, data.branch) if self.keyed else None
        types, tests, partial = self.types, self.tests, self.partial
        state = partial.get(key)
        if state is not None and self.within is not None and t - state[2] > self.within:
            del partial[key]
            state = None
        if state is not None:
            j = state[0]
            if (j < self.final and state[1] >= self.needs[j] and kind == types[j + 1]
                    and (tests[j + 1] is None or tests[j + 1](data))):
                state[0], state[1] = j + 1, 1  # the next step
            elif (kind == types[j] and (j or self.needs[0] > 1)
                    and (tests[j] is None or tests[j](data))):
                state[1] += 1  # more of the same step
            else:  # an event of the pattern out of turn ends the partial match
                del partial[key]
                state = None
        if state is None:
            if kind != types[0] or (tests[0] is not None and not tests[0](data)):
                return
            state = partial[key] = [0, 1, t]
        if state[0] == self.final and state[1] >= self.needs[-1]:
            del partial[key]
            self.count += 1
            if self.first is None:
                self.first = state[2]

    def start(self, event: Any, t: float) -> None:
        """`see` for an event whose type is only this pattern's first step (of one event): all it can do is
        start the match over, so this skips the rest."""
        data = event.data
        if self.tests[0] is None or self.tests[0](data):
            self.partial[(event.wt, data.branch) if self.keyed else None] = [0, 1, t]

    def watch(self, kind: str) -> tuple[dict | None, Callable[[Any, float], None]] | None:
        """What to call for events of `kind` (None when the pattern has no step of it), and when it is not a
        first step, the partial matches: with none, such an event changes nothing and the call is skipped."""
        if kind not in self.types:
            return None
        if kind == self.types[0] and self.needs[0] == 1 and self.final > 0 and kind not in self.types[1:]:
            return None, self.start
        return (None if kind == self.types[0] else self.partial), self.see

    def horizon(self) -> float:
        """How far apart two of its events can still be part of one match, beyond its session."""
        if self.pattern.in_session or self.within is not None:
            return self.within or 0.0
        return math.inf

    def merge(self, later: Matcher, later_began: bool) -> None:
        self.count += later.count
        if self.first is None:
            self.first = later.first
        if later_began:  # its first event came after a gap that ended every partial match here
            self.partial.clear()  # in place: the analyzer's table of what to call holds it (see watch)
            self.partial.update(later.partial)

    def end_session(self, t: float) -> None:
        if self.pattern.in_session:
            self.partial.clear()
        elif self.within is not None:
            for key in [key for key, state in self.partial.items() if t - state[2] > self.within]:
                del self.partial[key]

    def scope(self) -> str:
        parts = ["same branch"] if self.pattern.same_branch else []
        if self.pattern.in_session:
            parts.append("same session")
        if self.within is not None:
            parts.append(f"within {_span(self.within)}")
        return ", ".join(parts)


def _fields_read(patterns: tuple[Pattern, ...]) -> dict[str, tuple[str, ...]]:
    """What the matchers read of each step's type: what its test reads, and the worktree and branch in a
    pattern that keeps to one."""
    read: dict[str, set[str]] = {}
    for pattern in patterns:
        for step in pattern.steps:
            names = read.setdefault(step.type, set())
            names.update(step.reads)
            if pattern.same_branch:
                names.update(("branch", "wt"))
    return {kind: tuple(sorted(names)) for kind, names in sorted(read.items())}


# -- the analyzer ------------------------------------------------------------------------------------------

class MatcherState(msgspec.Struct, array_like=True):
    partial: list[tuple[tuple[str, str | None] | None, list[int | float]]]  # scope, [step, events, start]
    count: int
    first: float | None


class PatternsState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a PatternsAnalyzer (the matchers in PATTERNS' order)."""

    matchers: list[MatcherState]
    start: float
    last: datetime
    limit: datetime
    events: int
    switches: int
    row: str | None  # the type whose row of followers the open session's last step is
    durations: ReservoirState
    sizes: ReservoirState
    switch_counts: ReservoirState
    by_weekday: list[list[int]]
    focused: int
    follow: dict[str, dict[str, int]]


class PatternsAnalyzer(Analyzer):
    name = "patterns"
    title = "Sessions and patterns"
    consumes = ("branch.*", "commit.*", "edit.*", "worktree.*", "history.*", "stash.*", "push", "ref.*", "index.*",
                "hook.*", "vbranch.*", "gitbutler.*", "x.*")  # not gitobs.* nor rollup.*: gitobs's own, not work
    fields = {**_fields_read(PATTERNS), "*": ("src",)}  # the rest: times, and src to leave imports out
    order = 60
    state_version = 2  # 2: imported history left out
    result_uses_now = False  # its sections are kept with its state
    state_type = PatternsState
    imported_in_any_order = True  # imported history opens no session

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.gap = context.duration(self.name, "idle_gap", 1800.0)
        self.top = context.integer(self.name, "top", 10)
        self.matchers = [Matcher(pattern, context, self.name) for pattern in PATTERNS]
        # Per event type, what an event of it does, found with one lookup: (its row of what-follows-what
        # counts, None when it is not a step; the matchers to show it to; 1 for a branch switch).
        self.kinds: dict[str, tuple[dict[str, int] | None, tuple, int]] = {}
        # the open session
        self.start = NEVER  # seconds since the epoch
        self.last = self.limit = BEFORE_ALL  # the latest activity; last + idle gap as of its last refresh
        self.gap_delta = timedelta(seconds=self.gap)
        self.events = self.switches = 0
        self.row: dict[str, int] | None = None  # follower counts of the previous type in this session
        # closed sessions
        self.durations, self.sizes, self.switch_counts = Reservoir(), Reservoir(), Reservoir()
        self.by_weekday = [[0, 0] for _ in WEEKDAYS]  # [sessions, microseconds]
        self.focused = 0  # sessions without a switch
        self.follow: dict[str, dict[str, int]] = {}  # type -> type after it -> count

    def feed(self, events: Sequence) -> None:
        # Sessions compare datetimes, as in branches: `limit` is refreshed only when an event passes it, and
        # the float time (event.t costs far more than a comparison) only for events a matcher watches.
        gap, last, limit, n, switches, row = self.gap_delta, self.last, self.limit, self.events, self.switches, self.row
        kinds_get = self.kinds.get
        for event in events:
            if event.src == IMPORTED:  # history backfilled: no session of its own
                continue
            ts = event.ts
            kind = event.type
            if ts > limit:
                limit = last + gap
                if ts > limit:
                    if n:
                        self._close(last, n, switches)
                    self._open(ts.timestamp())
                    last, n, switches, row = ts, 0, 0, None
                    limit = ts + gap
            if ts > last:  # noqa: PLR1730 - max() is a call, and this runs for every event
                last = ts
            n += 1
            entry = kinds_get(kind)
            if entry is None:
                entry = self._kind(kind)
            after, watchers, switch = entry
            if after is not None:
                if row is not None:
                    row[kind] = row.get(kind, 0) + 1
                row = after
            switches += switch
            if watchers:
                t = None
                for partial, see in watchers:
                    if partial is None or partial:  # a later step with no match begun: nothing to do
                        if t is None:
                            t = ts.timestamp()
                        see(event, t)
        self.last, self.limit, self.events, self.switches, self.row = last, limit, n, switches, row

    def _kind(self, kind: str) -> tuple[dict[str, int] | None, tuple, int]:
        after = None if kind in NOT_A_STEP else self.follow.setdefault(kind, {})
        watchers = tuple(watch for m in self.matchers if (watch := m.watch(kind)) is not None)
        entry = self.kinds[kind] = (after, watchers, int(kind == "branch.switch"))
        return entry

    def _open(self, t: float) -> None:
        self.start = t
        for matcher in self.matchers:
            matcher.end_session(t)

    def _close(self, end: datetime, events: int, switches: int) -> None:
        seconds = end.timestamp() - self.start
        self.durations.add(seconds)
        self.sizes.add(events)
        self.switch_counts.add(switches)
        if switches == 0:
            self.focused += 1
        cell = self.by_weekday[Context.weekday(self.context.local_day(self.start))]
        cell[0] += 1
        cell[1] += micros(seconds)

    def horizon(self) -> float:
        # Sessions end at the idle gap; a match lives within a session or within its own window.
        return max(self.gap, *(matcher.horizon() for matcher in self.matchers))

    def merge(self, later: PatternsAnalyzer) -> None:
        began = later.start != NEVER  # later saw events: its first one opened a session after a gap
        # The open session's last step, as a type: its row of followers is merged into this one's below, and
        # the report cache feeds more events after a merge.
        row = next((kind for kind, followers in later.follow.items() if followers is later.row), None)
        if began:
            if self.events:
                self._close(self.last, self.events, self.switches)
            self.start, self.last, self.limit = later.start, later.last, later.limit
            self.events, self.switches = later.events, later.switches
        for mine, theirs in zip(self.matchers, later.matchers):
            mine.merge(theirs, began)
        self.durations.extend(later.durations)
        self.sizes.extend(later.sizes)
        self.switch_counts.extend(later.switch_counts)
        for cell, (sessions, total) in zip(self.by_weekday, later.by_weekday):
            cell[0] += sessions
            cell[1] += total
        self.focused += later.focused
        for kind, followers in later.follow.items():
            add_counts(self.follow.setdefault(kind, {}), followers)
        if began:
            self.row = None if row is None else self.follow[row]

    def save_state(self) -> PatternsState:
        row = next((kind for kind, followers in self.follow.items() if followers is self.row), None)
        return PatternsState(
            matchers=[MatcherState(list(m.partial.items()), m.count, m.first) for m in self.matchers],
            start=self.start, last=self.last, limit=self.limit, events=self.events, switches=self.switches, row=row,
            durations=self.durations.save(), sizes=self.sizes.save(), switch_counts=self.switch_counts.save(),
            by_weekday=self.by_weekday, focused=self.focused, follow=self.follow)

    def load_state(self, state: PatternsState) -> None:
        if len(state.matchers) != len(self.matchers):
            raise ValueError("a state of other patterns")
        for matcher, saved in zip(self.matchers, state.matchers):
            matcher.partial.update((key, list(value)) for key, value in saved.partial)
            matcher.count, matcher.first = saved.count, saved.first
        self.start, self.last, self.limit = state.start, state.last, state.limit
        self.events, self.switches = state.events, state.switches
        self.durations, self.sizes = Reservoir.load(state.durations), Reservoir.load(state.sizes)
        self.switch_counts = Reservoir.load(state.switch_counts)
        self.by_weekday, self.focused, self.follow = state.by_weekday, state.focused, state.follow
        self.row = None if state.row is None else self.follow[state.row]

    def result(self) -> list[AnyBlock]:
        if self.events:  # the session still open at the end of the log
            self._close(self.last, self.events, self.switches)
            self.events = 0
        return [self._sessions(), self._weekdays(), self._focus(), self._sequences(), self._bigrams()]

    def _sessions(self) -> Facts:
        durations, sizes = self.durations, self.sizes
        return Facts(id="sessions", title="Sessions (activity split at idle gaps)", items=[
            Fact("sessions", durations.count),
            Fact("idle gap", rounded(self.gap), "s"),
            Fact("duration p50", rounded(durations.quantile(50)), "s"),
            Fact("duration p90", rounded(durations.quantile(90)), "s"),
            Fact("duration max", rounded(durations.max), "s"),
            Fact("events p50", sizes.quantile(50), "events"),
            Fact("events p90", sizes.quantile(90), "events"),
            Fact("events max", sizes.max, "events"),
        ])

    def _weekdays(self) -> Table:
        rows: list[list[Cell]] = [[day, sessions, rounded(seconds_of(total) / 3600)]
                                  for day, (sessions, total) in zip(WEEKDAYS, self.by_weekday)]
        return Table(id="sessions_by_weekday", title="Sessions by weekday they started on (local)",
                     columns=["weekday", "sessions", "hours"], rows=rows)

    def _focus(self) -> Facts:
        counts = self.switch_counts
        share = rounded(100 * self.focused / counts.count) if counts.count else None
        return Facts(id="focus", title="Focus: branch switches per session", items=[
            Fact("switches p50", counts.quantile(50), "switches"),
            Fact("switches p90", counts.quantile(90), "switches"),
            Fact("switches max", counts.max, "switches"),
            Fact("sessions without a switch", self.focused),
            Fact("share without a switch", share, "%"),
        ])

    def _sequences(self) -> Table:
        ranked = sorted(self.matchers, key=lambda m: (-m.count, m.pattern.name))
        rows: list[list[Cell]] = [[m.pattern.name, m.count, None if m.first is None else utc_text(m.first), m.scope()]
                                  for m in ranked]
        return Table(id="sequences", title="Recurring sequences (first seen: when the first one began, UTC)",
                     columns=["sequence", "count", "first_seen", "scope"], rows=rows)

    def _bigrams(self) -> Table:
        pairs = [(count, before, after) for before, row in self.follow.items() for after, count in row.items()]
        pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
        shown = pairs[: self.top] if self.top > 0 else []
        return Table(id="what_follows", title="What follows what (consecutive event types within a session)",
                     columns=["type", "next", "count"], rows=[[before, after, count] for count, before, after in shown],
                     total_rows=len(pairs))


def _span(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"




@hookimpl
def gitobs_analyzers() -> list[type]:
    return [PatternsAnalyzer]
