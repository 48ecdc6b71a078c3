"""GitButler stacks over time: each stack's life (created, applied, unapplied, deleted, renamed, moved,
commits, conflicts, files it owns), each branch's life (created, reviewed, archived), stacks created and
applied per week, and the mix of operations in GitButler's operations log."""

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
    percentile,
    rounded,
    top_k,
    utc_text,
)

UNPLACED = 1 << 30  # a branch seen only by name (its creation was outside the window): listed last
APPLIED, UNAPPLIED, DELETED = "applied", "unapplied", "deleted"
HOUR_S = 3600.0


class Stack:
    """What the log says about one stack. `branches` holds its live branches (name -> position); `gone`, the
    names it had before its latest run of deletions, so a deleted stack still has a name in the table."""

    __slots__ = ("id", "branches", "gone", "deleting", "state", "created", "applied", "unapplied", "deleted",
                 "renames", "commits", "first", "last", "moves", "conflicts", "conflicted", "files", "paths")

    def __init__(self, stack_id: str, t: float) -> None:
        self.id = stack_id
        self.branches: dict[str, int] = {}
        self.gone: list[str] = []
        self.deleting = False  # within a run of deletions: a whole stack goes one branch at a time
        self.state = APPLIED
        self.created = self.applied = self.unapplied = self.deleted = self.renames = self.commits = 0
        self.moves = 0  # branches moved into or out of it
        self.conflicts = 0  # times GitButler unapplied it on a conflict
        self.conflicted = 0  # commits on it GitButler marked conflicted
        self.files: int | None = None  # files with hunks assigned to it, latest (GitButler's database)
        self.paths: list[str] = []  # those files (the first 500), latest
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
    more: list[int] = []  # moves, conflicts, conflicted
    files: int | None = None
    paths: list[str] = []


class LifeState(msgspec.Struct, array_like=True):
    stack: str
    name: str
    created: float | None
    reviewed: float | None
    review: int
    archived: float | None
    lifetime: float | None
    to_review: float | None = None


class VBranchesState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a VBranchesAnalyzer."""

    stacks: list[StackState]
    per_week: dict[int, list[int]]
    operations: dict[str, int]
    lives: list[LifeState] = []
    to_review: list[float] = []
    ci_failures: int = 0


class Life:
    """One branch's life as far as the log tells it: created, first reviewed, archived."""

    __slots__ = ("archived", "created", "lifetime", "name", "review", "reviewed", "stack", "to_review")

    def __init__(self, stack: str, name: str) -> None:
        self.stack, self.name = stack, name
        self.created: float | None = None
        self.reviewed: float | None = None
        self.review = 0  # the latest review's number
        self.archived: float | None = None
        self.lifetime: float | None = None  # seconds from created to archived, as the scanner measured it
        self.to_review: float | None = None  # seconds from created to the first review, likewise


