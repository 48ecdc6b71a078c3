"""Reverted work: commits reverted (and how old they were), commits abandoned by a reset or a rebase, and
uncommitted edits thrown away, by file."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import msgspec

from gitobs.plugin import (
    Analyzer,
    AnyBlock,
    Cell,
    Context,
    Fact,
    Facts,
    Reservoir,
    ReservoirState,
    Table,
    add_rows,
    hookimpl,
    rounded,
    utc_text,
)

DETACHED = "(detached)"
OTHER = "(other)"
PATHS_HELD = 20_000  # discarded paths counted one by one; beyond this the smallest half go to "(other)"


class RevertsState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a RevertsAnalyzer (`recent` in its heap's order)."""

    reverted: int
    ages: ReservoirState
    recent: list[tuple[int | float, int, int, str, str, int | float | None, str | None]]
    abandoned_by: dict[str, list[int]]
    abandoned_branch: dict[str, list[int]]
    discarded_how: dict[str, list[int]]
    files_held: dict[str, list[int]]
    files_folded: list[int]
    files_folded_paths: int


class RevertsAnalyzer(Analyzer):
    name = "reverts"
    title = "Reverted, abandoned and discarded work"
    consumes = ("commit.reverted", "commit.abandoned", "edit.discarded")
    fields = {"commit.reverted": ("seq", "sha", "reverted", "age_s", "branch"),
              "commit.abandoned": ("count", "shas", "by", "branch"), "edit.discarded": ("files", "how")}
    order = 40
    state_version = 1
    result_uses_now = False  # its sections are kept with its state
    state_type = RevertsState
    merges_in_any_order = True  # counts, and the latest by time: merge keeps log order, whatever the times

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.top = context.integer(self.name, "top", 10)
        self.reverted = 0
        self.ages = Reservoir()
        self.recent: list[tuple] = []  # min-heap of the `top` latest reverts: (t, seq, n, sha, ...)
        self.abandoned_by: dict[str, list[int]] = {}  # by -> [events, commits]
        self.abandoned_branch: dict[str, list[int]] = {}  # branch -> [events, commits]
        self.discarded_how: dict[str, list[int]] = {}  # how -> [events, files, lines]
        self.files = DiscardedFiles(PATHS_HELD)

    def feed(self, events: Sequence) -> None:
        for event in events:
            kind = event.type
            if kind == "edit.discarded":
                self._discarded(event.data)
            elif kind == "commit.reverted":
                self._reverted(event)
            elif kind == "commit.abandoned":
                self._abandoned(event.data)

    def _reverted(self, event) -> None:
        data = event.data
        self.reverted += 1
        if data.age_s is not None:
            self.ages.add(data.age_s)
        # n (unique) settles ties before the tuple comparison reaches fields that may be None
        entry = (event.t, event.seq, self.reverted, data.sha, data.reverted, data.age_s, data.branch)
        if len(self.recent) < self.top:
            heapq.heappush(self.recent, entry)
        elif self.top > 0 and entry[:3] > self.recent[0][:3]:
            heapq.heapreplace(self.recent, entry)

    def _abandoned(self, data) -> None:
        commits = max(data.count, len(data.shas))
        for table, key in ((self.abandoned_by, data.by), (self.abandoned_branch, _label(data.branch))):
            row = table.setdefault(key, [0, 0])
            row[0] += 1
            row[1] += commits

    def _discarded(self, data) -> None:
        lines = 0
        for change in data.files:
            lost = change.added + change.deleted
            lines += lost
            self.files.add(change.path, lost)
        row = self.discarded_how.setdefault(data.how, [0, 0, 0])
        row[0] += 1
        row[1] += len(data.files)
        row[2] += lines

    def merge(self, later: RevertsAnalyzer) -> None:
        # Counts, and the latest reverts of both (horizon 0). A later revert's tie-break number continues
        # this instance's, as one instance would have numbered it.
        shifted = [(*entry[:2], entry[2] + self.reverted, *entry[3:]) for entry in later.recent]
        self.recent = heapq.nlargest(self.top, [*self.recent, *shifted], key=lambda entry: entry[:3])
        heapq.heapify(self.recent)
        self.reverted += later.reverted
        self.ages.extend(later.ages)
        add_rows(self.abandoned_by, later.abandoned_by)
        add_rows(self.abandoned_branch, later.abandoned_branch)
        add_rows(self.discarded_how, later.discarded_how)
        self.files.merge(later.files)

    def save_state(self) -> RevertsState:
        files = self.files
        return RevertsState(self.reverted, self.ages.save(), self.recent, self.abandoned_by, self.abandoned_branch,
                            self.discarded_how, files.held, files.folded, files.folded_paths)

    def load_state(self, state: RevertsState) -> None:
        self.reverted, self.ages, self.recent = state.reverted, Reservoir.load(state.ages), state.recent
        self.abandoned_by, self.abandoned_branch = state.abandoned_by, state.abandoned_branch
        self.discarded_how = state.discarded_how
        self.files.held, self.files.folded, self.files.folded_paths = (state.files_held, state.files_folded,
                                                                       state.files_folded_paths)

    def result(self) -> list[AnyBlock]:
        return [self._summary(), self._recent(), self._abandoned_by(), self._abandoned_by_branch(),
                self._how_table(), self._files_table()]

    def _summary(self) -> Facts:
        hours = [None if v is None else rounded(v / 3600) for v in
                 (self.ages.quantile(50), self.ages.quantile(90), self.ages.max)]
        return Facts(id="summary", title="Reverted and thrown away", items=[
            Fact("reverted commits", self.reverted),
            Fact("revert age p50", hours[0], "h"),
            Fact("revert age p90", hours[1], "h"),
            Fact("revert age max", hours[2], "h"),
            Fact("abandoned commits", sum(row[1] for row in self.abandoned_by.values())),
            Fact("discards", sum(row[0] for row in self.discarded_how.values())),
            Fact("lines discarded", sum(row[2] for row in self.discarded_how.values())),
        ])

    def _recent(self) -> Table:
        latest = sorted(self.recent, key=lambda entry: (-entry[0], -entry[1], -entry[2]))
        rows: list[list[Cell]] = [
            [utc_text(t), sha[:7], reverted[:7], None if age is None else rounded(age / 3600), _label(branch)]
            for t, _, _, sha, reverted, age, branch in latest]
        return Table(id="recent_reverts", title="Latest reverts",
                     columns=["time", "sha", "reverted", "age_h", "branch"], rows=rows, total_rows=self.reverted)

    def _abandoned_by(self) -> Table:
        return Table(id="abandoned_by", title="Abandoned commits by cause", columns=["by", "events", "commits"],
                     rows=[[key, *row] for key, row in _ranked(self.abandoned_by)])

    def _abandoned_by_branch(self) -> Table:
        return Table(id="abandoned_by_branch", title="Abandoned commits by branch",
                     columns=["branch", "events", "commits"],
                     rows=_top_with_rest(_ranked(self.abandoned_branch), self.top),
                     total_rows=len(self.abandoned_branch))

    def _how_table(self) -> Table:
        return Table(id="discarded_by_how", title="Discarded edits by how",
                     columns=["how", "events", "files", "lines"],
                     rows=[[how, *row] for how, row in _ranked(self.discarded_how, column=2)])

    def _files_table(self) -> Table:
        ranked = sorted(self.files.held.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        rows = _top_with_rest(ranked, self.top, extra=self.files.folded)
        return Table(id="discarded_files", title="Discarded edits by file", columns=["path", "lines", "times"],
                     rows=rows, total_rows=len(ranked) + self.files.folded_paths)


class DiscardedFiles:
    """path -> [lines lost, times discarded], holding at most `capacity` paths: when full, the smaller half
    (by lines, then times, then path) is folded into one total, so memory stays bounded and the choice
    depends on the counts alone."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held: dict[str, list[int]] = {}
        self.folded = [0, 0]
        self.folded_paths = 0  # paths folded away; one that comes back later is counted again

    def add(self, path: str, lines: int) -> None:
        row = self.held.get(path)
        if row is None:
            if len(self.held) >= self.capacity:
                self._fold()
            row = self.held[path] = [0, 0]
        row[0] += lines
        row[1] += 1

    def merge(self, later: DiscardedFiles) -> None:
        """Exact while the paths of both fit; past that, folded as one instance would fold, at the end."""
        for path, (lines, times) in later.held.items():
            row = self.held.setdefault(path, [0, 0])
            row[0] += lines
            row[1] += times
        self.folded = [a + b for a, b in zip(self.folded, later.folded)]
        self.folded_paths += later.folded_paths
        if len(self.held) > self.capacity:
            self._fold()

    def _fold(self) -> None:
        ranked = sorted(self.held.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        keep = self.capacity // 2
        for _, (lines, times) in ranked[keep:]:
            self.folded[0] += lines
            self.folded[1] += times
        self.folded_paths += len(ranked) - keep
        self.held = dict(ranked[:keep])


def _ranked(table: dict[str, list[int]], column: int = 1) -> list[tuple[str, list[int]]]:
    return sorted(table.items(), key=lambda item: (-item[1][column], -item[1][0], item[0]))


def _top_with_rest(ranked: list[tuple[str, list[int]]], top: int, extra: list[int] | None = None) -> list[list[Cell]]:
    """The first `top` rows, then one "(other)" row summing the rest (and `extra`, counts already folded)."""
    rows: list[list[Cell]] = [[key, *row] for key, row in ranked[:top]]
    rest = [row for _, row in ranked[top:]]
    if extra is not None and any(extra):
        rest.append(extra)
    if rest:
        rows.append([OTHER, *(sum(column) for column in zip(*rest, strict=True))])
    return rows


def _label(branch: str | None) -> str:
    return DETACHED if branch is None else branch




@hookimpl
def gitobs_analyzers() -> list[type[Analyzer]]:
    return [RevertsAnalyzer]
