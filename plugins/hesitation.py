"""Hesitation: how long commit messages take to write, how long staged work waits for its commit, and how
often a commit is tried and does not land (aborted, blocked by a hook, undone, amended), by branch and by
local hour of day.

`git commit --no-verify` runs neither pre-commit nor commit-msg, so the hooks see no attempt and no editor
time for it; git's trace2 does (`git.command`, `gitobs trace2 enable`). Such a commit command that succeeded
is counted as an attempt (under the branch NO_BRANCH: trace2 does not name it), and any such command's
`editor_s` as a message-edit time (at least MIN_EDIT_S, as the hooks measure it; also when the commit then
failed, as the hooks time an attempt that aborts after its editor). Except when git ran a prepare-commit-msg
hook in it: with `capture.all_hooks` that is gitobs's shim, which recorded the attempt and its editor time
already (a `commit.attempt` with `verify: false`), so nothing is counted twice. Each command is counted
on its own: the section stays a sum of counts (horizon 0, merge exact)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import msgspec

from gitobs.plugin import (
    HESITATION_COUNTS,
    IMPORTED,
    ROLLUP,
    Analyzer,
    AnyBlock,
    Cell,
    Context,
    Fact,
    Facts,
    QuantileSketch,
    Reservoir,
    ReservoirState,
    SketchState,
    Table,
    add_counts,
    add_rows,
    day_start,
    hookimpl,
    rounded,
)

DETACHED = "(detached)"
NO_BRANCH = "(not known)"  # trace2's attempts: a git branch name holds no space, so no branch shares this row
MIN_EDIT_S = 0.2  # an editor closed faster than this edited nothing (as capture's hook_events.MIN_EDIT_S)
ALL_HOOKS_SHIM = "prepare-commit-msg"  # a --no-verify commit that ran it was seen by gitobs's shim (all_hooks)
OTHER = "(other)"

# The per-branch and per-hour counters: one column each, in this order.
COUNTED = HESITATION_COUNTS  # the order rollups keep them in too
COLUMNS = ["attempts", "commits", "aborted", "blocked", "undone", "amended"]
_COLUMN = {kind: index for index, kind in enumerate(COUNTED)}
ATTEMPT, CREATED, ABORTED, BLOCKED = 0, 1, 2, 3
TRACE2_ATTEMPTS, TRACE2_EDITS = 0, 1  # from_trace2's two counts


class HesitationState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a HesitationAnalyzer."""

    message_edit: ReservoirState
    staged: ReservoirState
    by_branch: list[tuple[str | None, list[int]]]
    by_hour: list[list[int]]
    aborted_by_stage: dict[str, int]
    blocked_by_hook: dict[str, int]
    rolled_edit: SketchState
    rolled_staged: SketchState
    from_trace2: list[int]  # attempts and message edits of --no-verify commits that trace2 alone saw


