"""Hook cost: what the user's own hooks (chained by gitobs) cost them, and what gitobs itself added.

The user's hooks are timed by the shim around each run (`hook.ran`); gitobs's own work is its background
scans (`gitobs.scan`). The shim's synchronous cost cannot be timed from inside it (it forks no clock), so
it is measured by benchmarks/hooks.py instead, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from gitobs.plugin import (
    DAY_S,
    Analyzer,
    AnyBlock,
    Cell,
    Context,
    Fact,
    Facts,
    Note,
    Reservoir,
    ReservoirState,
    Table,
    add_rows,
    hookimpl,
    micros,
    rounded,
    seconds_of,
)

PRE_COMMIT = "pre-commit"
DAYS_SHOWN = 14  # the latest days with any pre-commit run


class HookStats:
    """One hook's runs: exact count, total (in microseconds) and failures; seconds kept in bounded memory for
    percentiles."""

    __slots__ = ("runs", "micros", "failures", "sample")

    def __init__(self) -> None:
        self.runs = 0
        self.micros = 0
        self.failures = 0
        self.sample = Reservoir()


class HookCostState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a HookCostAnalyzer."""

    hooks: list[tuple[str, int, int, int, ReservoirState]]  # hook, runs, microseconds, failures, seconds
    pre_commit_days: dict[int, list[int]]
    scans: ReservoirState
    scan_micros: int
    records: int
    events_written: int


