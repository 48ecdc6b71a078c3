"""Built-in analyzer `heatmap`: where and when the work happens.

Activity is four things, always shown side by side and never summed into one score in a table: commits
(and the lines they change: added + deleted), discarded edits (and the lines lost), and dirty working-tree
samples. They are shown per file, per directory and per file type, per file and directory over time
buckets, as a GitHub-style calendar and as an hour-of-week punchcard. The grids, the calendar and the
punchcard need one number per cell: "events", the commits, discards and dirty samples counted there.

Per-path state is bounded (see `_Tally`): a log naming millions of paths keeps only the busiest few
thousand, folding the rest into "(other)", while every total stays exact.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone

import msgspec

from gitobs.plugin import (
    DAY_S,
    ROLLUP,
    Analyzer,
    AnyBlock,
    Calendar,
    Context,
    Fact,
    Facts,
    GitobsError,
    Grid,
    Table,
    add_counts,
    day_start,
    hookimpl,
)

# A record is a list (lists beat objects in the per-file loop) indexed by these: the five counts shown,
# the lines of dirty samples (kept apart and never shown: it keeps the hot loop free of branches), events
# per time bucket (see _enter), the file list of the last event counted (a directory counts once per
# event), distinct files (types), the bucket being counted, the commits, discards and samples counted in it
# so far (the counts shown take them in when it ends: these stay small, and adding to a small int makes no
# new object), and how long the events per bucket may grow before they are added up. A file record also
# holds the keys of its directory and type, computed once per path, and its directory's record (None until
# looked up, and again after the directories were folded). Read the counts of a settled record (_settle).
COMMITS, LINES, DISCARDS, DISCARDED, SAMPLES, SAMPLED, BUCKETS, STAMP, FILES, OPEN = range(10)
RUN_COMMITS, RUN_DISCARDS, RUN_SAMPLES, LIMIT = range(10, 14)
DIR_KEY, TYPE_KEY, DIR_RECORD = range(14, 17)
HISTORY = 128  # the least LIMIT: 64 (bucket, events) pairs
COUNTS = (COMMITS, LINES, DISCARDS, DISCARDED, SAMPLES, SAMPLED, FILES)
# a rollup's five counts per file or directory, and where they go
ROLLED = (RUN_COMMITS, LINES, RUN_DISCARDS, DISCARDED, RUN_SAMPLES)
# The totals record counts no distinct files: its FILES slot holds the discards whose content was never
# sampled (no file list: what they lost is not known).
UNSAMPLED = FILES

# (index of the events' total, of their count in the open bucket, of their lines) per consumed type.
KINDS = {"commit.created": (COMMITS, RUN_COMMITS, LINES), "edit.discarded": (DISCARDS, RUN_DISCARDS, DISCARDED),
         "worktree.sample": (SAMPLES, RUN_SAMPLES, SAMPLED)}

DAY, WEEK, MONTH = 0, 1, 2
LEVEL_NAMES = ("day", "week", "month")
AUTO_DAY_SPAN = 31  # days from the first event's local day to the last one's: day buckets up to this,
AUTO_WEEK_SPAN = 366  # week buckets up to a (leap) year, month buckets beyond

OTHER = "(other)"
IMPORTED = "import"  # the src of the events gitobs import writes
BEYOND = "(files beyond the cap)"  # a commit's files past the capped list: counted, never named
ROOT_DIR = "."
NO_TYPE = "(none)"
# Files without an extension that are a type of their own. Any other such file is "(none)", so that
# arbitrary names (built tools, hashes) do not each become a type.
NAMED_TYPES = frozenset({
    "Makefile", "GNUmakefile", "makefile", "Dockerfile", "Containerfile", "Jenkinsfile", "Vagrantfile",
    "Gemfile", "Rakefile", "Procfile", "Justfile", "justfile", "Brewfile", "Podfile", "Pipfile", "Snakefile",
    "Caddyfile", "Tiltfile", "Earthfile", "BUILD", "WORKSPACE", "LICENSE", "LICENCE", "COPYING", "NOTICE",
    "README", "CHANGELOG", "AUTHORS", "CONTRIBUTORS", "CODEOWNERS", "OWNERS", "VERSION", "MANIFEST",
})
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CALENDAR_WEEKS = 53
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
BEFORE_ALL = datetime.min.replace(tzinfo=timezone.utc)
ONE_HOUR = timedelta(hours=1)
COLUMNS = ["commits", "lines", "discards", "discarded lines", "samples"]


def type_of(path: str) -> str:
    """".py" (lowercased) for src/App.PY; "Makefile" and dotfiles (".gitignore") by name; else "(none)"."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    if dot > 0:
        return name[dot:].lower()
    if dot == 0 or name in NAMED_TYPES:
        return name
    return NO_TYPE


