"""GitButler stacks over time: each stack's life (created, applied, unapplied, deleted, renamed, commits),
stacks created and applied per week, and the mix of operations in GitButler's operations log."""

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
    Table,
    hookimpl,
    top_k,
    utc_text,
)

UNPLACED = 1 << 30  # a branch seen only by name (its creation was outside the window): listed last
APPLIED, UNAPPLIED, DELETED = "applied", "unapplied", "deleted"


class Stack:
    """What the log says about one stack. `branches` holds its live branches (name -> position); `gone`, the
    names it had before its latest run of deletions, so a deleted stack still has a name in the table."""

    __slots__ = ("id", "branches", "gone", "deleting", "state", "created", "applied", "unapplied", "deleted",
                 "renames", "commits", "first", "last")

    def __init__(self, stack_id: str, t: float) -> None:
        self.id = stack_id
        self.branches: dict[str, int] = {}
        self.gone: list[str] = []
        self.deleting = False  # within a run of deletions: a whole stack goes one branch at a time
        self.state = APPLIED
        self.created = self.applied = self.unapplied = self.deleted = self.renames = self.commits = 0
        self.first = self.last = t

    def names(self) -> list[str]:
        if not self.branches:
            return self.gone
        return sorted(self.branches, key=lambda name: (self.branches[name], name))


class StackState(msgspec.Struct, array_like=True):
    id: str
    branches: dict[str, int]
    gone: list[str]
    deleting: bool
    state: str
    counts: list[int]  # created, applied, unapplied, deleted, renames, commits
    first: float
    last: float


