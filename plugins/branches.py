"""Branches: how often HEAD moves, how long each branch holds you, quick A -> B -> A returns (ping-pong),
and how many branches one sitting of work touches."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

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

DETACHED = "(detached)"
OTHER = "(other)"
DWELL_SAMPLE = 20_000  # dwell values kept per branch for its median (see Reservoir)
BEFORE_ALL = datetime.min.replace(tzinfo=timezone.utc)  # no activity yet


class BranchesState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a BranchesAnalyzer."""

    per_day: dict[int, int]
    dwell: list[tuple[str, ReservoirState, int]]  # branch, its dwell seconds, their total in microseconds
    previous: dict[str, tuple[str, str, float]]
    pairs: list[tuple[str, str, int, float]]
    per_session: dict[int, int]
    touched: list[str]
    last: datetime
    limit: datetime


class BranchesAnalyzer(Analyzer):
    name = "branches"
    title = "Branches"
    # Switches and commits say which branch; every other type only says the developer was at work, which is
    # what splits the log into sessions.
    consumes = ("branch.*", "commit.*", "worktree.sample", "index.stage", "stash.*", "history.*")
    # the rest only need their time
    fields = {"branch.switch": ("from_", "to", "dwell_s", "wt"), "commit.created": ("branch",),
              "commit.amended": ("branch",), "*": ("src",)}
    order = 20
    state_version = 2  # 2: imported history left out
    result_uses_now = False  # its sections are kept with its state
    state_type = BranchesState
    imported_in_any_order = True  # imported history: no session, switch or dwell

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.days = context.integer(self.name, "days", 30)
        self.top = context.integer(self.name, "top", 10)
        self.window = context.duration(self.name, "ping_pong_window", 600)
        self.idle_gap = context.duration(self.name, "idle_gap", 1800)
        self.per_day: dict[int, int] = {}
        self.dwell: dict[str, Reservoir] = {}
        self.dwell_total: dict[str, int] = {}  # microseconds
        self.previous: dict[str, tuple[str, str, float]] = {}  # worktree -> its last switch (from, to, t)
        self.pairs: dict[tuple[str, str], list[float]] = {}  # (home, away) -> [count, first t]
        self.per_session: Counter[int] = Counter()  # distinct branches touched -> sessions
        self.idle_gap_delta = timedelta(seconds=self.idle_gap)
        self.touched: set[str] = set()  # branches of the open session
        # Latest activity seen. The log is in time order but for a few late writes (docs/events.md), which
        # join the open session.
        self.last = self.limit = BEFORE_ALL

    def feed(self, events: Sequence) -> None:
        # Sessions compare the events' datetimes: event.t costs far more than a comparison. `limit` is
        # last + idle gap as of its last refresh, refreshed only when an event passes it, so the addition
        # runs about once per idle gap of activity rather than once per event.
        gap, touched, last, limit = self.idle_gap_delta, self.touched, self.last, self.limit
        for event in events:
            if event.src == IMPORTED:  # history backfilled: no session, switch or dwell of its own
                continue
            ts = event.ts
            if ts > limit:
                limit = last + gap
                if ts > limit:
                    if last > BEFORE_ALL:
                        self.per_session[len(touched)] += 1
                    touched = self.touched = set()
                    limit = ts + gap
            if ts > last:  # noqa: PLR1730 - max() is a call, and this runs for every event
                last = ts
            kind = event.type
            if kind == "branch.switch":
                self._switch(event, event.t, touched)
            elif kind in ("commit.created", "commit.amended"):
                branch = event.data.branch
                touched.add(DETACHED if branch is None else branch)
        self.last, self.limit = last, limit

    def _switch(self, event, t: float, touched: set[str]) -> None:
        data = event.data
        left = DETACHED if data.from_ is None else data.from_
        entered = DETACHED if data.to is None else data.to
        touched.add(left)
        touched.add(entered)
        day = int((t + self.context.utc_offset_s) // 86400)
        self.per_day[day] = self.per_day.get(day, 0) + 1
        if data.dwell_s is not None:
            self._dwell(left, data.dwell_s)
        before = self.previous.get(event.wt)
        # left == entered: one detached commit to another, which is not a return
        if (before is not None and before[1] == left and before[0] == entered != left
                and t - before[2] <= self.window):
            pair = self.pairs.get((entered, left))
            if pair is None:
                self.pairs[(entered, left)] = [1, before[2]]
            else:
                pair[0] += 1
                pair[1] = min(pair[1], before[2])
        self.previous[event.wt] = (left, entered, t)

    def _dwell(self, branch: str, seconds: float) -> None:
        sample = self.dwell.get(branch)
        if sample is None:
            sample = self.dwell[branch] = Reservoir(DWELL_SAMPLE)
            self.dwell_total[branch] = 0
        sample.add(seconds)
        self.dwell_total[branch] += micros(seconds)

    def horizon(self) -> float:
        # Sessions end at an idle gap; a ping-pong is two switches within its window.
        return max(self.idle_gap, self.window)

    def merge(self, later: BranchesAnalyzer) -> None:
        add_counts(self.per_day, later.per_day)
        for branch, sample in later.dwell.items():
            if branch in self.dwell:
                self.dwell[branch].extend(sample)
                self.dwell_total[branch] += later.dwell_total[branch]
            else:
                self.dwell[branch], self.dwell_total[branch] = sample, later.dwell_total[branch]
        for key, (count, first) in later.pairs.items():
            pair = self.pairs.setdefault(key, [0, first])
            pair[0] += count
            pair[1] = min(pair[1], first)
        self.previous.update(later.previous)
        # `>`, not `is not`: `later` came through pickle, so its BEFORE_ALL is an equal copy
        if later.last > BEFORE_ALL:  # later's first event began a session: this one's open session ended
            if self.last > BEFORE_ALL:
                self.per_session[len(self.touched)] += 1
            self.touched, self.last, self.limit = later.touched, later.last, later.limit
        self.per_session.update(later.per_session)

    def save_state(self) -> BranchesState:
        return BranchesState(
            per_day=self.per_day,
            dwell=[(branch, sample.save(), self.dwell_total[branch]) for branch, sample in self.dwell.items()],
            previous=self.previous, pairs=[(home, away, count, first) for (home, away), (count, first) in self.pairs.items()],
            per_session=dict(self.per_session), touched=sorted(self.touched), last=self.last, limit=self.limit)

    def load_state(self, state: BranchesState) -> None:
        self.per_day = state.per_day
        for branch, sample, total in state.dwell:
            self.dwell[branch], self.dwell_total[branch] = Reservoir.load(sample), total
        self.previous = state.previous
        self.pairs = {(home, away): [count, first] for home, away, count, first in state.pairs}
        self.per_session = Counter(state.per_session)
        self.touched, self.last, self.limit = set(state.touched), state.last, state.limit

    def result(self) -> list[AnyBlock]:
        return [self._summary(), self._per_day(), self._dwell_table(), self._ping_pong(), self._sessions()]

    def _summary(self) -> Facts:
        return Facts(id="summary", title="Switches", items=[
            Fact("switches", sum(self.per_day.values())),
            Fact("days with switches", len(self.per_day)),
            Fact("ping-pongs", sum(int(pair[0]) for pair in self.pairs.values())),
            Fact("ping-pong window", rounded(float(self.window)), "s"),
        ])

    def _per_day(self) -> Table:
        shown = sorted(self.per_day)[-self.days:] if self.days > 0 else []
        return Table(id="switches_per_day", title="Switches per day (local), latest days with switches",
                     columns=["day", "switches"], rows=[[Context.day_text(day), self.per_day[day]] for day in shown],
                     total_rows=len(self.per_day))

    def _dwell_table(self) -> Table:
        ranked = sorted(self.dwell, key=lambda branch: (-self.dwell_total[branch], branch))
        rows: list[list[Cell]] = [_dwell_row(branch, self.dwell_total[branch], self.dwell[branch])
                                  for branch in ranked[: self.top]]
        rest = ranked[self.top:]
        if rest:
            merged = Reservoir(DWELL_SAMPLE * 10)
            for branch in rest:
                merged.extend(self.dwell[branch])
            rows.append(_dwell_row(OTHER, sum(self.dwell_total[branch] for branch in rest), merged))
        return Table(id="dwell", title="Time on a branch before leaving it",
                     columns=["branch", "total_h", "median_min", "visits"], rows=rows, total_rows=len(ranked))

    def _ping_pong(self) -> Table:
        ranked = sorted(self.pairs.items(), key=lambda item: (-item[1][0], item[1][1], item[0]))
        rows: list[list[Cell]] = [[home, away, int(count), utc_text(first)]
                                  for (home, away), (count, first) in ranked[: self.top]]
        return Table(id="ping_pong", title="Left a branch and came back to it within the window",
                     columns=["branch", "away_on", "count", "first"], rows=rows, total_rows=len(ranked))

    def _sessions(self) -> Facts:
        per_session = self.per_session.copy()
        if self.last > BEFORE_ALL:  # the session still open at the end of the log (`>`: see merge)
            per_session[len(self.touched)] += 1
        sessions = sum(per_session.values())
        return Facts(id="sessions", title="Branches touched per session", items=[
            Fact("sessions", sessions),
            Fact("p50", _histogram_percentile(per_session, 50), "branches"),
            Fact("p90", _histogram_percentile(per_session, 90), "branches"),
            Fact("max", max(per_session) if sessions else None, "branches"),
            Fact("idle gap", rounded(float(self.idle_gap)), "s"),
        ])


def _dwell_row(branch: str, total_micros: int, sample: Reservoir) -> list[Cell]:
    median = sample.quantile(50)
    hours = rounded(seconds_of(total_micros) / 3600)
    return [branch, hours, rounded(None if median is None else median / 60), sample.count]


def _histogram_percentile(histogram: Counter[int], q: float) -> int | None:
    """Nearest-rank percentile of the values a {value: how many} histogram holds, as stats.percentile."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            break
    return value




@hookimpl
def gitobs_analyzers() -> list[type[Analyzer]]:
    return [BranchesAnalyzer]
