"""Git commands: what each git command costs and how often it fails, as git's own trace2 told it
(`git.command` events).

Per command and mode: how many ran (weighted: a sampled reading command stands for `weight` of them),
failures with their exit codes, p50/p90/p99 and the slowest duration, the trend of the last period against
the one before, and the slowest commands with a one-line hint where git itself has a known cure (HINTS).
A command's duration here is git's own time: the seconds spent in the editor are taken out, so that a commit
message written slowly is not a slow commit (the hesitation section counts those). Commands another git
process ran (`nested`: `git pull`'s fetch and merge, maintenance) are counted apart, not in the tables.
"""

from __future__ import annotations

import math
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
    GitobsError,
    Note,
    QuantileSketch,
    SketchState,
    Table,
    add_counts,
    add_rows,
    hookimpl,
    rounded,
    seconds_of,
)

# Where git has a known cure for a slow command: one line each, as `scalar` would advise. Keyed by command;
# docs/report.md lists them.
HINTS = {
    "status": "a large tree: core.fsmonitor=true and core.untrackedCache=true let status skip unchanged files",
    "add": "a large tree: core.fsmonitor=true and core.untrackedCache=true spare add a full scan",
    "diff": "a large tree: core.fsmonitor=true spares diff a full scan of the work tree",
    "checkout": "a large tree: checkout.workers (parallel checkout) and sparse-checkout for parts never touched",
    "switch": "a large tree: checkout.workers (parallel checkout) and sparse-checkout for parts never touched",
    "restore": "a large tree: checkout.workers (parallel checkout) and sparse-checkout for parts never touched",
    "commit": "commits wait for their hooks (see the hooks section); git maintenance keeps the commit-graph fresh",
    "gc": "git maintenance start: loose objects packed and repacks done in the background, off your path",
    "repack": "git maintenance start: incremental repacks in the background instead of whole ones",
    "prune": "git maintenance start: loose objects cleaned in the background",
    "fetch": "git maintenance start prefetches hourly in the background; fetch.writeCommitGraph=true helps later walks",
    "pull": "git maintenance start prefetches hourly, so a pull has less to fetch",
    "push": "pushes wait for the network and the pre-push hook (see the hooks section)",
    "log": "git maintenance start (or git commit-graph write) speeds history walks; log.showSignature=false",
    "blame": "git maintenance start (or git commit-graph write) speeds history walks",
    "merge": "many conflicts or renames: merge.renameLimit; git maintenance keeps the commit-graph fresh",
    "rebase": "a long rebase re-runs hooks per commit (see the hooks section); git maintenance helps walks",
    "clone": "a large repository: a partial clone (--filter=blob:none) or scalar clone",
}
SLOWEST_SHOWN = 5
PERIOD_S = 7 * DAY_S  # the trend's period, by default
EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


class CommandStats:
    """One (command, mode): weighted runs and failures, exit codes, seconds (a sketch: exact count and max,
    quantiles within 1%), and per UTC day [runs, failures, microseconds] for the trend."""

    __slots__ = ("runs", "failures", "exits", "micros", "sketch", "days")

    def __init__(self) -> None:
        self.runs = 0
        self.failures = 0
        self.exits: dict[int, int] = {}
        self.micros = 0
        self.sketch = QuantileSketch()
        self.days: dict[int, list[int]] = {}

    def merge(self, other: CommandStats) -> None:
        self.runs += other.runs
        self.failures += other.failures
        add_counts(self.exits, other.exits)
        self.micros += other.micros
        self.sketch.merge(other.sketch)
        add_rows(self.days, other.days)