class HookCostAnalyzer(Analyzer):
    name = "hooks"
    title = "Hook cost"
    consumes = ("hook.ran", "gitobs.scan")
    fields = {"hook.ran": ("hook", "seconds", "runs", "exit", "failures", "max_s"),
              "gitobs.scan": ("seconds", "records", "events")}
    order = 70
    state_version = 1
    result_uses_now = False  # its sections are kept with its state
    state_type = HookCostState

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.hooks: dict[str, HookStats] = {}
        self.pre_commit_days: dict[int, list] = {}  # local day -> [runs, microseconds]
        self.scans = Reservoir()
        self.scan_micros = 0
        self.records = 0
        self.events_written = 0

    def feed(self, events: Sequence) -> None:
        hooks, days, offset = self.hooks, self.pre_commit_days, self.context.utc_offset_s
        for event in events:
            data = event.data
            if event.type == "gitobs.scan":
                self._scan(data)
                continue
            stats = hooks.get(data.hook)
            if stats is None:
                stats = hooks[data.hook] = HookStats()
            seconds, runs = data.seconds, data.runs
            stats.runs += runs
            stats.micros += micros(seconds)
            if runs == 1:
                stats.sample.add(seconds)
                stats.failures += data.exit != 0
            else:  # coalesced runs (schema.HookRan): each counts at their mean, the longest as it was
                stats.failures += data.failures
                for _ in range(runs - 1):
                    stats.sample.add(seconds / runs)
                stats.sample.add(data.max_s if data.max_s is not None else seconds / runs)
            if data.hook == PRE_COMMIT:
                day = int((event.ts.timestamp() + offset) // DAY_S)  # event.t, without the property's call
                cell = days.get(day)
                if cell is None:
                    days[day] = [1, micros(seconds)]
                else:
                    cell[0] += 1
                    cell[1] += micros(seconds)

    def _scan(self, data) -> None:
        self.scans.add(data.seconds)
        self.scan_micros += micros(data.seconds)
        self.records += data.records
        self.events_written += data.events

    def merge(self, later: HookCostAnalyzer) -> None:
        # Sums and distributions only (horizon 0).
        for hook, theirs in later.hooks.items():
            mine = self.hooks.get(hook)
            if mine is None:
                self.hooks[hook] = theirs
                continue
            mine.runs += theirs.runs
            mine.micros += theirs.micros
            mine.failures += theirs.failures
            mine.sample.extend(theirs.sample)
        add_rows(self.pre_commit_days, later.pre_commit_days)
        self.scans.extend(later.scans)
        self.scan_micros += later.scan_micros
        self.records += later.records
        self.events_written += later.events_written

    def save_state(self) -> HookCostState:
        return HookCostState(
            hooks=[(hook, s.runs, s.micros, s.failures, s.sample.save()) for hook, s in self.hooks.items()],
            pre_commit_days={day: list(cell) for day, cell in self.pre_commit_days.items()},
            scans=self.scans.save(), scan_micros=self.scan_micros, records=self.records,
            events_written=self.events_written)

    def load_state(self, state: HookCostState) -> None:
        for hook, runs, total, failures, sample in state.hooks:
            stats = self.hooks[hook] = HookStats()
            stats.runs, stats.micros, stats.failures, stats.sample = runs, total, failures, Reservoir.load(sample)
        self.pre_commit_days = state.pre_commit_days
        self.scans = Reservoir.load(state.scans)
        self.scan_micros, self.records, self.events_written = state.scan_micros, state.records, state.events_written

    def result(self) -> list[AnyBlock]:
        blocks: list[AnyBlock] = []
        if self.hooks:
            blocks += [self._totals(), self._by_hook(), self._pre_commit_days()]
        else:
            blocks.append(Note(id="no_hooks", title="Your hooks", text=(
                "None of your own hooks ran (no hook.ran events). When it is installed, gitobs chains the hooks "
                "a repository already has and times each of their runs; this repository had none, or they "
                "have not run since.")))
        blocks += [self._gitobs_cost(), Note(id="shim_cost", title="The hook shim", text=(
            "The synchronous cost of gitobs's own hook shim is not measured at run time: the shim forks no "
            "clock, so that it stays a few hundred microseconds of shell. benchmarks/hooks.py measures it "
            "(what gitobs adds to git commit and git checkout)."))]
        return blocks

    def _totals(self) -> Facts:
        stats = self.hooks.values()
        return Facts(id="totals", title="Your hooks", items=[
            Fact("runs", sum(s.runs for s in stats)),
            Fact("time in your hooks", rounded(seconds_of(sum(s.micros for s in stats))), "s"),
            Fact("failures", sum(s.failures for s in stats)),
            Fact("time in pre-commit", rounded(seconds_of(sum(cell[1] for cell in self.pre_commit_days.values()))),
                 "s"),
        ])

    def _by_hook(self) -> Table:
        ranked = sorted(self.hooks.items(), key=lambda item: (-item[1].micros, item[0]))
        rows: list[list[Cell]] = [
            [hook, s.runs, rounded(seconds_of(s.micros)), rounded(s.sample.quantile(50)),
             rounded(s.sample.quantile(90)), rounded(s.sample.max), s.failures] for hook, s in ranked]
        return Table(id="by_hook", title="Your hooks, by total time",
                     columns=["hook", "runs", "total_s", "p50_s", "p90_s", "max_s", "failures"], rows=rows,
                     total_rows=len(rows))

    def _pre_commit_days(self) -> Table:
        shown = sorted(self.pre_commit_days)[-DAYS_SHOWN:]
        rows: list[list[Cell]] = [[Context.day_text(day), self.pre_commit_days[day][0],
                                   rounded(seconds_of(self.pre_commit_days[day][1]))] for day in shown]
        return Table(id="pre_commit_by_day", title="Time blocked in pre-commit per day (local), latest days",
                     columns=["day", "runs", "seconds"], rows=rows, total_rows=len(self.pre_commit_days))

    def _gitobs_cost(self) -> Facts:
        scans = self.scans
        return Facts(id="gitobs_scans", title="What gitobs added: background scans, off git's path", items=[
            Fact("scans", scans.count),
            Fact("scan time", rounded(seconds_of(self.scan_micros)), "s"),
            Fact("p50", rounded(scans.quantile(50)), "s"),
            Fact("p90", rounded(scans.quantile(90)), "s"),
            Fact("max", rounded(scans.max), "s"),
            Fact("records consumed", self.records),
            Fact("events written", self.events_written),
        ])


@hookimpl
def gitobs_analyzers() -> list[type]:
    return [HookCostAnalyzer]