class VBranchesAnalyzer(Analyzer):
    name = "vbranches"
    title = "GitButler stacks"
    consumes = ("vbranch.*", "gitbutler.op")
    fields = {"vbranch.*": ("stack", "branch", "position", "applied", "from_", "to", "commits", "by", "conflicted",
                            "from_stack", "to_stack", "lifetime_s", "number", "after_s", "owned_files", "failed",
                            "files"),
              "gitbutler.op": ("operation",)}
    order = 50
    state_version = 4
    state_type = VBranchesState
    result_uses_now = False  # its sections are kept with its state

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.top = context.integer(self.name, "top", 20)
        self.weeks = context.integer(self.name, "weeks", 26)
        self.stacks: dict[str, Stack] = {}
        self.per_week: dict[int, list[int]] = {}  # local Monday (day number) -> [stacks created, applied]
        self.operations: dict[str, int] = {}
        self.lives: dict[tuple[str, str], Life] = {}  # (stack, branch) -> its life
        self.to_review: list[float] = []  # seconds from a branch's creation to its first review
        self.ci_failures = 0  # times a branch's CI checks came back with failures
        self.handlers = {"vbranch.created": self._created, "vbranch.applied": self._applied,
                         "vbranch.unapplied": self._unapplied, "vbranch.deleted": self._deleted,
                         "vbranch.renamed": self._renamed, "vbranch.updated": self._updated,
                         "vbranch.archived": self._archived, "vbranch.review": self._review,
                         "vbranch.files": self._files, "vbranch.ci": self._ci}

    def feed(self, events: Sequence) -> None:
        operations, handlers = self.operations, self.handlers
        for event in events:
            data = event.data
            if event.type == "gitbutler.op":
                operations[data.operation] = operations.get(data.operation, 0) + 1
                continue
            t = event.t
            if event.type == "vbranch.moved":
                self._moved(data, t)
                continue
            handler = handlers.get(event.type)
            if handler is None:  # a vbranch type of a newer gitobs
                continue
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
            handler(stack, data, t)

    def _week(self, t: float) -> list[int]:
        day = int((t + self.context.utc_offset_s) // DAY_S)
        monday = day - Context.weekday(day)
        cell = self.per_week.get(monday)
        if cell is None:
            cell = self.per_week[monday] = [0, 0]
        return cell

    def _stack(self, stack_id: str, t: float) -> Stack:
        stack = self.stacks.get(stack_id)
        if stack is None:
            stack = self.stacks[stack_id] = Stack(stack_id, t)
        stack.first, stack.last = min(stack.first, t), max(stack.last, t)
        return stack

    def _life(self, stack_id: str, branch: str) -> Life:
        life = self.lives.get((stack_id, branch))
        if life is None:
            life = self.lives[(stack_id, branch)] = Life(stack_id, branch)
        return life

    def _created(self, stack: Stack, data, t: float) -> None:
        if not stack.branches:  # the stack (re)appears with its first branch
            self._week(t)[0] += 1
            stack.state = APPLIED if data.applied else UNAPPLIED
        stack.created += 1
        stack.branches[data.branch] = data.position
        life = self._life(stack.id, data.branch)
        if life.created is None:
            life.created = t

    def _moved(self, data, t: float) -> None:
        """A branch that left one stack for another: its life goes with it."""
        source, target = self._stack(data.from_stack, t), self._stack(data.to_stack, t)
        source.moves += 1
        target.moves += 1
        source.branches.pop(data.branch, None)
        if not source.branches:
            source.gone = source.gone or [data.branch]
            source.state = DELETED
        if not target.branches:
            target.state = APPLIED
        target.branches[data.branch] = data.position
        life = self.lives.pop((data.from_stack, data.branch), None)
        if life is not None and (data.to_stack, data.branch) not in self.lives:
            life.stack = data.to_stack
            self.lives[(data.to_stack, data.branch)] = life

    def _archived(self, stack: Stack, data, t: float) -> None:
        life = self._life(stack.id, data.branch)
        if life.archived is None:
            life.archived = t
            life.lifetime = data.lifetime_s

    def _review(self, stack: Stack, data, t: float) -> None:
        life = self._life(stack.id, data.branch)
        if life.reviewed is None:
            life.reviewed, life.to_review = t, data.after_s
            if data.after_s is not None:
                self.to_review.append(data.after_s)
        life.review = data.number

    def _files(self, stack: Stack, data, t: float) -> None:
        stack.files = data.owned_files
        stack.paths = [change.path for change in data.files]

    def _ci(self, stack: Stack, data, t: float) -> None:
        if data.failed:
            self.ci_failures += 1

    def _applied(self, stack: Stack, data, t: float) -> None:
        stack.applied += 1
        stack.state = APPLIED
        stack.branches.setdefault(data.branch, data.position)
        self._week(t)[1] += 1

    def _unapplied(self, stack: Stack, data, t: float) -> None:
        stack.unapplied += 1
        if data.by == "conflict":
            stack.conflicts += 1
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
        stack.conflicted += data.conflicted
        if stack.state != DELETED:
            stack.branches.setdefault(data.branch, UNPLACED)

    def save_state(self) -> VBranchesState:
        return VBranchesState(
            stacks=[StackState(s.id, s.branches, s.gone, s.deleting, s.state,
                               [s.created, s.applied, s.unapplied, s.deleted, s.renames, s.commits], s.first, s.last,
                               [s.moves, s.conflicts, s.conflicted], s.files, s.paths)
                    for s in self.stacks.values()],
            per_week=self.per_week, operations=self.operations,
            lives=[LifeState(life.stack, life.name, life.created, life.reviewed, life.review, life.archived,
                             life.lifetime, life.to_review) for life in self.lives.values()],
            to_review=self.to_review, ci_failures=self.ci_failures)

    def load_state(self, state: VBranchesState) -> None:
        for saved in state.stacks:
            stack = self.stacks[saved.id] = Stack(saved.id, saved.first)
            stack.branches, stack.gone, stack.deleting, stack.state = (saved.branches, saved.gone, saved.deleting,
                                                                      saved.state)
            (stack.created, stack.applied, stack.unapplied, stack.deleted, stack.renames,
             stack.commits) = saved.counts
            stack.last = saved.last
            stack.moves, stack.conflicts, stack.conflicted = saved.more or [0, 0, 0]
            stack.files, stack.paths = saved.files, saved.paths
        self.per_week, self.operations = state.per_week, state.operations
        for saved_life in state.lives:
            life = self.lives[(saved_life.stack, saved_life.name)] = Life(saved_life.stack, saved_life.name)
            (life.created, life.reviewed, life.review, life.archived, life.lifetime,
             life.to_review) = (saved_life.created, saved_life.reviewed, saved_life.review, saved_life.archived,
                                saved_life.lifetime, saved_life.to_review)
        self.to_review, self.ci_failures = state.to_review, state.ci_failures

    def result(self) -> list[AnyBlock]:
        if not self.stacks and not self.operations:
            return [Note(id="not_seen", title="GitButler", text=(
                "GitButler was not seen: the log has no vbranch.* or gitbutler.op events. gitobs reads "
                "GitButler's files on every scan once the repository has a gitbutler/ storage directory."))]
        return [self._summary(), self._stacks(), self._lane_files(), self._lives(), self._per_week(),
                self._operations(), Note(
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
            Fact("branch moves", sum(s.moves for s in stacks) // 2),
            Fact("unapplied on a conflict", sum(s.conflicts for s in stacks)),
            Fact("conflicted commits", sum(s.conflicted for s in stacks)),
            Fact("branches reviewed", sum(1 for life in self.lives.values() if life.reviewed is not None)),
            Fact("median hours to review", _hours(percentile(self.to_review, 50))),
            Fact("branches archived", len(lifetimes := [life.lifetime for life in self.lives.values()
                                                          if life.archived is not None])),
            Fact("median lifetime hours", _hours(percentile([s for s in lifetimes if s is not None], 50))),
            Fact("CI failures", self.ci_failures),
        ])

    def _stacks(self) -> Table:
        ordered = sorted(self.stacks.values(), key=lambda s: (s.first, s.id))
        shown = ordered[-self.top:] if self.top > 0 else []
        rows: list[list[Cell]] = [
            [s.id[:8], ", ".join(s.names()), s.state, s.created, s.applied, s.unapplied, s.deleted, s.renames,
             s.commits, utc_text(s.first), utc_text(s.last), s.moves, s.conflicts, s.files] for s in shown]
        return Table(id="stacks", title="Stacks by first seen, latest (created and deleted count branches; "
                                        "applied and unapplied, the whole stack; conflicts, the times GitButler "
                                        "unapplied it on one; files, those it owns uncommitted hunks in)",
                     columns=["stack", "branches", "state", "created", "applied", "unapplied", "deleted",
                              "renames", "commits", "first_seen", "last_seen", "moves", "conflicts", "files"],
                     rows=rows, total_rows=len(ordered))

    def _lane_files(self) -> Table:
        """Each live stack's files, as its latest vbranch.files named them: the heatmap's paths, by lane."""
        owning = sorted((s for s in self.stacks.values() if s.paths and s.state != DELETED),
                        key=lambda s: (s.first, s.id))
        rows: list[list[Cell]] = []
        for stack in owning[-self.top:] if self.top > 0 else []:
            names = ", ".join(stack.names())
            rows += [[stack.id[:8], names, path] for path in stack.paths[:self.top]]
        return Table(id="lane_files", title="Files each stack owns uncommitted hunks in, latest (GitButler's "
                                            "hunk assignments; the first of each stack's files)",
                     columns=["stack", "branches", "file"], rows=rows,
                     total_rows=sum(len(s.paths) for s in owning))

    def _lives(self) -> Table:
        """Branches that were reviewed or archived: created -> reviewed -> archived."""
        lives = [life for life in self.lives.values() if life.reviewed is not None or life.archived is not None]
        lives.sort(key=lambda life: (life.created or life.reviewed or life.archived or 0, life.stack, life.name))
        shown = lives[-self.top:] if self.top > 0 else []
        rows: list[list[Cell]] = [
            [life.stack[:8], life.name, _when(life.created), _when(life.reviewed), life.review or None,
             _when(life.archived), _hours(life.to_review), _hours(life.lifetime)]
            for life in shown]
        return Table(id="lifetimes", title="Branches reviewed or archived, by creation (created as gitobs saw it; "
                                           "hours to review and lifetime, from creation to review and to "
                                           "archived, only for branches gitobs saw created)",
                     columns=["stack", "branch", "created", "reviewed", "review", "archived", "hours_to_review",
                              "lifetime_hours"], rows=rows, total_rows=len(lives))

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




def _when(t: float | None) -> str | None:
    return None if t is None else utc_text(t)


def _hours(seconds: float | None) -> float | None:
    return rounded(None if seconds is None else seconds / HOUR_S, 2)


@hookimpl
def gitobs_analyzers() -> list[type]:
    return [VBranchesAnalyzer]