def dir_of(path: str, levels: int) -> str:
    """The directory holding `path`, cut to its first `levels` components; "." for the top level."""
    return "/".join(path.split("/")[:-1][:levels]) or ROOT_DIR


def _date(day: int) -> date:
    return date.fromordinal(day + EPOCH_ORDINAL)


def _week_start(day: int) -> int:
    return day - Context.weekday(day)


def _month_start(day: int) -> int:
    return day - _date(day).day + 1


def _level_for(span: int) -> int:
    """The bucket level for events spanning `span` days in auto mode."""
    return DAY if span <= AUTO_DAY_SPAN else WEEK if span <= AUTO_WEEK_SPAN else MONTH


def _bucket_key(day: int, level: int) -> int:
    """A day's bucket key, itself a day number. Weeks are stored cut at month starts (the later of the
    week's Monday and the month's first day), so that week buckets can still become month buckets exactly
    if the span grows past a year; they are shown whole, by their Monday."""
    if level == DAY:
        return day
    if level == WEEK:
        return max(_week_start(day), _month_start(day))
    return _month_start(day)


def _column_key(key: int, level: int) -> int:
    return _week_start(key) if level == WEEK else key


def _columns(first: int, last: int, level: int) -> list[int]:
    """Every bucket from the first event's to the last one's, empty ones too: a time axis has no gaps."""
    if level == DAY:
        return list(range(first, last + 1))
    if level == WEEK:
        return list(range(_week_start(first), _week_start(last) + 1, 7))
    columns, key = [], _month_start(first)
    while key <= last:
        columns.append(key)
        key = _month_start(key + 31)
    return columns


def _label(key: int, level: int) -> str:
    moment = _date(key)
    if level == DAY:
        return moment.isoformat()
    if level == WEEK:
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{moment.year}-{moment.month:02d}"


def _new_record() -> list:
    return [0, 0, 0, 0, 0, 0, [], 0, 0, None, 0, 0, 0, HISTORY]


def _settle(record: list) -> None:
    """Add the events since the open bucket began to it, and close it."""
    _enter(record, None)


def _enter(record: list, bucket: int | None) -> None:
    """Per-bucket counts without a dict update per event: a record's events are counted in its open bucket
    (RUN_*), and settled when another bucket begins (or before anyone reads them): added to its counts, and
    (bucket, events) appended to a flat list, which beats a dict update here. A bucket met again (events
    back in time) is appended again; readers add the pairs up (_pairs), and the list is added up in place
    when it outgrows LIMIT. It runs whenever a file meets a new bucket."""
    run = record[RUN_COMMITS] + record[RUN_DISCARDS] + record[RUN_SAMPLES]
    if run:
        record[BUCKETS] += (record[OPEN], run)
        if len(record[BUCKETS]) > record[LIMIT]:
            _set_buckets(record, _summed(_pairs(record[BUCKETS])))
        record[COMMITS] += record[RUN_COMMITS]
        record[DISCARDS] += record[RUN_DISCARDS]
        record[SAMPLES] += record[RUN_SAMPLES]
        record[RUN_COMMITS] = record[RUN_DISCARDS] = record[RUN_SAMPLES] = 0
    record[OPEN] = bucket


def _pairs(history: list) -> Iterator[tuple[int, int]]:
    """A record's (bucket, events) pairs; one bucket may come more than once."""
    return zip(history[::2], history[1::2])


def _summed(pairs: Iterable[tuple[int, int]], level: int | None = None) -> dict[int, int]:
    """Events per bucket, added up (and re-keyed at a coarser `level` when given)."""
    summed: dict[int, int] = {}
    for key, count in pairs:
        if level is not None:
            key = _bucket_key(key, level)
        summed[key] = summed.get(key, 0) + count
    return summed


