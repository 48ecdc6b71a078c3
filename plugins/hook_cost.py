"""Hook cost: what the user's own hooks cost them, whether they keep to their budgets, the hooks skipped with
--no-verify, and what gitobs itself added.

The user's hooks are timed two ways: by the shim around each run of a hook gitobs chains (`hook.ran`), and
by git's own trace2 (`git.command`'s `hooks`). One run seen both ways is counted once, as `hook.ran` has it
(it times the user's hook alone): a trace2 run pairs with a `hook.ran` of the same hook whose time lies in
the command's span [start - SLACK_S, start + duration + SLACK_S] (the span taken at most MAX_SPAN_S long),
the earliest such one in the log. A command's event has its start's time, so it comes before its hooks' in
the log (within a scan events are written in time order): a trace2 run waits for its pair until the stream
is past that span, a `hook.ran` for a command only WAIT_S.

Budgets (`budgets.hooks` in the config, reaching here as -O hooks.budget.<hook>=<seconds>; by default
pre-commit 2 s) are objectives on p90: at most 10 % of a hook's runs may take longer than its budget (the
error budget). The burn rate of a window is the share of runs over budget divided by that 10 %; 1.0 spends
the error budget exactly. As in the SRE workbook's multi-window alerts, the section raises an alert when the
last 7 days burn faster than 1.0 and the last day does too (so a hook made fast again stops alerting within
a day), with at least MIN_RUNS runs in the 7 days.

gitobs's own work is its background scans (`gitobs.scan`). The shim's synchronous cost cannot be timed from
inside it (it forks no clock), so it is measured by benchmarks/hooks.py instead, and the report says so; with
trace2 on, git times the shim like any hook, and a run of a hook gitobs installs that trace2 alone saw (no
hook.ran: no hook of the user's behind the shim) is shown as the shim's own time (SHIM_HOOKS).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from gitobs.plugin import (
    DAY_S,
    IMPORTED,
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
    add_counts,
    add_rows,
    hookimpl,
    micros,
    rounded,
    seconds_of,
)

PRE_COMMIT = "pre-commit"
DAYS_SHOWN = 14  # the latest days with any pre-commit run
COMMIT_HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit")  # what a commit waits for
SLACK_S = 2.0  # a hook's record is taken a moment after git's start; the two clocks round differently
MAX_SPAN_S = 3600.0
# The hooks gitobs's default install puts its shim in front of (capture/install.py's LEAN_HOOKS). Once the log
# says gitobs was installed, a trace2 run of one of these with no hook.ran to pair with is the shim alone (a
# hook of yours there would be chained, and timed by hook.ran). With capture.all_hooks, the shims of the other
# recorded hooks count as your hooks: trace2 cannot tell them apart.
SHIM_HOOKS = frozenset(("post-checkout", "pre-commit", "commit-msg", "post-merge", "post-rewrite", "pre-push"))
WAIT_S = 2 * SLACK_S  # a hook.ran waits this long for a command to pair with (the command starts first)
DEFAULT_BUDGETS = {PRE_COMMIT: 2.0}
ALLOWED_OVER = 0.10  # a p90 objective: one run in ten may exceed the budget
LONG_S, SHORT_S = 7 * DAY_S, DAY_S  # the burn windows
MIN_RUNS = 5  # fewer runs in the long window make no alert
HOUR_S = 3600


class HookStats:
    """One hook's runs: exact count, total (in microseconds) and failures; seconds kept in bounded memory for
    percentiles."""

    __slots__ = ("runs", "micros", "failures", "sample")

    def __init__(self) -> None:
        self.runs = 0
        self.micros = 0
        self.failures = 0
        self.sample = Reservoir()


class Trace2Run(msgspec.Struct, array_like=True):
    """A hook run trace2 saw, waiting for the stream to pass its command's span (a `hook.ran` may pair)."""

    hook: str
    seconds: float  # with runs > 1, their total
    exit: int  # the first failing run's exit
    runs: int
    start: float  # its command's span
    end: float
    t: float  # its command's time, where it is counted


class ChainedRun(msgspec.Struct, array_like=True):
    """A `hook.ran` not yet paired, which a later command's trace2 run may still pair with."""

    hook: str
    t: float
    runs: int


