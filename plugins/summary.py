"""Built-in analyzer `summary`: the report's first section, the last 7 days against the 7 before.

Commits, branch switches, ping-pongs, blocked and aborted commits, discards, the median time in the commit
message editor and the busiest files, as a few sentences a developer reads in ten seconds and as a table
of the same numbers (for JSON). The weeks are local days: the report's day (its --now, or the last day
before --until) and the six before it, against the seven before those.

Imported history (`src: import`) is the user's past, not what they did this week: it is counted where
commits and switches are counted and labelled there ("12 of them imported"), and never in the
hesitation-like figures (ping-pongs, blocked and aborted commits, message times).

The state is per local day, so it does not depend on --now (the report cache keeps it across reports):
counts for every day, message times for every day (tenths of a second: bounded by the commits), and
per-file counts only for the FILE_DAYS newest days seen (enough for two weeks up to the newest event).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import msgspec

from gitobs.plugin import (
    IMPORTED,
    Analyzer,
    AnyBlock,
    Context,
    Fact,
    Facts,
    Note,
    Table,
    hookimpl,
    inert,
)

# Counts per day, by index.
COMMITS, IMPORTED_COMMITS, SWITCHES, IMPORTED_SWITCHES, PING_PONGS, BLOCKED, ABORTED = range(7)
DISCARDS, DISCARDED_LINES, DISCARDED_FILES, UNSAMPLED = range(7, 11)
COUNTS = 11
# The rows of the week_over_week table: (label, count index); message time is its own row.
ROWS = (("commits", COMMITS), ("imported commits", IMPORTED_COMMITS), ("branch switches", SWITCHES),
        ("imported switches", IMPORTED_SWITCHES), ("ping-pongs", PING_PONGS), ("blocked commits", BLOCKED),
        ("aborted commits", ABORTED), ("discards", DISCARDS), ("discarded lines", DISCARDED_LINES),
        ("discarded files", DISCARDED_FILES), ("discards never sampled", UNSAMPLED))
WEEK = 7
FILE_DAYS = 28  # per-file counts are kept for the newest days seen, this many
HELD_CHANGES = 100_000  # file changes held before they are counted (see _held)
PATHS_PER_DAY = 5000  # per-file counts of one day beyond this many paths go to OTHER
BUSIEST = 3  # files named in the sentences; the table shows up to BUSIEST_ROWS
BUSIEST_ROWS = 10
OTHER = "(other)"
TENTHS = 10
DAY_S = 86400
ONE_DAY = timedelta(days=1)
BEFORE_ALL = datetime.min.replace(tzinfo=timezone.utc)


class SummaryState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a SummaryAnalyzer."""

    per_day: dict[int, list[int]]  # local day -> counts by index
    message: dict[int, dict[int, int]]  # local day -> message editor time in tenths of a second -> count
    files: dict[int, dict[str, list[int]]]  # local day -> path -> [commits, lines], the FILE_DAYS newest days
    newest: int | None  # the newest local day with a commit seen
    previous: dict[str, tuple[str, str, float]]  # worktree -> its last switch (from, to, t): ping-pongs