def _set_buckets(record: list, counts: dict[int, int]) -> None:
    record[BUCKETS] = [value for pair in counts.items() for value in pair]
    record[LIMIT] = max(HISTORY, 2 * len(record[BUCKETS]))  # doubling: adding up stays linear


def _add_rolled(record: list, bucket: int, counts: list[int]) -> None:
    """Commits, lines, discards, discarded lines and samples of a rollup day, at its bucket."""
    if record[OPEN] != bucket:
        _enter(record, bucket)
    for index, value in zip(ROLLED, counts):
        record[index] += value


def _add_counts(into: list, record: list) -> None:
    for index in COUNTS:
        into[index] += record[index]


def _merge(into: list, record: list) -> None:
    _settle(into)
    _settle(record)
    _add_counts(into, record)
    into[BUCKETS] += record[BUCKETS]
    if len(into[BUCKETS]) > 2 * into[LIMIT]:  # not at every merge: joining two halves would add up them all
        _set_buckets(into, _summed(_pairs(into[BUCKETS])))


def _rank(item: tuple[str, list]) -> tuple:
    """Busiest first: events counted on the key, then lines, then the name (a stable tie-break)."""
    key, record = item
    return (-(record[COMMITS] + record[DISCARDS] + record[SAMPLES]), -(record[LINES] + record[DISCARDED]), key)


def _top(records: dict[str, list], other: list, folded: bool, k: int, buckets: bool = True,
         ) -> tuple[list[tuple[str, list]], list | None]:
    """The k busiest records, and one summing all the others with `other` (None when there are none): their
    counts, and with `buckets` their events per time bucket too (only grids need those, and they cost most)."""
    ranked = sorted(records.items(), key=_rank)
    if len(ranked) <= k and not folded:
        return ranked, None
    rest = _new_record()
    add = _merge if buckets else _add_counts
    add(rest, other)
    for _, record in ranked[k:]:
        add(rest, record)
    return ranked[:k], rest


class _Tally:
    """Records per key (file, directory or type), at most `capacity` of them between batches. When over,
    the busiest half is kept (by `_rank`: by the counts alone, so deterministically) and the rest is folded
    into `other`. The shown rows plus "(other)" then still add up to the exact totals; "(other)" sums
    the rows it stands for (a commit touching two folded directories counts in it twice)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: dict[str, list] = {}
        self.other = _new_record()
        self.folded = False

    def settle(self) -> None:
        for record in self.records.values():
            _settle(record)

    def bound(self) -> list[list]:
        """Fold if over capacity; returns the folded records (records handed out before may be stale)."""
        if len(self.records) <= self.capacity:
            return []
        self.settle()  # ranks by the counts
        kept = dict(heapq.nsmallest(self.capacity // 2, self.records.items(), key=_rank))
        folded = [record for key, record in self.records.items() if key not in kept]
        for record in folded:
            _merge(self.other, record)
        self.records = kept
        self.folded = True
        return folded

    def merge(self, later: _Tally) -> None:
        """Take in `later`'s records (the same keys add up); the caller bounds the result."""
        self.settle()
        later.settle()
        for key, record in later.records.items():
            mine = self.records.get(key)
            if mine is None:
                self.records[key] = record
            else:
                _merge(mine, record)
        _merge(self.other, later.other)
        self.folded = self.folded or later.folded

    def regroup(self, level: int) -> None:
        """Re-key every record's buckets at a coarser level (the span of the events grew)."""
        self.settle()
        for record in [*self.records.values(), self.other]:
            _set_buckets(record, _summed(_pairs(record[BUCKETS]), level))


# What the report cache keeps of a record: its counts (these slots, settled) and its (bucket, events) pairs.
SAVED_SLOTS = (COMMITS, LINES, DISCARDS, DISCARDED, SAMPLES, SAMPLED, FILES, LIMIT)


class TallyState(msgspec.Struct, array_like=True):
    records: list[tuple[str, list[int], list[int]]]  # key, counts (SAVED_SLOTS), buckets
    other: tuple[list[int], list[int]]
    folded: bool