class HookCostState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a HookCostAnalyzer."""

    hooks: list[tuple[str, int, int, int, ReservoirState]]  # hook, runs, microseconds, failures, seconds
    pre_commit_days: dict[int, list[int]]
    scans: ReservoirState
    scan_micros: int
    records: int
    events_written: int
    hours: list[tuple[str, list[int]]]  # per hook: its UTC hours as [hour, runs, over budget, hour, ...]
    sources: list[int]  # runs from hook.ran, from trace2 alone, seen both ways
    commits: int
    commit_hook_micros: int
    bypasses: dict[str, int]  # "actor\tcommand" -> --no-verify runs
    waiting: list[Trace2Run]
    chained: list[ChainedRun]
    clock: float
    installed: bool
    shim: tuple[int, int, ReservoirState]  # gitobs's shims as trace2 timed them: runs, microseconds, seconds


class HookCostAnalyzer(Analyzer):
    name = "hooks"
    title = "Hook cost"
    consumes = ("hook.ran", "gitobs.scan", "git.command", "commit.created", "gitobs.installed")
    fields = {"hook.ran": ("hook", "seconds", "runs", "exit", "failures", "max_s", "src"),
              "gitobs.scan": ("seconds", "records", "events", "src"),
              "git.command": ("command", "duration_s", "hooks", "no_verify", "actor", "src"),
              "commit.created": ("src",), "gitobs.installed": ("src",)}
    order = 70
    state_version = 6  # 5: hours packed per hook; 6: imported events left out, clock included
    state_type = HookCostState  # its result reads `now` only for the burn windows' hour (result_now_key)
    imported_in_any_order = True  # imported history is left out

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.budgets = _budgets(context)
        self.hooks: dict[str, HookStats] = {}
        self.pre_commit_days: dict[int, list] = {}  # local day -> [runs, microseconds]
        self.scans = Reservoir()
        self.scan_micros = 0
        self.records = 0
        self.events_written = 0
        self.hours: dict[tuple[str, int], list[int]] = {}  # (hook, UTC hour) -> [runs, over budget]
        self.sources = [0, 0, 0]
        self.commits = 0
        self.commit_hook_micros = 0
        self.bypasses: dict[tuple[str, str], int] = {}
        self.waiting: list[Trace2Run] = []
        self.chained: list[ChainedRun] = []
        self.clock = float("-inf")
        self.due = float("inf")  # the stream's time past which _settle has something to do
        self.installed = False  # gitobs.installed seen: its shims are in front of SHIM_HOOKS
        self.shim = HookStats()

    def horizon(self) -> float:
        return MAX_SPAN_S + 2 * SLACK_S  # a trace2 run and its hook.ran are never further apart

    def feed(self, events: Sequence) -> None:
        for event in events:
            if event.src == IMPORTED:  # history backfilled: neither timed, paired, nor a commit of today's hooks
                continue
            kind, data, t = event.type, event.data, event.t
            if t > self.clock:
                self.clock = t
                if t > self.due:
                    self._settle(t)
            if kind == "hook.ran":
                self._chained(data, t)
            elif kind == "git.command":
                self._command(data, t)
            elif kind == "commit.created":
                self.commits += 1
            elif kind == "gitobs.installed":
                self.installed = True
            else:
                self._scan(data)

    def _chained(self, data, t: float) -> None:
        runs, seconds = data.runs, data.seconds
        if runs == 1:
            self._add(data.hook, seconds, data.exit, t)
        else:  # coalesced runs (schema.HookRan): each counts at their mean, the longest as it was
            self._add_coalesced(data.hook, runs, seconds, data.failures, data.max_s, t)
        self.sources[0] += runs
        for index, run in enumerate(self.waiting):  # seen by trace2 too: that one is not counted again
            if run.hook == data.hook and run.start - SLACK_S <= t <= run.end + SLACK_S:
                del self.waiting[index]
                self.sources[2] += runs
                return
        self.chained.append(ChainedRun(data.hook, t, runs))
        self.due = min(self.due, t + WAIT_S)

    def _command(self, data, t: float) -> None:
        if data.no_verify:
            key = (data.actor, data.command)
            self.bypasses[key] = self.bypasses.get(key, 0) + 1
        if not data.hooks:
            return
        end = t + min(data.duration_s, MAX_SPAN_S)
        for run in data.hooks:
            found = next((index for index, seen in enumerate(self.chained)
                          if seen.hook == run.hook and t - SLACK_S <= seen.t <= end + SLACK_S), None)
            if found is not None:  # its hook.ran came first and was counted
                self.sources[2] += self.chained[found].runs
                del self.chained[found]
            else:
                self.waiting.append(Trace2Run(run.hook, run.seconds, run.exit, run.runs, t, end, t))
                self.due = min(self.due, end + SLACK_S)

    def _settle(self, now: float) -> None:
        """Count the trace2 runs no later hook.ran can pair with; forget hook.ran runs no later command can."""
        limit = now - SLACK_S
        if self.waiting and any(run.end < limit for run in self.waiting):
            for run in [run for run in self.waiting if run.end < limit]:
                if self.installed and run.hook in SHIM_HOOKS:  # no hook of yours behind the shim: its own time
                    self.shim.runs += run.runs
                    self.shim.micros += micros(run.seconds)
                    self.shim.failures += int(run.exit != 0)
                    for _ in range(run.runs):
                        self.shim.sample.add(run.seconds / run.runs)
                    continue
                if run.runs == 1:
                    self._add(run.hook, run.seconds, run.exit, run.t)
                else:  # one hook run many times in one command: each at their mean, as trace2 sums them
                    self._add_coalesced(run.hook, run.runs, run.seconds, int(run.exit != 0), None, run.t)
                self.sources[1] += run.runs
            self.waiting = [run for run in self.waiting if run.end >= limit]
        if self.chained and self.chained[0].t < now - WAIT_S:
            if len(self.chained) == 1:  # the usual case (a hook.ran no command paired with): no lists made
                self.chained = []
            else:
                self.chained = [seen for seen in self.chained if seen.t >= now - WAIT_S]
        self._refresh_due()

    def _refresh_due(self) -> None:
        """When the stream's time next settles something: feed compares it and calls _settle no sooner."""
        if not self.waiting and not self.chained:
            self.due = float("inf")
            return
        self.due = min([run.end + SLACK_S for run in self.waiting] + [seen.t + WAIT_S for seen in self.chained],
                       default=float("inf"))

    def _add(self, hook: str, seconds: float, status: int, t: float) -> None:
        stats = self.hooks.get(hook) or self._stats(hook)
        spent = micros(seconds)
        stats.runs += 1
        stats.micros += spent
        stats.sample.add(seconds)
        stats.failures += status != 0
        self._timed(hook, t, 1, spent, 1 if seconds > self.budgets.get(hook, float("inf")) else 0)

    def _add_coalesced(self, hook: str, runs: int, seconds: float, failures: int, max_s: float | None,
                       t: float) -> None:
        stats = self._stats(hook)
        stats.runs += runs
        stats.micros += micros(seconds)
        stats.failures += failures
        for _ in range(runs - 1):
            stats.sample.add(seconds / runs)
        longest = max_s if max_s is not None else seconds / runs
        stats.sample.add(longest)
        budget = self.budgets.get(hook, float("inf"))
        over = (runs - 1) * (seconds / runs > budget) + (longest > budget)
        self._timed(hook, t, runs, micros(seconds), over)

    def _stats(self, hook: str) -> HookStats:
        stats = self.hooks.get(hook)
        if stats is None:
            stats = self.hooks[hook] = HookStats()
        return stats

    def _timed(self, hook: str, t: float, runs: int, spent: int, over: int) -> None:
        if hook in COMMIT_HOOKS:
            self.commit_hook_micros += spent
        if hook in self.budgets:
            key = (hook, int(t // HOUR_S))
            cell = self.hours.get(key)
            if cell is None:
                self.hours[key] = [runs, over]
            else:
                cell[0] += runs
                cell[1] += over
        if hook == PRE_COMMIT:
            day = int((t + self.context.utc_offset_s) // DAY_S)
            cell = self.pre_commit_days.get(day)
            if cell is None:
                self.pre_commit_days[day] = [runs, spent]
            else:
                cell[0] += runs
                cell[1] += spent

    def _scan(self, data) -> None:
        self.scans.add(data.seconds)
        self.scan_micros += micros(data.seconds)
        self.records += data.records
        self.events_written += data.events

    def merge(self, later: HookCostAnalyzer) -> None:
        # Every event of `later` is past this one's spans (horizon): this one's waiting runs are counted as
        # one instance would count them on the next event, then the sums and distributions are added.
        self._settle(float("inf"))
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
        add_rows(self.hours, later.hours)
        self.sources = [mine + theirs for mine, theirs in zip(self.sources, later.sources)]
        self.commits += later.commits
        self.commit_hook_micros += later.commit_hook_micros
        add_counts(self.bypasses, later.bypasses)
        self.installed = self.installed or later.installed
        self.shim.runs += later.shim.runs
        self.shim.micros += later.shim.micros
        self.shim.failures += later.shim.failures
        self.shim.sample.extend(later.shim.sample)
        self.waiting, self.chained, self.clock = later.waiting, later.chained, max(self.clock, later.clock)
        self._refresh_due()

    def save_state(self) -> HookCostState:
        return HookCostState(
            hooks=[(hook, s.runs, s.micros, s.failures, s.sample.save()) for hook, s in self.hooks.items()],
            pre_commit_days={day: list(cell) for day, cell in self.pre_commit_days.items()},
            scans=self.scans.save(), scan_micros=self.scan_micros, records=self.records,
            events_written=self.events_written,
            hours=list(self._packed_hours().items()),
            sources=list(self.sources), commits=self.commits, commit_hook_micros=self.commit_hook_micros,
            bypasses={f"{actor}\t{command}": count for (actor, command), count in self.bypasses.items()},
            waiting=list(self.waiting), chained=list(self.chained), clock=self.clock, installed=self.installed,
            shim=(self.shim.runs, self.shim.micros, self.shim.sample.save()))

    def _packed_hours(self) -> dict[str, list[int]]:
        """The hours per hook as flat lists of ints: a third of the bytes of keys as text, decoded in C."""
        packed: dict[str, list[int]] = {}
        for (hook, hour), (runs, over) in self.hours.items():
            packed.setdefault(hook, []).extend((hour, runs, over))
        return packed

    def load_state(self, state: HookCostState) -> None:
        for hook, runs, total, failures, sample in state.hooks:
            stats = self.hooks[hook] = HookStats()
            stats.runs, stats.micros, stats.failures, stats.sample = runs, total, failures, Reservoir.load(sample)
        self.pre_commit_days = state.pre_commit_days
        self.scans = Reservoir.load(state.scans)
        self.scan_micros, self.records, self.events_written = state.scan_micros, state.records, state.events_written
        for hook, packed in state.hours:
            hours = iter(packed)
            self.hours.update(((hook, hour), [runs, over]) for hour, runs, over in zip(hours, hours, hours))
        self.sources, self.commits, self.commit_hook_micros = state.sources, state.commits, state.commit_hook_micros
        for text, count in state.bypasses.items():
            actor, command = text.split("\t", 1)
            self.bypasses[(actor, command)] = count
        self.waiting, self.chained, self.clock = state.waiting, state.chained, state.clock
        self.installed = state.installed
        self.shim.runs, self.shim.micros, self.shim.sample = state.shim[0], state.shim[1], Reservoir.load(state.shim[2])
        self._refresh_due()

    def result(self) -> list[AnyBlock]:
        if self.waiting:  # the log's end: count them in a copy, the kept state leaves them open
            final = HookCostAnalyzer(self.context)
            final.load_state(self.save_state())
            final._settle(float("inf"))
            return final._blocks()
        return self._blocks()

    def _blocks(self) -> list[AnyBlock]:
        blocks: list[AnyBlock] = []
        if self.hooks:
            blocks += [self._totals(), self._by_hook(), self._pre_commit_days(), self._per_commit(),
                       self._budgets()]
            blocks += self._alerts()
        else:
            blocks.append(Note(id="no_hooks", title="Your hooks", text=(
                "None of your own hooks ran (no hook.ran events, and no hooks in git's trace2). When it is "
                "installed, gitobs chains the hooks a repository already has and times each of their runs; "
                "this repository had none, or they have not run since.")))
        if self.bypasses:
            blocks.append(self._bypasses())
        blocks.append(self._gitobs_cost())
        if self.shim.runs:
            blocks.append(self._shim_timed())
        blocks += [Note(id="shim_cost", title="The hook shim", text=(
            "The synchronous cost of gitobs's own hook shim is not measured at run time: the shim forks no "
            "clock, so that it stays a few hundred microseconds of shell. benchmarks/hooks.py measures it "
            "(what gitobs adds to git commit and git checkout)." + (
                " With git's trace2 on, git times each hook it runs, the shim included: shim_trace2 above."
                if self.shim.runs else "")))]
        return blocks

    def _per_commit(self) -> Facts:
        chained, traced, both = self.sources
        per_commit = rounded(seconds_of(self.commit_hook_micros) / self.commits) if self.commits else None
        return Facts(id="per_commit", title="What your hooks add to a commit, and where their runs were seen",
                     items=[Fact("commits", self.commits), Fact("commit hooks' time per commit", per_commit, "s"),
                            Fact("runs timed by gitobs's shim", chained),
                            Fact("runs seen by git's trace2 alone", traced),
                            Fact("runs seen both ways (counted once)", both)])

    @classmethod
    def result_now_key(cls, context: Context) -> str:
        return str(_last_hour(context))  # the burn windows are whole hours ending with the report's

    def _burn(self, hook: str, window_s: float) -> tuple[int, int, float | None]:
        """Runs, runs over budget and the burn rate of the window ending at the report's end."""
        last = _last_hour(self.context)
        first = last - int(window_s // HOUR_S)
        runs = over = 0
        for hour in range(first + 1, last + 1):  # the window's hours (168 at most), not every hour held
            cell = self.hours.get((hook, hour))
            if cell is not None:
                runs += cell[0]
                over += cell[1]
        return runs, over, (round(over / runs / ALLOWED_OVER, 2) if runs else None)

    def _budgets(self) -> Table:
        rows: list[list[Cell]] = []
        for hook, budget in sorted(self.budgets.items()):
            stats = self.hooks.get(hook)
            long_runs, long_over, long_burn = self._burn(hook, LONG_S)
            short_runs, _, short_burn = self._burn(hook, SHORT_S)
            rows.append([hook, rounded(budget), rounded(stats.sample.quantile(90)) if stats else None, long_runs,
                         long_over, long_burn, short_runs, short_burn,
                         "burning" if self._alerting(hook) else "ok"])
        return Table(id="budgets", title="Budgets (p90), the error budget's burn over 7 days and 1 day",
                     columns=["hook", "budget_s", "p90_s", "runs_7d", "over_7d", "burn_7d", "runs_1d", "burn_1d",
                              "state"], rows=rows, total_rows=len(rows))

    def _alerting(self, hook: str) -> bool:
        long_runs, _, long_burn = self._burn(hook, LONG_S)
        _, _, short_burn = self._burn(hook, SHORT_S)
        return long_runs >= MIN_RUNS and long_burn is not None and long_burn > 1 and (short_burn or 0) > 1

    def _alerts(self) -> list[AnyBlock]:
        alerts: list[AnyBlock] = []
        for hook, budget in sorted(self.budgets.items()):
            if self._alerting(hook):
                runs, over, burn = self._burn(hook, LONG_S)
                alerts.append(Note(id=f"budget_alert_{hook.replace('-', '_')}", title="Budget alert", text=(
                    f"{hook} is over its budget: {over} of its {runs} runs in the last 7 days took longer than "
                    f"{rounded(budget)} s, burning the error budget (one run in ten) {burn} times as fast as "
                    f"it allows, and it still did in the last day.")))
        return alerts

    def _bypasses(self) -> Table:
        ranked = sorted(self.bypasses.items(), key=lambda item: (-item[1], item[0]))
        rows: list[list[Cell]] = [[actor, command, count] for (actor, command), count in ranked]
        return Table(id="no_verify", title="Hooks skipped with --no-verify, by actor",
                     columns=["actor", "command", "runs"], rows=rows, total_rows=len(rows))

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

    def _shim_timed(self) -> Facts:
        shim = self.shim
        return Facts(id="shim_trace2", title="gitobs's hook shims as git's trace2 timed them (no hook of yours behind "
                     "them)", items=[Fact("runs", shim.runs), Fact("time", rounded(seconds_of(shim.micros)), "s"),
                                     Fact("p50", rounded(shim.sample.quantile(50)), "s"),
                                     Fact("p90", rounded(shim.sample.quantile(90)), "s"),
                                     Fact("max", rounded(shim.sample.max), "s")])

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


def _budgets(context: Context) -> dict[str, float]:
    """The hooks' budgets in seconds: the -O hooks.budget.<hook> options (budgets.hooks), else the default."""
    prefix = "hooks.budget."
    named = [key[len(prefix):] for key in context.options if key.startswith(prefix) and key != prefix]
    if not named:
        return dict(DEFAULT_BUDGETS)
    return {hook: context.duration("hooks", f"budget.{hook}", 0.0) for hook in sorted(named)}


def _last_hour(context: Context) -> int:
    """The UTC hour the report ends in (--until, else its now), since the epoch."""
    return int((context.until if context.until is not None else context.now) // HOUR_S)


@hookimpl
def gitobs_analyzers() -> list[type]:
    return [HookCostAnalyzer]