class CommandsState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a CommandsAnalyzer."""

    # command, mode, runs, failures, exits, microseconds, seconds, days
    stats: list[tuple[str, str, int, int, dict[int, int], int, SketchState, dict[int, list[int]]]]
    nested: int


class CommandsAnalyzer(Analyzer):
    name = "commands"
    title = "Git commands"
    consumes = ("git.command",)
    fields = {"git.command": ("command", "mode", "exit", "duration_s", "editor_s", "weight", "nested")}
    order = 72
    state_version = 1
    state_type = CommandsState

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.top = context.integer(self.name, "top", 30)
        self.period = context.duration(self.name, "period", PERIOD_S)
        if self.period < DAY_S:
            raise GitobsError("option commands.period must be a day or more, like 7d")
        self.by_command: dict[str, dict[str, CommandStats]] = {}  # command -> mode -> its stats
        self.nested = 0

    def feed(self, events: Sequence) -> None:
        by_command, add = self.by_command, weighted_add
        for event in events:
            data = event.data
            weight = data.weight
            if data.nested:
                self.nested += weight
                continue
            modes = by_command.get(data.command)
            if modes is None:
                modes = by_command[data.command] = {}
            found = modes.get(data.mode)
            if found is None:
                found = modes[data.mode] = CommandStats()
            editor = data.editor_s
            seconds = data.duration_s - editor if editor else data.duration_s  # git's time, not the editor's
            if seconds < 0.0:
                seconds = 0.0
            spent = round(seconds * 1_000_000) * weight  # gitobs.plugin.micros, without its call
            found.runs += weight
            found.micros += spent
            failed = weight if data.exit else 0
            if failed:
                found.failures += weight
                found.exits[data.exit] = found.exits.get(data.exit, 0) + weight
            add(found.sketch, seconds, weight)
            day = event.ts.toordinal() - EPOCH_ORDINAL  # its UTC day, as t // DAY_S, without the float
            cell = found.days.get(day)
            if cell is None:
                found.days[day] = [weight, failed, spent]
            else:
                cell[0] += weight
                cell[1] += failed
                cell[2] += spent

    @property
    def stats(self) -> dict[tuple[str, str], CommandStats]:
        return {(command, mode): found for command, modes in self.by_command.items() for mode, found in modes.items()}

    def merge(self, later: CommandsAnalyzer) -> None:
        # Sums and mergeable sketches only (horizon 0).
        for command, modes in later.by_command.items():
            mine = self.by_command.setdefault(command, {})
            for mode, theirs in modes.items():
                if mode in mine:
                    mine[mode].merge(theirs)
                else:
                    mine[mode] = theirs
        self.nested += later.nested

    def save_state(self) -> CommandsState:
        return CommandsState(
            stats=[(command, mode, s.runs, s.failures, dict(s.exits), s.micros, s.sketch.save(),
                    {day: list(cell) for day, cell in s.days.items()})
                   for (command, mode), s in self.stats.items()],
            nested=self.nested)

    def load_state(self, state: CommandsState) -> None:
        for command, mode, runs, failures, exits, total, sketch, days in state.stats:
            found = self.by_command.setdefault(command, {})[mode] = CommandStats()
            found.runs, found.failures, found.exits, found.micros = runs, failures, exits, total
            found.sketch, found.days = QuantileSketch.load(sketch), days
        self.nested = state.nested

    def result(self) -> list[AnyBlock]:
        if not self.stats:
            return [Note(id="no_commands", text=(
                "No git commands were recorded (no git.command events). gitobs reads git's own trace2 "
                "telemetry once it is turned on: gitobs trace2 enable."))]
        ranked = sorted(self.stats.items(), key=lambda item: (-item[1].runs, item[0]))
        return [self._totals(), self._by_command(ranked), self._failures(), self._trend(), self._slowest()]

    def _totals(self) -> Facts:
        stats = self.stats.values()
        return Facts(id="totals", title="Git commands", items=[
            Fact("commands", sum(s.runs for s in stats)),
            Fact("failed", sum(s.failures for s in stats)),
            Fact("time in git", rounded(seconds_of(sum(s.micros for s in stats))), "s"),
            Fact("run by git itself (nested, not counted)", self.nested),
        ])

    def _by_command(self, ranked: list) -> Table:
        rows: list[list[Cell]] = [
            [command, mode, s.runs, s.failures, rounded(s.sketch.quantile(50)), rounded(s.sketch.quantile(90)),
             rounded(s.sketch.quantile(99)), rounded(s.sketch.max), rounded(seconds_of(s.micros))]
            for (command, mode), s in ranked[:self.top]]
        return Table(id="by_command", title="By command and mode, most run first",
                     columns=["command", "mode", "runs", "failures", "p50_s", "p90_s", "p99_s", "max_s", "total_s"],
                     rows=rows, total_rows=len(ranked))

    def _failures(self) -> Table:
        found = [(count, command, mode, code) for (command, mode), s in self.stats.items()
                 for code, count in s.exits.items()]
        found.sort(key=lambda item: (-item[0], item[1], item[2], item[3]))
        rows: list[list[Cell]] = [[command, mode, code, count] for count, command, mode, code in found[:self.top]]
        return Table(id="failures", title="Failures by exit code",
                     columns=["command", "mode", "exit", "runs"], rows=rows, total_rows=len(found))

    @classmethod
    def result_now_key(cls, context: Context) -> str:
        return str(_last_day(context))  # the trend's periods end with the report's UTC day

    def _trend(self) -> Table:
        """The last period (ending at the report's end) against the one before it, in whole UTC days."""
        last_day = _last_day(self.context)
        days = max(1, round(self.period / DAY_S))
        current: dict[tuple[str, str], list[int]] = {}
        previous: dict[tuple[str, str], list[int]] = {}
        for key, found in self.stats.items():
            for day, cell in found.days.items():
                age = last_day - day
                if 0 <= age < days:
                    add_rows(current, {key: list(cell)})
                elif days <= age < 2 * days:
                    add_rows(previous, {key: list(cell)})
        keys = sorted(set(current) | set(previous),
                      key=lambda key: (-current.get(key, [0])[0], -previous.get(key, [0])[0], key))
        rows: list[list[Cell]] = []
        for key in keys[:self.top]:
            now_cell, before = current.get(key, [0, 0, 0]), previous.get(key, [0, 0, 0])
            rows.append([key[0], key[1], now_cell[0], before[0], _change(now_cell[0], before[0]), now_cell[1],
                         before[1], _mean(now_cell), _mean(before)])
        return Table(id="trend", title=f"The last {days} days against the {days} before",
                     columns=["command", "mode", "runs", "runs_before", "change_pct", "failures", "failures_before",
                              "mean_s", "mean_s_before"], rows=rows, total_rows=len(keys))

    def _slowest(self) -> Table:
        ranked = sorted(self.stats.items(), key=lambda item: (-(item[1].sketch.quantile(90) or 0.0), item[0]))
        rows: list[list[Cell]] = [
            [command, mode, s.runs, rounded(s.sketch.quantile(90)), rounded(s.sketch.max), HINTS.get(command, "")]
            for (command, mode), s in ranked[:SLOWEST_SHOWN]]
        return Table(id="slowest", title="The slowest commands (by p90), and git's cure where it has one",
                     columns=["command", "mode", "runs", "p90_s", "max_s", "hint"], rows=rows,
                     total_rows=len(ranked))


def _change(current: int, before: int) -> float | None:
    return None if before == 0 else round((current - before) * 100 / before, 1)


def _mean(cell: list[int]) -> float | None:
    return None if cell[0] == 0 else rounded(seconds_of(cell[2]) / cell[0])


# QuantileSketch's bucket index (gitobs/replay/stats.py), to add one value `weight` times in one step
_LOG_GAMMA = math.log((1 + QuantileSketch.RELATIVE_ERROR) / (1 - QuantileSketch.RELATIVE_ERROR))


def weighted_add(sketch: QuantileSketch, value: float, weight: int) -> None:
    """sketch.add(value) `weight` times, in one step: a sampled command stands for `weight` alike (and one
    call instead of two for weight 1, the common case)."""
    sketch.count += weight
    if sketch.max is None or value > sketch.max:
        sketch.max = value
    if value < QuantileSketch.MIN_VALUE:
        sketch.zeros += weight
        return
    index = math.ceil(math.log(value) / _LOG_GAMMA)
    sketch.bins[index] = sketch.bins.get(index, 0) + weight


def _last_day(context: Context) -> int:
    """The UTC day the report ends on (--until, else its now)."""
    return int((context.until if context.until is not None else context.now) // DAY_S)


@hookimpl
def gitobs_analyzers() -> list[type]:
    return [CommandsAnalyzer]