class HeatmapState(msgspec.Struct, array_like=True):
    """What the report cache keeps of a HeatmapAnalyzer."""

    level: int
    first_day: int | None
    last_day: int | None
    files: TallyState
    file_keys: list[tuple[str, str]]  # each file record's directory and type, in the files' order
    dirs: TallyState
    types: TallyState
    seen: list[str]
    seen_full: bool
    hours: dict[int, int]
    file_events: dict[int, int]
    totals: tuple[list[int], list[int]]
    beyond: tuple[list[int], list[int]]  # the files of commits past their capped lists (BEYOND)
    imported: int  # commits from gitobs import (src "import"): counted, and said


def _save_record(record: list) -> tuple[list[int], list[int]]:
    """Settled, and its (bucket, events) pairs added up if past their limit (two halves' merged pairs can be
    twice as long): a report that loads it does not add them all up at its first events."""
    _settle(record)
    if len(record[BUCKETS]) > record[LIMIT]:
        _set_buckets(record, _summed(_pairs(record[BUCKETS])))
    return [record[slot] for slot in SAVED_SLOTS], record[BUCKETS]


def _load_record(saved: tuple[list[int], list[int]], record: list | None = None) -> list:
    record = _new_record() if record is None else record
    counts, buckets = saved
    for slot, value in zip(SAVED_SLOTS, counts, strict=True):
        record[slot] = value
    record[BUCKETS] = buckets
    return record


def _save_tally(tally: _Tally) -> TallyState:
    return TallyState([(key, *_save_record(record)) for key, record in tally.records.items()],
                      _save_record(tally.other), tally.folded)


def _load_tally(tally: _Tally, state: TallyState) -> None:
    tally.records = {key: _load_record((counts, buckets)) for key, counts, buckets in state.records}
    tally.other = _load_record(state.other)
    tally.folded = state.folded