class VBranchesState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a VBranchesAnalyzer."""

    stacks: list[StackState]
    per_week: dict[int, list[int]]
    operations: dict[str, int]


class VBranchesAnalyzer(Analyzer):
    name = "vbranches"
    title = "GitButler stacks"
    consumes = ("vbranch.*", "gitbutler.op")
    fields = {"vbranch.*": ("stack", "branch", "position", "applied", "from_", "to", "commits"),
              "gitbutler.op": ("operation",)}
    order = 50
    state_version = 1
    state_type = VBranchesState

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.top = context.integer(self.name, "top", 20)
        self.weeks = context.integer(self.name, "weeks", 26)
        self.stacks: dict[str, Stack] = {}
        self.per_week: dict[int, list[int]] = {}  # local Monday (day number) -> [stacks created, applied]
        self.operations: dict[str, int] = {}
        self.handlers = {"vbranch.created": self._created, "vbranch.applied": self._applied,
                         "vbranch.unapplied": self._unapplied, "vbranch.deleted": self._deleted,
                         "vbranch.renamed": self._renamed, "vbranch.updated": self._updated}

    def feed(self, events: Sequence) -> None:
        operations, handlers = self.operations, self.handlers
        for event in events:
            data = event.data
            if event.type == "gitbutler.op":
                operations[data.operation] = operations.get(data.operation, 0) + 1
                continue
            t = event.t
            stack = self.stacks.get(data.stack)
            if stack is None:
                stack = self.stacks[data.stack] = Stack(data.stack, t)
            elif t < stack.first:
                stack.first = t
            elif t > stack.last:
                stack.last = t
            kind = event.type
            if kind != "vbranch.deleted":
                stack.deleting = False
            handlers[kind](stack, data, t)

    def _week(self, t: float) -> list[int]:
        day = int((t + self.context.utc_offset_s) // DAY_S)
        monday = day - Context.weekday(day)
        cell = self.per_week.get(monday)
        if cell is None:
            cell = self.per_week[monday] = [0, 0]
        return cell

    def _created(self, stack: Stack, data, t: float) -> None:
        if not stack.branches:  # the stack (re)appears with its first branch
            self._week(t)[0] += 1
            stack.state = APPLIED if data.applied else UNAPPLIED
        stack.created += 1
        stack.branches[data.branch] = data.position

    def _applied(self, stack: Stack, data, t: float) -> None:
        stack.applied += 1
        stack.state = APPLIED
        stack.branches.setdefault(data.branch, data.position)
        self._week(t)[1] += 1

    def _unapplied(self, stack: Stack, data, t: float) -> None:
        stack.unapplied += 1
        stack.state = UNAPPLIED
        stack.branches.setdefault(data.branch, data.position)

    def _deleted(self, stack: Stack, data, t: float) -> None:
        stack.deleted += 1
        if not stack.deleting:
            stack.gone = stack.names() or [data.branch]
            stack.deleting = True
        stack.branches.pop(data.branch, None)
        if not stack.branches:
            stack.state = DELETED

    def _renamed(self, stack: Stack, data, t: float) -> None:
        stack.renames += 1
        stack.branches[data.to] = stack.branches.pop(data.from_, UNPLACED)

    def _updated(self, stack: Stack, data, t: float) -> None:
        stack.commits += data.commits
        if stack.state != DELETED:
            stack.branches.setdefault(data.branch, UNPLACED)

    def save_state(self) -> VBranchesState:
        return VBranchesState(
            stacks=[StackState(s.id, s.branches, s.gone, s.deleting, s.state,
                               [s.created, s.applied, s.unapplied, s.deleted, s.renames, s.commits], s.first, s.last)
                    for s in self.stacks.values()],
            per_week=self.per_week, operations=self.operations)

    def load_state(self, state: VBranchesState) -> None:
        for saved in state.stacks:
            stack = self.stacks[saved.id] = Stack(saved.id, saved.first)
            stack.branches, stack.gone, stack.deleting, stack.state = (saved.branches, saved.gone, saved.deleting,
                                                                      saved.state)
            (stack.created, stack.applied, stack.unapplied, stack.deleted, stack.renames,
             stack.commits) = saved.counts
            stack.last = saved.last
        self.per_week, self.operations = state.per_week, state.operations

    def result(self) -> list[AnyBlock]:
        if not self.stacks and not self.operations:
            return [Note(id="not_seen", title="GitButler", text=(
                "GitButler was not seen: the log has no vbranch.* or gitbutler.op events. gitobs reads "
                "GitButler's files on every scan once the repository has a gitbutler/ storage directory."))]
        return [self._summary(), self._stacks(), self._per_week(), self._operations(), Note(
            id="baseline", title="Stacks that existed before", text=(
                "The first scan that finds GitButler reports every stack that already exists as created, "
                "and up to 1000 earlier operations: the week of that scan counts them too."))]

    def _summary(self) -> Facts:
        stacks = self.stacks.values()
        return Facts(id="summary", title="Stacks", items=[
            Fact("stacks", len(self.stacks)),
            Fact("applied at the end", sum(1 for s in stacks if s.state == APPLIED)),
            Fact("commits on stacks", sum(s.commits for s in stacks)),
            Fact("renames", sum(s.renames for s in stacks)),
            Fact("operations", sum(self.operations.values())),
        ])

    def _stacks(self) -> Table:
        ordered = sorted(self.stacks.values(), key=lambda s: (s.first, s.id))
        shown = ordered[-self.top:] if self.top > 0 else []
        rows: list[list[Cell]] = [
            [s.id[:8], ", ".join(s.names()), s.state, s.created, s.applied, s.unapplied, s.deleted, s.renames,
             s.commits, utc_text(s.first), utc_text(s.last)] for s in shown]
        return Table(id="stacks", title="Stacks by first seen, latest (created and deleted count branches; "
                                        "applied and unapplied, the whole stack)",
                     columns=["stack", "branches", "state", "created", "applied", "unapplied", "deleted",
                              "renames", "commits", "first_seen", "last_seen"], rows=rows, total_rows=len(ordered))

    def _per_week(self) -> Table:
        shown = sorted(self.per_week)[-self.weeks:] if self.weeks > 0 else []
        rows: list[list[Cell]] = [[Context.day_text(monday), *self.per_week[monday]] for monday in shown]
        return Table(id="per_week", title="Stacks created and applied per week (local, from Monday)",
                     columns=["week", "created", "applied"], rows=rows, total_rows=len(self.per_week))

    def _operations(self) -> Table:
        shown, _ = top_k(self.operations, self.top)
        return Table(id="operations", title="GitButler operations (operations log)",
                     columns=["operation", "count"], rows=[[name, int(count)] for name, count in shown],
                     total_rows=len(self.operations))




@hookimpl
def gitobs_analyzers() -> list[type]:
    return [VBranchesAnalyzer]
