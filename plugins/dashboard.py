"""Built-in analyzer `dashboard`: the rows the HTML report's filters work on, per local day, hour, branch and
source (recorded here, or imported history) (commits, lines, discards) and per day, branch, source and file
(commits, lines).

Its blocks are datasets (ids starting with "dataset"): text and markdown leave the section out, JSON keeps it
as data, and `--format html` embeds it in the page for the period and branch filters. Bounded: the state
keeps the newest days that hold at most HELD_ROWS rows of each kind (the section says from which day it is
complete; between cuts it may hold up to SLACK times that); the page gets the TOP_PATHS busiest files by
name, the others summed per day and branch in rows whose path is null, and at most SHOWN_ROWS rows of each
kind, newest days first.

Merge commits count as commits of 0 lines (code-maat's convention: the changes they bring were counted
where they were made).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from typing import ClassVar

import msgspec

from gitobs.plugin import (
    IMPORTED,
    Analyzer,
    AnyBlock,
    Context,
    Fact,
    Facts,
    Table,
    add_rows,
    hookimpl,
    top_k,
)

HELD_ROWS = 20_000  # rows of each kind kept in the state: the newest days that hold at most this many
SLACK = 1.25  # ... cut once past this many times that
SHOWN_ROWS = 15_000  # rows of each kind put in the page (about 40 bytes each in the page's JSON)
TOP_PATHS = 200  # files shown by name; the others are one null-path row per day and branch

ACTIVITY_COLUMNS = ["day", "hour", "branch", "imported", "commits", "lines", "discards", "lines discarded"]
PATH_COLUMNS = ["day", "branch", "imported", "path", "commits", "lines"]
COMMITS, LINES, DISCARDS, DISCARDED = range(4)
BEFORE_ALL = datetime.min.replace(tzinfo=timezone.utc)
ONE_HOUR = timedelta(hours=1)


class DashboardState(msgspec.Struct, array_like=True):
    """Column by column, and every file named once: half the size of a list of rows once compressed."""

    hours: list[int]  # the activity rows' local hours, each as its step from the one before
    branches: list[str | None]  # each activity row's branch
    imported: list[int]  # each activity row's 1 (imported history) or 0
    counts: list[int]  # each activity row's [commits, lines, discards, lines discarded], one after the other
    paths: list[str]  # every file in the per-file rows, sorted
    days: list[int]  # per (local day, branch, imported) of the per-file rows: its day, as a step ...
    day_branches: list[str | None]  # ... its branch ...
    day_imported: list[int]  # ... its source ...
    sizes: list[int]  # ... and how many files it has, whose rows follow one after the other in:
    places: list[int]  # each file's place in `paths`, as its step from the one before in its group (ascending)
    commits: list[int]
    lines: list[int]
    complete_from: int | None  # the first local day whose rows are all kept (None: nothing dropped)


class DashboardAnalyzer(Analyzer):
    name = "dashboard"
    title = "Dashboard data"
    order = 95  # after the built-in sections, before third-party ones
    consumes = ("commit.created", "edit.discarded")
    fields: ClassVar[dict[str, tuple[str, ...]]] = {"commit.created": ("branch", "files", "merge", "src"),
                                                    "edit.discarded": ("branch", "files", "src")}
    state_version = 4  # 4: the newest days within the bound, cut the same whatever the order (_bound)
    state_type = DashboardState
    merges_in_any_order = True  # counts per hour, day, branch and file add up, and what is kept is (_bound)
    # result_uses_now stays True: its sections are as big as its state, and kept with it they doubled the
    # report cache; they are made again from the state (20 ms for a million events).

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.activity: dict[tuple[int, str | None, int], list[int]] = {}  # (local hour, branch, imported) -> counts
        # (local day, branch, imported) -> path -> [commits, lines]: one lookup per event, then one per file
        # by its name (a str hashes once; a tuple key per file would hash again every time)
        self.paths: dict[tuple[int, str | None, int], dict[str, list[int]]] = {}
        self.path_rows = 0  # rows in self.paths, kept as they are made
        self.complete_from: int | None = None

    def feed(self, events: Sequence) -> None:
        # The hour is worked out only when an event falls outside the one being counted (events come in
        # time order): two datetime comparisons cost far less than event.t.
        offset = self.context.utc_offset_s
        activity, paths = self.activity, self.paths
        hour = day = 0
        start = end = BEFORE_ALL
        made = 0
        for event in events:
            ts = event.ts
            if not start <= ts < end:
                hour = int((ts.timestamp() + offset) // 3600)
                day = hour // 24
                start = datetime.fromtimestamp(hour * 3600 - offset, timezone.utc)
                end = start + ONE_HOUR
            data = event.data
            branch = data.branch
            imported = 1 if event.src == IMPORTED else 0
            counts = activity.get((hour, branch, imported))
            if counts is None:
                counts = activity[(hour, branch, imported)] = [0, 0, 0, 0]
            if event.type == "edit.discarded":
                counts[DISCARDS] += 1
                counts[DISCARDED] += sum(change.added + change.deleted for change in data.files)
                continue
            counts[COMMITS] += 1
            files = data.files
            if not files:
                continue
            rows = paths.get((day, branch, imported))
            if rows is None:
                rows = paths[(day, branch, imported)] = {}
            merge = data.merge
            for change in files:
                lines = 0 if merge else change.added + change.deleted
                counts[LINES] += lines
                row = rows.get(change.path)
                if row is None:
                    rows[change.path] = [1, lines]
                    made += 1
                else:
                    row[COMMITS] += 1
                    row[LINES] += lines
        self.path_rows += made
        self._bound()

    def _bound(self, exact: bool = False) -> None:
        """The oldest days go once a kind holds more than HELD_ROWS rows: a dashboard is about recent work.
        A day is kept while it and the days after it hold at most HELD_ROWS rows of each kind. Rows only ever
        come in, so a day once past that stays past it: what is kept depends on the events alone, not their
        order nor how the log was cut (merge). Cut when past SLACK times that (`exact`: at any size), so
        that the cutting is rare."""
        limit = HELD_ROWS if exact else HELD_ROWS * SLACK
        cuts = [self.complete_from] if exact else []  # rows of dropped days that came again
        if len(self.activity) > limit:
            cuts.append(_cut({key: 1 for key in self.activity}, lambda key: key[0] // 24))
        if self.path_rows > limit:
            cuts.append(_cut({key: len(rows) for key, rows in self.paths.items()}, lambda key: key[0]))
        found = [cut for cut in cuts if cut is not None]
        if found:
            self._drop_before(max(found))

    def _drop_before(self, cut: int) -> None:
        for key in [key for key in self.activity if key[0] // 24 < cut]:
            del self.activity[key]
        for key in [key for key in self.paths if key[0] < cut]:
            self.path_rows -= len(self.paths.pop(key))
        self.complete_from = cut if self.complete_from is None else max(self.complete_from, cut)

    def merge(self, later: DashboardAnalyzer) -> None:
        add_rows(self.activity, later.activity)
        for key, rows in later.paths.items():
            mine = self.paths.get(key)
            if mine is None:
                self.paths[key] = rows
            else:
                add_rows(mine, rows)
        self.path_rows = sum(len(rows) for rows in self.paths.values())
        if later.complete_from is not None:
            self.complete_from = (later.complete_from if self.complete_from is None
                                  else max(self.complete_from, later.complete_from))
        self._bound(exact=True)

    def save_state(self) -> DashboardState:
        self._bound(exact=True)
        paths = sorted({path for rows in self.paths.values() for path in rows})
        place = {path: index for index, path in enumerate(paths)}
        state = DashboardState(hours=_steps(hour for hour, _, _ in self.activity),
                               branches=[branch for _, branch, _ in self.activity],
                               imported=[imported for _, _, imported in self.activity],
                               counts=[value for row in self.activity.values() for value in row], paths=paths,
                               days=_steps(day for day, _, _ in self.paths),
                               day_branches=[branch for _, branch, _ in self.paths],
                               day_imported=[imported for _, _, imported in self.paths],
                               sizes=[len(rows) for rows in self.paths.values()], places=[], commits=[], lines=[],
                               complete_from=self.complete_from)
        for rows in self.paths.values():
            ordered = sorted(rows, key=place.__getitem__)
            state.places += _steps(place[path] for path in ordered)
            state.commits += [rows[path][COMMITS] for path in ordered]
            state.lines += [rows[path][LINES] for path in ordered]
        return state

    def load_state(self, state: DashboardState) -> None:
        hours = _sums(state.hours)
        for index, key in enumerate(zip(hours, state.branches, state.imported)):
            self.activity[key] = state.counts[4 * index:4 * index + 4]
        start = 0
        for key, size in zip(zip(_sums(state.days), state.day_branches, state.day_imported), state.sizes):
            stop = start + size
            places = _sums(state.places[start:stop])
            self.paths[key] = {state.paths[place]: [commits, lines] for place, commits, lines
                               in zip(places, state.commits[start:stop], state.lines[start:stop])}
            self.path_rows += size
            start = stop
        self.complete_from = state.complete_from

    def result(self) -> list[AnyBlock]:
        self._bound(exact=True)
        day_text = _day_texts()
        activity = sorted(self.activity.items(), key=_activity_order)
        shown_activity = [[day_text(hour // 24), hour % 24, branch, imported, *counts]
                          for (hour, branch, imported), counts in activity[-SHOWN_ROWS:]]
        shown_paths, path_total, named, folded = self._path_rows(day_text)
        notes = [Fact("activity rows", len(shown_activity), "rows"),
                 Fact("activity rows left out (oldest days)", len(activity) - len(shown_activity), "rows"),
                 Fact("file rows", len(shown_paths), "rows"),
                 Fact("file rows left out (oldest days)", path_total - len(shown_paths), "rows"),
                 Fact("files by name", named, "files"),
                 Fact("files summed in null-path rows", folded, "files")]
        if self.complete_from is not None:
            notes.append(Fact("complete from", day_text(self.complete_from)))
        return [Facts(id="dataset_notes", title="What the dashboard's rows hold", items=notes),
                Table(id="dataset_activity", title="Per day, hour, branch and source", columns=ACTIVITY_COLUMNS,
                      rows=shown_activity, total_rows=len(activity) if len(activity) > SHOWN_ROWS else None),
                Table(id="dataset_paths", title="Per day, branch, source and file", columns=PATH_COLUMNS,
                      rows=shown_paths, total_rows=path_total if path_total > SHOWN_ROWS else None)]

    def _path_rows(self, day_text: Callable[[int], str]) -> tuple[list[list], int, int, int]:
        """The newest SHOWN_ROWS rows, oldest first: per day and branch the TOP_PATHS busiest files (commits
        and lines over every row) by name, then the rest summed under a null path. Also how many rows there
        are in all, and how many files are named and summed. Rows older than those shown are only counted."""
        busy: dict[str, int] = {}
        for rows in self.paths.values():
            for path, (commits, lines) in rows.items():
                busy[path] = busy.get(path, 0) + commits + lines
        top = {path for path, _ in top_k(busy, TOP_PATHS)[0]}
        chunks: list[list[list]] = []
        shown = total = 0
        for day, branch, imported in sorted(self.paths, key=_day_branch_order, reverse=True):
            rows = self.paths[(day, branch, imported)]
            if shown >= SHOWN_ROWS:
                named = sum(1 for path in rows if path in top)
                total += named + (named < len(rows))
                continue
            chunk = self._day_rows([day_text(day), branch, imported], rows, top)
            total += len(chunk)
            chunk = chunk[-(SHOWN_ROWS - shown):]
            shown += len(chunk)
            chunks.append(chunk)
        return [row for chunk in reversed(chunks) for row in chunk], total, len(top), len(busy) - len(top)

    @staticmethod
    def _day_rows(lead: list, rows: dict[str, list[int]], top: set[str]) -> list[list]:
        """One day, branch and source (`lead`: the row's first cells): its busiest files by name, then the
        others summed under a null path."""
        found: list[list] = []
        other: list[int] | None = None
        for path in sorted(rows):
            commits, lines = rows[path]
            if path in top:
                found.append([*lead, path, commits, lines])
            elif other is None:
                other = [commits, lines]
            else:
                other[COMMITS] += commits
                other[LINES] += lines
        if other is not None:
            found.append([*lead, None, *other])
        return found


def _cut(rows_by_key: dict[tuple, int], day_of: Callable[[tuple], int]) -> int | None:
    """The first day to keep: the day after the newest whose rows and the newer days' pass HELD_ROWS (None:
    they all fit)."""
    by_day: dict[int, int] = {}
    for key, rows in rows_by_key.items():
        by_day[day_of(key)] = by_day.get(day_of(key), 0) + rows
    held = 0
    for day in sorted(by_day, reverse=True):
        held += by_day[day]
        if held > HELD_ROWS:
            return day + 1
    return None


def _steps(values: Iterable[int]) -> list[int]:
    """Each value as its step from the one before (the first from 0): small numbers, which compress well."""
    steps, last = [], 0
    for value in values:
        steps.append(value - last)
        last = value
    return steps


def _sums(steps: list[int]) -> list[int]:
    return list(accumulate(steps))


def _day_texts() -> Callable[[int], str]:
    """Context.day_text, remembered: thousands of rows share a few hundred days."""
    texts: dict[int, str] = {}

    def text(day: int) -> str:
        found = texts.get(day)
        if found is None:
            found = texts[day] = Context.day_text(day)
        return found
    return text


def _day_branch_order(key: tuple) -> tuple:
    day, branch, imported = key
    return day, branch is not None, branch or "", imported


def _activity_order(item: tuple) -> tuple:
    (hour, branch, imported), _ = item
    return hour, branch is not None, branch or "", imported


@hookimpl
def gitobs_analyzers() -> list[type[Analyzer]]:
    return [DashboardAnalyzer]