class HesitationAnalyzer(Analyzer):
    name = "hesitation"
    title = "Commit hesitation"
    consumes = (*COUNTED, "commit.message_edit", ROLLUP, "git.command")  # ROLLUP: gitobs gc's days
    fields = {**{kind: ("branch",) for kind in COUNTED}, "commit.created": ("branch", "staged_s"),
              "commit.aborted": ("branch", "stage"), "commit.blocked": ("branch", "hook"),
              "commit.message_edit": ("seconds",), "*": ("src",),
              "git.command": ("command", "exit", "hooks", "editor_s", "no_verify", "nested")}
    order = 30
    state_version = 3  # 3: --no-verify commits' attempts and editor time from trace2
    result_uses_now = False  # its sections are kept with its state
    state_type = HesitationState
    imported_in_any_order = True  # imported history is left out

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.top = context.integer(self.name, "top", 10)
        self.message_edit = Reservoir()
        self.staged = Reservoir()
        self.by_branch: dict[str | None, list[int]] = {}
        self.by_hour = [[0] * len(COUNTED) for _ in range(24)]
        self.aborted_by_stage: Counter[str] = Counter()
        self.blocked_by_hook: Counter[str] = Counter()
        # The rollups' distributions: when there are any, quantiles come from these with the raw values
        # added, within QuantileSketch.RELATIVE_ERROR.
        self.rolled_edit, self.rolled_staged = QuantileSketch(), QuantileSketch()
        self.from_trace2 = [0, 0]  # TRACE2_ATTEMPTS, TRACE2_EDITS: said in the section

    def feed(self, events: Sequence) -> None:
        by_branch, by_hour, column_of = self.by_branch, self.by_hour, _COLUMN
        add_edit, add_staged = self.message_edit.add, self.staged.add
        # The local hour from the UTC datetime's fields: event.t costs several times more. Offsets are whole
        # minutes in practice (parse_offset, every time zone since 1972); any other goes the exact, slow way.
        offset_min, whole_minutes = self.context.utc_offset_s // 60, self.context.utc_offset_s % 60 == 0
        local_hour = self.context.local_hour
        for event in events:
            if event.src == IMPORTED:
                continue
            data = event.data
            column = column_of.get(event.type)
            if column is not None:
                branch = data.branch
            elif event.type == "git.command":
                if not (data.no_verify and data.command == "commit" and self._unseen(data, add_edit)):
                    continue
                column, branch = ATTEMPT, NO_BRANCH  # an attempt the hooks did not see, counted as theirs are
            elif event.type == ROLLUP:
                self._rollup(data)
                continue
            else:  # commit.message_edit
                add_edit(data.seconds)
                continue
            row = by_branch.get(branch)
            if row is None:
                row = by_branch[branch] = [0] * len(COUNTED)
            row[column] += 1
            ts = event.ts
            hour = (ts.hour * 60 + ts.minute + offset_min) // 60 % 24 if whole_minutes else local_hour(event.t)
            by_hour[hour][column] += 1
            if column == CREATED:
                if data.staged_s is not None:
                    add_staged(data.staged_s)
            elif column == ABORTED:
                self.aborted_by_stage[data.stage] += 1
            elif column == BLOCKED:
                self.blocked_by_hook[data.hook] += 1

    def _unseen(self, data, add_edit) -> bool:
        """A `commit --no-verify` command the hooks did not see: its editor time added; whether it is an
        attempt to count (it succeeded, and was run by someone, not by git itself)."""
        if data.nested or any(run.hook == ALL_HOOKS_SHIM for run in data.hooks):
            return False
        if data.editor_s is not None and data.editor_s >= MIN_EDIT_S:
            add_edit(data.editor_s)
            self.from_trace2[TRACE2_EDITS] += 1
        if data.exit:
            return False
        self.from_trace2[TRACE2_ATTEMPTS] += 1
        return True

    def _rollup(self, data) -> None:
        self.rolled_edit.merge(QuantileSketch.from_stored(data.message_edit))
        self.rolled_staged.merge(QuantileSketch.from_stored(data.staged))
        for row in data.by_branch:
            add_rows(self.by_branch, {row.branch: list(row.counts)})
        start, offset = day_start(data.day), self.context.utc_offset_s
        for utc_hour, counts in enumerate(data.by_hour):
            local = int((start + utc_hour * 3600 + offset) // 3600) % 24
            self.by_hour[local] = [a + b for a, b in zip(self.by_hour[local], counts)]
        add_counts(self.aborted_by_stage, data.aborted_by_stage)
        add_counts(self.blocked_by_hook, data.blocked_by_hook)

    def merge(self, later: HesitationAnalyzer) -> None:
        # Counts and distributions only: nothing spans events (horizon 0).
        self.message_edit.extend(later.message_edit)
        self.staged.extend(later.staged)
        self.rolled_edit.merge(later.rolled_edit)
        self.rolled_staged.merge(later.rolled_staged)
        add_rows(self.by_branch, later.by_branch)
        for mine, theirs in zip(self.by_hour, later.by_hour):
            mine[:] = [a + b for a, b in zip(mine, theirs)]
        add_counts(self.aborted_by_stage, later.aborted_by_stage)
        add_counts(self.blocked_by_hook, later.blocked_by_hook)
        self.from_trace2 = [a + b for a, b in zip(self.from_trace2, later.from_trace2)]

    def save_state(self) -> HesitationState:
        return HesitationState(self.message_edit.save(), self.staged.save(), list(self.by_branch.items()),
                               self.by_hour, dict(self.aborted_by_stage), dict(self.blocked_by_hook),
                               self.rolled_edit.save(), self.rolled_staged.save(), list(self.from_trace2))

    def load_state(self, state: HesitationState) -> None:
        self.message_edit, self.staged = Reservoir.load(state.message_edit), Reservoir.load(state.staged)
        self.by_branch = dict(state.by_branch)
        self.by_hour = state.by_hour
        self.aborted_by_stage, self.blocked_by_hook = Counter(state.aborted_by_stage), Counter(state.blocked_by_hook)
        self.rolled_edit = QuantileSketch.load(state.rolled_edit)
        self.rolled_staged = QuantileSketch.load(state.rolled_staged)
        self.from_trace2 = list(state.from_trace2)

    def result(self) -> list[AnyBlock]:
        blocks: list[AnyBlock] = [self._summary(), self._durations(), self._stops(), self._branch_table(),
                                  self._hour_table()]
        if any(self.from_trace2):  # only when trace2 added some: a log without them reads as before
            blocks.insert(1, self._from_trace2())
        return blocks

    def _totals(self) -> list[int]:
        return [sum(row[i] for row in self.by_hour) for i in range(len(COUNTED))]

    def _summary(self) -> Facts:
        return Facts(id="summary", title="Commit outcomes",
                     items=[Fact(label, value) for label, value in zip(COLUMNS, self._totals(), strict=True)])

    def _from_trace2(self) -> Facts:
        return Facts(id="from_trace2", title="Of these, commits made with --no-verify, from git's trace2",
                     items=[Fact("attempts", self.from_trace2[TRACE2_ATTEMPTS]),
                            Fact("message edits", self.from_trace2[TRACE2_EDITS])])

    def _durations(self) -> Table:
        rows = [_distribution("message edit", self.message_edit, self.rolled_edit),
                _distribution("stage to commit", self.staged, self.rolled_staged)]
        return Table(id="durations", title="Message editing and stage-to-commit time (seconds)",
                     columns=["measure", "count", "p50_s", "p90_s", "max_s"], rows=rows)

    def _stops(self) -> Table:
        rows: list[list[Cell]] = [["aborted", stage, n] for stage, n in _by_count(self.aborted_by_stage)]
        rows += [["blocked", hook, n] for hook, n in _by_count(self.blocked_by_hook)]
        return Table(id="stops", title="Commits that did not land: aborted by stage, blocked by hook",
                     columns=["outcome", "where", "count"], rows=rows)

    def _branch_table(self) -> Table:
        labelled: dict[str, list[int]] = {}
        for branch, row in self.by_branch.items():  # None and a branch named "(detached)" share a row
            into = labelled.setdefault(DETACHED if branch is None else branch, [0] * len(COUNTED))
            for i, n in enumerate(row):
                into[i] += n
        ranked = sorted(labelled.items(), key=lambda item: (-sum(item[1]), -item[1][0], item[0]))
        rows: list[list[Cell]] = [[branch, *row] for branch, row in ranked[: self.top]]
        rest = ranked[self.top:]
        if rest:
            rows.append([OTHER, *(sum(row[i] for _, row in rest) for i in range(len(COUNTED)))])
        return Table(id="by_branch", title="By branch", columns=["branch", *COLUMNS], rows=rows,
                     total_rows=len(ranked))

    def _hour_table(self) -> Table:
        rows: list[list[Cell]] = [[f"{hour:02d}", *counts] for hour, counts in enumerate(self.by_hour)]
        return Table(id="by_hour", title="By local hour of day", columns=["hour", *COLUMNS], rows=rows)


def _distribution(label: str, values: Reservoir, rolled: QuantileSketch) -> list[Cell]:
    if not rolled.count:
        return [label, values.count, rounded(values.quantile(50)), rounded(values.quantile(90)), rounded(values.max)]
    sketch = QuantileSketch()  # rollups and raw values together, within the sketch's error
    sketch.merge(rolled)
    for value in values.values:
        sketch.add(value)
    count = rolled.count + values.count
    high = max(m for m in (rolled.max, values.max) if m is not None)
    return [label, count, rounded(sketch.quantile(50)), rounded(sketch.quantile(90)), rounded(high)]


def _by_count(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


@hookimpl
def gitobs_analyzers() -> list[type[Analyzer]]:
    return [HesitationAnalyzer]