class SummaryAnalyzer(Analyzer):
    name = "summary"
    title = "Summary: the last 7 days"
    consumes = ("commit.created", "branch.switch", "commit.blocked", "commit.aborted", "edit.discarded",
                "commit.message_edit")
    fields = {"commit.created": ("files", "src"), "branch.switch": ("from_", "to", "wt", "src"),
              "commit.blocked": ("src",), "commit.aborted": ("src",), "edit.discarded": ("files", "src"),
              "commit.message_edit": ("seconds", "src")}
    order = 0  # first: the summary opens the report
    state_version = 1
    state_type = SummaryState
    imported_in_any_order = True  # imported commits and switches are only counted per day

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        # The same window as the branches section's ping-pongs, so the two agree.
        self.window = context.duration("branches", "ping_pong_window", 600)
        self.per_day: dict[int, list[int]] = {}
        self.message: dict[int, dict[int, int]] = {}
        self.files: dict[int, dict[str, list[int]]] = {}
        self.newest: int | None = None
        self.previous: dict[str, tuple[str, str, float]] = {}
        self.unfolded: dict[int, list[list]] = {}  # local day -> the file changes of its commits, not counted yet
        self.unfolded_changes = 0  # in all: past HELD_CHANGES they are counted, so that memory stays bounded

    def feed(self, events: Sequence) -> None:
        # The day is worked out only when an event falls outside the one being counted (events come in time
        # order): two datetime comparisons cost far less than event.t, read only for a switch. The day's
        # lists of held files and message times are looked up at its first commit and message time.
        offset = self.context.utc_offset_s
        per_day, message, returned = self.per_day, self.message, self._returned
        day = 0
        counts: list[int] = []
        held: list[list] | None = None
        times: dict[int, int] | None = None
        looked = False  # held looked up for this day
        start = end = BEFORE_ALL
        for event in events:
            ts = event.ts
            if not start <= ts < end:
                day = int((ts.timestamp() + offset) // DAY_S)
                start = datetime.fromtimestamp(day * DAY_S - offset, timezone.utc)
                end = start + ONE_DAY
                counts = per_day.get(day) or per_day.setdefault(day, [0] * COUNTS)
                held, times, looked = None, None, False
            kind = event.type
            if kind == "commit.created":
                imported = event.src == IMPORTED
                counts[COMMITS] += 1
                counts[IMPORTED_COMMITS] += imported
                if not looked:
                    held, looked = self._held(day), True
                if held is not None and event.data.files:
                    held.append(event.data.files)
                    self.unfolded_changes += len(event.data.files)
                    if self.unfolded_changes > HELD_CHANGES:  # a busy month: count them now (the lists stay)
                        self._fold()
            elif kind == "branch.switch":
                imported = event.src == IMPORTED
                counts[SWITCHES] += 1
                counts[IMPORTED_SWITCHES] += imported
                if not imported:
                    counts[PING_PONGS] += returned(event.wt, event.data, event.t)
            elif event.src == IMPORTED:
                continue  # hesitation-like: only what was recorded live
            elif kind == "commit.message_edit":
                if times is None:
                    times = message.get(day) or message.setdefault(day, {})
                tenths = round(event.data.seconds * TENTHS)
                times[tenths] = times.get(tenths, 0) + 1
            elif kind == "commit.aborted":
                counts[ABORTED] += 1
            elif kind == "commit.blocked":
                counts[BLOCKED] += 1
            else:  # edit.discarded
                files = event.data.files
                counts[DISCARDS] += 1
                counts[DISCARDED_FILES] += len(files)
                counts[DISCARDED_LINES] += sum(change.added + change.deleted for change in files)
                counts[UNSAMPLED] += not files

    def _returned(self, worktree: str, data, t: float) -> int:
        """1 when this switch goes back to the branch left by the worktree's previous switch within the
        window (A -> B -> A), as the branches section counts ping-pongs."""
        left, entered = data.from_ or "", data.to or ""
        before = self.previous.get(worktree)
        self.previous[worktree] = (left, entered, t)
        return int(before is not None and before[1] == left and before[0] == entered != left
                   and t - before[2] <= self.window)

    def _held(self, day: int) -> list[list] | None:
        """Where a commit of `day` holds its files: per-file counts are kept for the newest FILE_DAYS days
        (older days are dropped, whatever the batches); None for a day older than those. The changes are only
        held (the events' own lists) and counted by _fold, when the state is read or HELD_CHANGES are held: most
        days are dropped before then, and their files are never counted."""
        if self.newest is None or day > self.newest:
            self.newest = day
            for old in [key for key in self.files if key <= day - FILE_DAYS]:
                del self.files[old]
            for old in [key for key in self.unfolded if key <= day - FILE_DAYS]:
                self.unfolded_changes -= sum(len(changes) for changes in self.unfolded.pop(old))
        if day <= self.newest - FILE_DAYS:
            return None
        held = self.unfolded.get(day)
        if held is None:
            held = self.unfolded[day] = []
        return held

    def _fold(self) -> None:
        """Count the held changes into `files`, in the order they came (the first PATHS_PER_DAY paths of a
        day keep their names)."""
        for day, held in self.unfolded.items():
            paths = self.files.get(day) or self.files.setdefault(day, {})
            for changes in held:
                for change in changes:
                    key = change.path if change.path in paths or len(paths) < PATHS_PER_DAY else OTHER
                    record = paths.get(key) or paths.setdefault(key, [0, 0])
                    record[0] += 1
                    record[1] += change.added + change.deleted
        for held in self.unfolded.values():
            held.clear()  # the lists feed may still be appending to
        self.unfolded_changes = 0

    def __getstate__(self) -> dict:
        # pickled to or from the other replay process (gitobs/replay/parallel.py): the counts, not the events'
        self._fold()
        return self.__dict__

    def horizon(self) -> float:
        return self.window  # a ping-pong is two switches within it

    def merge(self, later: SummaryAnalyzer) -> None:
        self._fold()
        later._fold()
        for day, counts in later.per_day.items():
            mine = self.per_day.setdefault(day, [0] * COUNTS)
            for index, value in enumerate(counts):
                mine[index] += value
        for day, times in later.message.items():
            mine = self.message.setdefault(day, {})
            for tenths, count in times.items():
                mine[tenths] = mine.get(tenths, 0) + count
        for day, paths in later.files.items():
            mine = self.files.setdefault(day, {})
            for path, (commits, lines) in paths.items():
                key = path if path in mine or len(mine) < PATHS_PER_DAY else OTHER
                record = mine.get(key) or mine.setdefault(key, [0, 0])
                record[0] += commits
                record[1] += lines
        if later.newest is not None and (self.newest is None or later.newest > self.newest):
            self.newest = later.newest
        if self.newest is not None:  # as one instance fed everything: only the newest FILE_DAYS days
            for old in [key for key in self.files if key <= self.newest - FILE_DAYS]:
                del self.files[old]
        self.previous.update(later.previous)

    def save_state(self) -> SummaryState:
        self._fold()
        return SummaryState(per_day=self.per_day, message=self.message, files=self.files, newest=self.newest,
                            previous=self.previous)

    def load_state(self, state: SummaryState) -> None:
        self.per_day, self.message, self.files = state.per_day, state.message, state.files
        self.newest = state.newest
        self.previous = {wt: tuple(last) for wt, last in state.previous.items()}

    @classmethod
    def result_now_key(cls, context: Context) -> str:
        return str(context.report_day())  # the weeks end with the report's day

    def result(self) -> list[AnyBlock]:
        self._fold()
        last = self.context.report_day()
        this, before = self._week(last), self._week(last - WEEK)
        return [Note(id="brief", text=brief(this, before)),
                Facts(id="period", items=[Fact("last 7 days", span_text(last)),
                                          Fact("the 7 before", span_text(last - WEEK))]),
                week_table(this, before), busiest_table(this)]

    def _week(self, last: int) -> Week:
        """The counts, message times and files of the seven days ending with `last`."""
        week = Week()
        for day in range(last - WEEK + 1, last + 1):
            for index, value in enumerate(self.per_day.get(day, ())):
                week.counts[index] += value
            for tenths, count in self.message.get(day, {}).items():
                week.message[tenths] = week.message.get(tenths, 0) + count
            for path, (commits, lines) in self.files.get(day, {}).items():
                record = week.files.get(path) or week.files.setdefault(path, [0, 0])
                record[0] += commits
                record[1] += lines
        # per-file counts are known when all seven days were kept: within FILE_DAYS of the newest commit
        week.files_known = self.newest is None or last - WEEK + 1 > self.newest - FILE_DAYS
        return week


class Week:
    """Seven days added up."""

    def __init__(self) -> None:
        self.counts = [0] * COUNTS
        self.message: dict[int, int] = {}
        self.files: dict[str, list[int]] = {}
        self.files_known = True

    def median_message_s(self) -> float | None:
        """The median time in the message editor, in seconds to a tenth (the lower middle of an even count)."""
        total = sum(self.message.values())
        if not total:
            return None
        rank, seen = (total + 1) // 2, 0
        for tenths in sorted(self.message):
            seen += self.message[tenths]
            if seen >= rank:
                return tenths / TENTHS
        return None  # not reached

    def busiest(self, limit: int) -> list[tuple[str, int, int]]:
        """(path, commits, lines): most commits first, then most lines, then the path; "(other)" left out."""
        ranked = sorted(((path, c, n) for path, (c, n) in self.files.items() if path != OTHER),
                        key=lambda row: (-row[1], -row[2], row[0]))
        return ranked[:limit]


def span_text(last: int) -> str:
    return f"{Context.day_text(last - WEEK + 1)} to {Context.day_text(last)}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:g} s" if value < 60 else f"{value / 60:.1f} min"


def brief(this: Week, before: Week) -> str:
    """The sentences: this week's figure, last week's in parentheses."""
    now, then = this.counts, before.counts
    if not any(now) and not any(then) and not this.message and not before.message:
        return "Nothing recorded in the last 14 days."
    commits = f"This week: {_plural(now[COMMITS], 'commit')} (last week {then[COMMITS]})"
    if now[IMPORTED_COMMITS]:
        commits += f", {now[IMPORTED_COMMITS]} of them imported"
    switches = f"{_plural(now[SWITCHES], 'branch switch', 'branch switches')} ({then[SWITCHES]})"
    if now[IMPORTED_SWITCHES]:
        switches += f", {now[IMPORTED_SWITCHES]} of them imported"
    lines = [f"{commits}; {switches}, {_plural(now[PING_PONGS], 'ping-pong')} ({then[PING_PONGS]})."]
    if now[BLOCKED] or then[BLOCKED] or now[ABORTED] or then[ABORTED]:
        lines.append(f"{_plural(now[BLOCKED], 'commit')} blocked by a hook ({then[BLOCKED]}), "
                     f"{now[ABORTED]} aborted ({then[ABORTED]}).")
    if this.message or before.message:
        lines.append(f"Median time writing a commit message: {_seconds(this.median_message_s())} "
                     f"(last week {_seconds(before.median_message_s())}).")
    if now[DISCARDS] or then[DISCARDS]:
        lines.append(_discards(now, then))
    lines.append(_busiest(this))
    return "\n".join(lines)


def _discards(now: list[int], then: list[int]) -> str:
    text = f"{_plural(now[DISCARDS], 'discard')} of uncommitted work ({then[DISCARDS]})"
    sampled = now[DISCARDS] - now[UNSAMPLED]
    if sampled:
        text += (f": {_plural(now[DISCARDED_LINES], 'line')} in {_plural(now[DISCARDED_FILES], 'file')} "
                 f"lost")
    if now[UNSAMPLED]:
        text += (f"; {now[UNSAMPLED]} of them never sampled, so what was lost is not known"
                 if sampled or now[UNSAMPLED] > 1 else ", never sampled, so what was lost is not known")
    return text + "."


def _busiest(this: Week) -> str:
    if not this.files_known:
        return "Busiest files: not known for this week (per-file counts are kept for the newest 4 weeks)."
    rows = this.busiest(BUSIEST)
    if not rows:
        return "Busiest files: none this week."
    named = ", ".join(f"{inert(path)} ({_plural(commits, 'commit')}, {_plural(lines, 'line')})"
                      for path, commits, lines in rows)
    return f"Busiest files: {named}."


def week_table(this: Week, before: Week) -> Table:
    rows: list[list] = [[label, this.counts[index], before.counts[index]] for label, index in ROWS]
    rows.append(["median message time (s)", this.median_message_s(), before.median_message_s()])
    return Table(id="week_over_week", title="Last 7 days and the 7 before",
                 columns=["figure", "last 7 days", "the 7 before"], rows=rows)


def busiest_table(this: Week) -> Table:
    rows = [[path, commits, lines] for path, commits, lines in this.busiest(BUSIEST_ROWS)]
    return Table(id="busiest_files", title="Busiest files, last 7 days", columns=["file", "commits", "lines"],
                 rows=rows, total_rows=held if (held := len(set(this.files) - {OTHER})) > len(rows) else None)



@hookimpl
def gitobs_analyzers() -> list[type[Analyzer]]:
    return [SummaryAnalyzer]