class HeatmapAnalyzer(Analyzer):
    name = "heatmap"
    title = "Activity heatmap"
    consumes = (*KINDS, ROLLUP)  # and gitobs gc's daily rollups of older days
    # a commit's list of files is capped; files_total, added and deleted stay exact (the BEYOND row)
    fields = {**{kind: ("files",) for kind in KINDS}, "commit.created": ("files", "files_total", "added", "deleted",
                                                                    "src")}
    order = 10
    state_version = 3
    state_type = HeatmapState
    merges_in_any_order = True  # counts per path and bucket add up whatever the two parts' times (merge)

    capacity = 10000  # files and directories held (see _Tally), and file types
    distinct_capacity = 100000  # paths remembered for the count of distinct files

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.top_k = context.integer(self.name, "top", 20)
        if self.top_k < 1:
            raise GitobsError(f"option heatmap.top takes a whole number from 1, not {self.top_k}")
        self.fixed_level = self._bucket_option()
        self.level = DAY if self.fixed_level is None else self.fixed_level
        depth = 1 if context.depth is None else context.depth
        if depth < 1:
            raise GitobsError(f"the heatmap's directory depth must be 1 or more, not {depth}")
        # Depth counts from --path: with --path src/api, depth 1 shows src/api/<dir>.
        self.dir_levels = (context.path.count("/") + 1 if context.path else 0) + depth
        self.files = _Tally(self.capacity)
        self.dirs = _Tally(self.capacity)
        # Per type: distinct files, and the counts of files folded away. The counts of the files held are
        # added in result(), so the per-file loop does nothing per type.
        self.types = _Tally(self.capacity)
        self.seen: set[str] = set()
        self.seen_full = False
        self.hours: dict[int, int] = {}  # local hour (hours since the epoch) -> events: calendar, punchcard
        # Bucket -> events counted on files there, all of them: "(other)" in the files' grid is this less the
        # rows shown, which spares adding up thousands of files' buckets.
        self.file_events: dict[int, int] = {}
        self.bucket_of: dict[int, int] = {}  # local day -> its bucket key at the current level
        self.first_day: int | None = None  # local days of the first and last event: the span
        self.last_day: int | None = None
        self.totals = _new_record()  # events by kind (their lines are sums of the file tally)
        # The files commits touched past their capped file lists: their count (as COMMITS: one event per file,
        # as on a named file) and lines, per bucket; shown as the BEYOND row of the files' views.
        self.beyond = _new_record()
        self.imported = 0  # commits from gitobs import

    def _bucket_option(self) -> int | None:
        text = self.option("bucket", "auto")
        if text == "auto":
            return None
        if text not in LEVEL_NAMES:
            raise GitobsError(f"option heatmap.bucket takes auto, day, week or month, not {text!r}")
        return LEVEL_NAMES.index(text)

    def feed(self, events: Sequence) -> None:
        # The hot loop: one pass, locals only, no Python function call per file (only when a file or
        # directory meets a new time bucket: _enter), nothing per type (see _types). Events mostly come in
        # time order, so the hour (and with it the day and bucket) is only worked out when an event falls
        # outside the hour being counted: two datetime comparisons cost far less than event.t.
        offset = self.context.utc_offset_s
        hours, bucket_of, totals, file_events = self.hours, self.bucket_of, self.totals, self.file_events
        find_file = self.files.records.get
        hour, run, entries, bucket = None, 0, 0, 0
        hour_start = hour_end = BEFORE_ALL
        rollups = []
        capped = self.context.path is None  # --path cuts file lists, not files_total: no remainder is known
        for event in events:
            kind = KINDS.get(event.type)
            if kind is None:
                rollups.append(event.data)
                continue
            total, counter, liner = kind
            data = event.data
            files = data.files
            if not files:
                if counter == RUN_SAMPLES:
                    continue  # a clean tree: nothing is being edited
                if counter == RUN_DISCARDS:
                    totals[UNSAMPLED] += 1
            totals[total] += 1
            ts = event.ts
            if not hour_start <= ts < hour_end:
                if run:
                    hours[hour] = hours.get(hour, 0) + run
                    file_events[bucket] = file_events.get(bucket, 0) + entries
                hour, run, entries = int((ts.timestamp() + offset) // 3600), 0, 0
                hour_start = datetime.fromtimestamp(hour * 3600 - offset, timezone.utc)
                hour_end = hour_start + ONE_HOUR
                bucket = bucket_of.get(hour // 24)
                if bucket is None:
                    bucket = self._bucket(hour // 24)
            run += 1
            entries += len(files)  # each file of the event counts one event on it
            if counter == RUN_COMMITS:
                if event.src == IMPORTED:
                    self.imported += 1
                if capped and data.files_total > len(files):
                    self._beyond_cap(data, bucket)
            if counter == RUN_SAMPLES:  # most events: the same loop without lines
                for change in files:
                    record = find_file(change.path) or self._new_file(change.path)
                    if record[OPEN] != bucket:
                        _enter(record, bucket)
                    record[RUN_SAMPLES] += 1
                    folder = record[DIR_RECORD] or self._folder(record)
                    if folder[STAMP] is not files:  # the event's own list: no counter to keep
                        folder[STAMP] = files
                        if folder[OPEN] != bucket:
                            _enter(folder, bucket)
                        folder[RUN_SAMPLES] += 1
                continue
            for change in files:
                record = find_file(change.path) or self._new_file(change.path)
                if record[OPEN] != bucket:
                    _enter(record, bucket)
                lines = change.added + change.deleted
                record[counter] += 1
                record[liner] += lines
                folder = record[DIR_RECORD] or self._folder(record)
                if folder[STAMP] is not files:
                    folder[STAMP] = files
                    if folder[OPEN] != bucket:
                        _enter(folder, bucket)
                    folder[counter] += 1
                folder[liner] += lines
        if run:
            hours[hour] = hours.get(hour, 0) + run
            file_events[bucket] = file_events.get(bucket, 0) + entries
        for rollup in rollups:
            self._rollup(rollup)
        self._bound()

    def _beyond_cap(self, data, bucket: int) -> None:
        """A commit whose file list was capped: the files and lines past the list go to the BEYOND row."""
        files = data.files_total - len(data.files)
        lines = data.added + data.deleted - sum(change.added + change.deleted for change in data.files)
        record = self.beyond
        if record[OPEN] != bucket:
            _enter(record, bucket)
        record[RUN_COMMITS] += files
        record[LINES] += max(0, lines)
        self.file_events[bucket] = self.file_events.get(bucket, 0) + files

    def _rollup(self, data) -> None:
        """A day of gitobs gc's rollups (gitobs/upkeep/retention.py): its counts go to its local day (that of its UTC
        noon), its events to their hours; its directory counts give this depth's directories exactly."""
        start = day_start(data.day)
        offset = self.context.utc_offset_s
        local_day = int((start + DAY_S // 2 + offset) // DAY_S)
        bucket = self.bucket_of.get(local_day)
        if bucket is None:
            bucket = self._bucket(local_day)
        for hour, count in enumerate(data.hours):
            if count:
                key = int((start + hour * 3600 + offset) // 3600)
                self.hours[key] = self.hours.get(key, 0) + count
        for index, kind in enumerate((COMMITS, DISCARDS, SAMPLES)):
            self.totals[kind] += data.heat[index] if index < len(data.heat) else 0
        for path, *counts in data.files:
            _add_rolled(self.files.records.get(path) or self._new_file(path), bucket, counts)
            events = sum(counts[0:5:2])  # commits, discards, samples
            self.file_events[bucket] = self.file_events.get(bucket, 0) + events
        folders = self.dirs.records
        for prefix, *counts in data.dirs:
            depth = 0 if prefix == ROOT_DIR else prefix.count("/") + 1
            if depth > self.dir_levels:
                continue
            values = counts[:5] if depth == self.dir_levels else counts[5:]
            if any(values):
                _add_rolled(folders.get(prefix) or folders.setdefault(prefix, _new_record()), bucket, values)

    def _bucket(self, day: int) -> int:
        """The bucket of a day not met at the current level: the span may widen, and in auto mode the
        buckets get coarser when it does."""
        self.first_day = day if self.first_day is None else min(self.first_day, day)
        self.last_day = day if self.last_day is None else max(self.last_day, day)
        self._coarsen(_level_for(self.last_day - self.first_day))
        bucket = self.bucket_of[day] = _bucket_key(day, self.level)
        return bucket

    def _coarsen(self, level: int) -> None:
        """In auto mode, move to `level` if it is coarser than the current one."""
        if self.fixed_level is None and level > self.level:
            self.level = level
            self.bucket_of.clear()
            self.files.regroup(level)
            self.dirs.regroup(level)
            _settle(self.beyond)
            _set_buckets(self.beyond, _summed(_pairs(self.beyond[BUCKETS]), level))
            coarse = _summed(self.file_events.items(), level)
            self.file_events.clear()  # in place: feed() holds it
            self.file_events.update(coarse)

    def merge(self, later: HeatmapAnalyzer) -> None:
        # Counts per path and time bucket add up (horizon 0), once both are on one time axis: the span of
        # both, at the coarser level it needs. Exact while no tally had to fold paths into "(other)".
        if later.first_day is not None:
            if self.first_day is None:
                self.first_day, self.last_day = later.first_day, later.last_day
            else:
                self.first_day, self.last_day = min(self.first_day, later.first_day), max(self.last_day, later.last_day)
            level = max(self.level, later.level, _level_for(self.last_day - self.first_day))
            self._coarsen(level)
            later._coarsen(level)
        for path in later.seen & self.seen:  # both counted it as a distinct file of its type
            (self.types.records.get(type_of(path)) or self.types.other)[FILES] -= 1
        self.seen |= later.seen
        self.seen_full = self.seen_full or later.seen_full or len(self.seen) > self.distinct_capacity
        for tally, theirs in ((self.files, later.files), (self.dirs, later.dirs), (self.types, later.types)):
            tally.merge(theirs)
        for record in self.files.records.values():
            record[DIR_RECORD] = None  # directory records may have been replaced
        add_counts(self.hours, later.hours)
        add_counts(self.file_events, later.file_events)
        _add_counts(self.totals, later.totals)
        _merge(self.beyond, later.beyond)
        self.imported += later.imported
        self.bucket_of.clear()
        self._bound()

    def _folder(self, record: list) -> list:
        """The directory record of a file record, made when new, and remembered in it."""
        records = self.dirs.records
        folder = records.get(record[DIR_KEY])
        if folder is None:
            folder = records[record[DIR_KEY]] = _new_record()
        record[DIR_RECORD] = folder
        return folder

    def _file_type(self, file_type: str) -> list:
        found = self.types.records.get(file_type)
        if found is None:
            found = self.types.records[file_type] = _new_record()
        return found

    def _new_file(self, path: str) -> list:
        """A record for a path not held now: new, or folded away before and busy again."""
        record = [*_new_record(), dir_of(path, self.dir_levels), type_of(path), None]
        self.files.records[path] = record
        if path not in self.seen:
            if len(self.seen) < self.distinct_capacity:
                self.seen.add(path)
                self._file_type(record[TYPE_KEY])[FILES] += 1
            else:
                self.seen_full = True
        return record

    def _bound(self) -> None:
        for record in self.files.bound():
            _add_counts(self._file_type(record[TYPE_KEY]), record)
        self.types.bound()
        if self.dirs.bound():
            for record in self.files.records.values():
                record[DIR_RECORD] = None

    def save_state(self) -> HeatmapState:
        return HeatmapState(
            level=self.level, first_day=self.first_day, last_day=self.last_day, files=_save_tally(self.files),
            file_keys=[(record[DIR_KEY], record[TYPE_KEY]) for record in self.files.records.values()],
            dirs=_save_tally(self.dirs), types=_save_tally(self.types), seen=sorted(self.seen),
            seen_full=self.seen_full, hours=self.hours, file_events=self.file_events,
            totals=_save_record(self.totals), beyond=_save_record(self.beyond),
            imported=self.imported)

    def load_state(self, state: HeatmapState) -> None:
        if len(state.file_keys) != len(state.files.records):
            raise ValueError("a heatmap state whose files and their keys differ")
        self.level, self.first_day, self.last_day = state.level, state.first_day, state.last_day
        _load_tally(self.files, state.files)
        for record, (folder, file_type) in zip(self.files.records.values(), state.file_keys):
            record += [folder, file_type, None]  # DIR_KEY, TYPE_KEY, DIR_RECORD (found again when needed)
        _load_tally(self.dirs, state.dirs)
        _load_tally(self.types, state.types)
        self.seen, self.seen_full = set(state.seen), state.seen_full
        self.hours, self.file_events = state.hours, state.file_events
        self.totals = _load_record(state.totals)
        self.beyond = _load_record(state.beyond)
        self.imported = state.imported

    def result(self) -> list[AnyBlock]:
        self.files.settle()
        self.dirs.settle()
        _settle(self.beyond)
        beyond = [(BEYOND, self.beyond)] if self.beyond[COMMITS] else []
        blocks: list[AnyBlock] = [self._totals()]
        blocks.append(self._table("by_file", "Most edited files", "file", self.files.records, self.files, extra=beyond))
        blocks.append(self._table("by_dir", "Directories", "directory", self.dirs.records, self.dirs))
        if self.first_day is not None:
            unit = LEVEL_NAMES[self.level]
            blocks.append(self._grid("by_file_time", f"Files by {unit}", self.files, self.file_events, beyond))
            blocks.append(self._grid("by_dir_time", f"Directories by {unit}", self.dirs))
        blocks.append(self._calendar())
        blocks.append(self._punchcard())
        blocks.append(self._types())
        return blocks

    def _totals(self) -> Facts:
        # The file tally's columns plus its "(other)" are exact sums over every file of every event.
        records = [*self.files.records.values(), self.files.other, self.beyond]
        entries, lines, discarded = (sum(r[index] for r in records) for index in (COMMITS, LINES, DISCARDED))
        # Exact while fewer than distinct_capacity paths were seen; past that, a lower bound.
        distinct = "distinct files, at least" if self.seen_full else "distinct files"
        items = [Fact("commits", self.totals[COMMITS], "commits"),
                 Fact("of them imported (gitobs import)", self.imported, "commits"),
                 Fact("files touched by commits", entries, "files"),
                 Fact("lines changed in commits", lines, "lines"), Fact("discards", self.totals[DISCARDS], "discards"),
                 Fact("lines discarded", discarded, "lines"),
                 Fact("discards never sampled (what they lost is not known)", self.totals[UNSAMPLED], "discards"),
                 Fact("dirty samples", self.totals[SAMPLES], "samples"),
                 Fact(distinct, len(self.seen), "files")]
        if self.first_day is not None:
            items.append(Fact("time bucket", LEVEL_NAMES[self.level]))
        return Facts(id="totals", title="Totals", items=items)

    def _table(self, block_id: str, title: str, name: str, records: dict[str, list], tally: _Tally,
               files: bool = False, extra: Sequence[tuple[str, list]] = ()) -> Table:
        """The top rows of `records`, "(other)" and the `extra` rows (BEYOND); total_rows counts the keys held
        (not those folded away)."""
        shown, other = _top(records, tally.other, tally.folded, self.top_k, buckets=False)

        def row(key: str, record: list) -> list:
            counts = [record[COMMITS], record[LINES], record[DISCARDS], record[DISCARDED], record[SAMPLES]]
            return [key, record[FILES], *counts] if files else [key, *counts]

        rows = [row(key, record) for key, record in shown]
        if other is not None:
            rows.append(row(OTHER, other))
        rows += [row(key, record) for key, record in extra]
        columns = [name, "files", *COLUMNS] if files else [name, *COLUMNS]
        return Table(id=block_id, title=title, columns=columns, rows=rows,
                     total_rows=len(records) if len(records) > len(shown) else None)

    def _types(self) -> Table:
        # Sums over each type's files (a commit of two .py files counts twice for .py): the spread of
        # the file activity across types.
        records: dict[str, list] = {}
        for key, record in [*self.types.records.items(), *((r[TYPE_KEY], r) for r in self.files.records.values())]:
            _add_counts(records.get(key) or records.setdefault(key, _new_record()), record)  # files have FILES 0
        return self._table("file_types", "File types (sums over their files)", "type", records, self.types, files=True)

    def _grid(self, block_id: str, title: str, tally: _Tally, events: dict[int, int] | None = None,
              extra: Sequence[tuple[str, list]] = ()) -> Grid:
        """The top rows' events per bucket, the `extra` rows' (BEYOND) and "(other)"'s: all `events` (per
        bucket) less the rows shown when given, else the sum of the others' buckets. "(other)" comes last."""
        level = self.level
        columns = _columns(self.first_day, self.last_day, level)
        index = {key: position for position, key in enumerate(columns)}

        def line(pairs: Iterable[tuple[int, int]]) -> list[int]:
            cells = [0] * len(columns)
            for key, count in pairs:
                cells[index[_column_key(key, level)]] += count
            return cells

        tally.settle()
        shown, other = _top(tally.records, tally.other, tally.folded, self.top_k, buckets=events is None)
        shown = [*shown, *extra]
        labels, cells = [key for key, _ in shown], [line(_pairs(record[BUCKETS])) for _, record in shown]
        if other is not None:
            labels.append(OTHER)
            if events is None:
                cells.append(line(_pairs(other[BUCKETS])))
            else:
                cells.append([total - sum(column) for total, *column in zip(line(events.items()), *cells)])
        return Grid(id=block_id, title=title, row_labels=labels,
                    column_labels=[_label(key, level) for key in columns], cells=cells, unit="events")

    def _calendar(self) -> Calendar:
        # The 53 weeks up to the report's day (its --now, or the last day before --until if that is earlier),
        # like GitHub's profile calendar: it does not move with the newest event, and a quiet stretch before
        # now shows as quiet. Days after it are not shown.
        context = self.context
        end = context.now if context.until is None else min(context.now, context.until - 0.001)
        last = context.local_day(end)
        first = _week_start(last) - 7 * (CALENDAR_WEEKS - 1)
        counts = [0] * (last - first + 1)
        for hour, count in self.hours.items():
            if first <= hour // 24 <= last:
                counts[hour // 24 - first] += count
        return Calendar(id="calendar", title="Events per day", first_day=Context.day_text(first), counts=counts,
                        unit="events")

    def _punchcard(self) -> Grid:
        week = [0] * (7 * 24)  # by hour of the week from Monday 00: hour 0 of day 0 (a Thursday) is hour 72
        for hour, count in self.hours.items():
            week[(hour + 72) % 168] += count
        cells = [week[day * 24:day * 24 + 24] for day in range(7)]
        return Grid(id="punchcard", title="Events by hour of the week", row_labels=list(WEEKDAYS),
                    column_labels=[f"{hour:02d}" for hour in range(24)], cells=cells, unit="events")


@hookimpl
def gitobs_analyzers() -> list[type[Analyzer]]:
    return [HeatmapAnalyzer]
