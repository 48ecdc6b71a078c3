"""Built-in analyzer `heatmap`: where and when the work happens.

Activity is four things, always shown side by side and never summed into one score in a table: commits
(and the lines they change: added + deleted), discarded edits (and the lines lost), and dirty working-tree
samples. They are shown per file, per directory and per file type, per file and directory over time
buckets, as a GitHub-style calendar and as an hour-of-week punchcard. The grids, the calendar and the
punchcard need one number per cell: "events", the commits, discards and dirty samples counted there.

With GitButler's lanes in the log, the same activity is also split by lane (stack): see `_Lanes`.

Per-path state is bounded (see `_Tally`): a log naming millions of paths keeps only the busiest few
thousand, folding the rest into "(other)", while every total stays exact.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from itertools import accumulate, repeat

import msgspec

from gitobs.plugin import (
    DAY_S,
    IMPORTED,
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
# event), distinct files (types), the bucket being counted, the commits, discards and samples counted since
# the record was last settled (the counts shown take them in then), how long the events per bucket may grow
# before they are added up (0: they are still packed as a kept state held them, see _history), and MARK: the
# sum of those three when the open bucket began (its events are the sum now less MARK). A file record also
# holds the keys of its directory and type, computed once per path, and its directory's record (None until
# looked up, and again after the directories were folded). Read the counts of a settled record (_settle).
COMMITS, LINES, DISCARDS, DISCARDED, SAMPLES, SAMPLED, BUCKETS, STAMP, FILES, OPEN = range(10)
RUN_COMMITS, RUN_DISCARDS, RUN_SAMPLES, LIMIT, MARK = range(10, 15)
DIR_KEY, TYPE_KEY, DIR_RECORD = range(15, 18)
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
ONE_DAY = timedelta(days=1)
HOURS_OF_DAY = tuple(ONE_HOUR * hour for hour in range(24))
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
COLUMNS = ["commits", "lines", "discards", "discarded lines", "samples"]

# GitButler lanes (stacks): the events that say which files and branches a stack holds. Never activity.
LANE_EVENTS = ("vbranch.files", "vbranch.created", "vbranch.renamed", "vbranch.moved", "vbranch.deleted",
               "vbranch.archived")
UNASSIGNED = "(unassigned)"
LANE_FILES = 500  # paths kept of a vbranch.files list (as many as gitobs writes): a hostile log stays cheap
# The tallies are bounded after every this many events of the stream, wherever its batches end: a report
# cache feeds the events after its checkpoint in other batches than a full replay, and where a fold falls
# decides which files it keeps and with what counts.
BOUND_EVERY = 256
# A lane's list (a pending path's too: its first two slots stay 0): commits and their lines (by branch), file
# rows of dirty samples and of discards, events on its files per time bucket (all file rows, as the files'
# grid counts them), and the files credited; then the bucket being counted and its events so far (added to
# the buckets when another begins, or before anyone reads them: _settle_lane), as file records do.
L_COMMITS, L_LINES, L_SAMPLES, L_DISCARDS, L_BUCKETS, L_PATHS, L_OPEN, L_RUN = range(8)


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
    return [0, 0, 0, 0, 0, 0, [], 0, 0, None, 0, 0, 0, HISTORY, 0]


def _settle(record: list) -> None:
    """Close the open bucket, and add the events counted since the record was last settled to its counts."""
    _enter(record, None)
    if record[MARK]:  # _enter left the events since then there
        record[COMMITS] += record[RUN_COMMITS]
        record[DISCARDS] += record[RUN_DISCARDS]
        record[SAMPLES] += record[RUN_SAMPLES]
        record[RUN_COMMITS] = record[RUN_DISCARDS] = record[RUN_SAMPLES] = record[MARK] = 0


def _enter(record: list, bucket: int | None) -> None:
    """Per-bucket counts without a dict update per event: a record's events are counted in RUN_*, and when
    another bucket begins the open one's (the RUN_* sum less MARK) are appended as (bucket, events) to a flat
    list, which beats a dict update here. The counts shown take RUN_* in only when settled (before anyone
    reads them): here, at every new bucket of every file, three fewer additions. A bucket met again (events
    back in time) is appended again; readers add the pairs up (_pairs), and the list is added up when it
    outgrows LIMIT (_compact)."""
    counted = record[RUN_COMMITS] + record[RUN_DISCARDS] + record[RUN_SAMPLES]
    run = counted - record[MARK]
    if run:
        history = record[BUCKETS] if record[LIMIT] else _history(record)
        history += (record[OPEN], run)
        if len(history) > record[LIMIT]:
            _compact(record)
        record[MARK] = counted
    record[OPEN] = bucket


def _compact(record: list) -> None:
    """A record's pairs added up, as they outgrew LIMIT; when each bucket comes once, in time order (events in
    time order: most records), there is nothing to add up, and a check in C spares the loop that would."""
    keys = record[BUCKETS][::2]
    if all(map(operator.lt, keys, keys[1:])):
        record[LIMIT] = 2 * len(record[BUCKETS])
    else:
        _set_buckets(record, _summed(_pairs(record[BUCKETS])))


def _history(record: list) -> list[int]:
    """A record's flat (bucket, events) list. One loaded from a kept state holds it packed (LIMIT 0) until
    this is first asked: a report reads the pairs of its top rows only, and new events touch few records."""
    if not record[LIMIT]:
        record[BUCKETS] = _unpacked(record[BUCKETS])
        record[LIMIT] = max(HISTORY, 2 * len(record[BUCKETS]))
    return record[BUCKETS]


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
    _history(into).extend(_history(record))
    if len(into[BUCKETS]) > 2 * into[LIMIT]:  # not at every merge: joining two halves would add up them all
        _compact(into)


def _rank(item: tuple[str, list]) -> tuple:
    """Busiest first: events counted on the key, then lines, then the name (a stable tie-break)."""
    key, record = item
    return (-(record[COMMITS] + record[DISCARDS] + record[SAMPLES]), -(record[LINES] + record[DISCARDED]), key)


def _add_all(into: list, records: list[list]) -> None:
    """The counts of many records added to `into`: summed in C, a slot at a time."""
    for index in COUNTS:
        into[index] += sum(map(operator.itemgetter(index), records))


def _ranked(records: dict[str, list]) -> list[tuple[str, list]]:
    return sorted(records.items(), key=_rank)


def _top(ranked: list[tuple[str, list]], other: list, folded: bool, k: int, buckets: bool = True,
         ) -> tuple[list[tuple[str, list]], list | None]:
    """The k busiest of the `ranked` records, and one summing all the others with `other` (None when there
    are none): their counts, and with `buckets` their events per time bucket too (only grids need those,
    and they cost most)."""
    if len(ranked) <= k and not folded:
        return ranked, None
    rest = _new_record()
    if buckets:
        for record in [other, *(record for _, record in ranked[k:])]:
            _merge(rest, record)
    else:
        _add_all(rest, [other, *(record for _, record in ranked[k:])])
    return ranked[:k], rest


class _Tally:
    """Records per key (file, directory or type), at most `capacity` of them at each bound (every BOUND_EVERY
    events of the stream, and at its end). When over, the busiest half is kept (by `_rank`: by the counts
    alone, so deterministically) and the rest is folded into `other`. The shown rows plus "(other)" then
    still add up to the exact totals; "(other)" sums the rows it stands for (a commit touching two folded
    directories counts in it twice)."""

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
            _set_buckets(record, _summed(_pairs(_history(record)), level))


def _new_lane() -> list:
    return [0, 0, 0, 0, {}, set(), None, 0]


def _settle_lane(record: list) -> None:
    run = record[L_RUN]
    if run:
        buckets, key = record[L_BUCKETS], record[L_OPEN]
        buckets[key] = buckets.get(key, 0) + run
        record[L_RUN] = 0
    record[L_OPEN] = None


def _add_lane(into: list, record: list) -> None:
    """Add a lane's or pending path's counts and buckets (not its files) to `into`."""
    for slot in (L_COMMITS, L_LINES, L_SAMPLES, L_DISCARDS):
        into[slot] += record[slot]
    add_counts(into[L_BUCKETS], record[L_BUCKETS])


class _Lanes:
    """GitButler lanes (stacks) and the activity credited to them: a file row to the stack whose vbranch.files
    listed its path last (at that time), a commit to the stack its branch was in (vbranch.created, renamed,
    moved, deleted, archived). The rest is "(unassigned)": the totals less the lanes, never counted here.

    Exact in two processes: a later part does not know the earlier part's lists and branches, so what it could
    not place waits, per path in `pending` (keyed by the stacks whose lists it had seen by then: those replaced
    the earlier part's) and per branch in `pending_branches`, and merge() places it with the earlier part's
    lists. Until its first vbranch.files or vbranch.deleted an instance keeps nothing per path (a log without
    them costs nothing): what would be pending is its file records, taken then (`start`)."""

    def __init__(self) -> None:
        self.seen = False  # a lane event came: the section shows the lanes
        self.tracking = False  # file rows are credited as they come
        self.lists: dict[str, list[str]] = {}  # stack -> its latest paths, in the order of their last update
        self.owner: dict[str, str] = {}  # path -> the stack whose list named it last
        self.known: tuple[str, ...] = ()  # the stacks in lists, sorted: the key of what waits now
        self.branch_of: dict[str, str | None] = {}  # branch -> its stack (None: deleted), as this part saw
        self.named: dict[str, str] = {}  # stack -> the branch last seen in it (the name of a stack gone)
        self.lanes: dict[str, list] = {}  # stack -> its counts (L_*)
        self.pending: dict[tuple[str, ...], dict[str, list]] = {}
        self.pending_branches: dict[str, list[int]] = {}  # branch -> [commits, lines]

    def event(self, kind: str, data) -> None:
        if kind == "vbranch.files":
            self._listed(data.stack, [change.path for change in data.files[:LANE_FILES]])
        elif kind == "vbranch.moved":
            self.branch_of[data.branch] = data.to_stack
            self.named[data.to_stack] = data.branch
        elif kind == "vbranch.renamed":
            self.branch_of[data.from_] = None
            self.branch_of[data.to] = data.stack
            self.named[data.stack] = data.to
        elif kind == "vbranch.deleted":  # its files are no longer its own (a stack gone reports no files)
            self.branch_of[data.branch] = None
            self.named[data.stack] = data.branch
            self._listed(data.stack, [])
        else:  # created, archived
            self.branch_of[data.branch] = data.stack
            self.named[data.stack] = data.branch

    def _listed(self, stack: str, paths: list[str]) -> None:
        self.lists.pop(stack, None)
        self.lists[stack] = paths
        self._own()

    def _own(self) -> None:
        self.owner = {path: stack for stack, paths in self.lists.items() for path in paths}  # latest wins
        self.known = tuple(sorted(self.lists))

    def _lane(self, stack: str) -> list:
        lane = self.lanes.get(stack)
        if lane is None:
            lane = self.lanes[stack] = _new_lane()
        return lane

    def start(self, waiting: dict[str, list]) -> None:
        """Credit file rows from now on; `waiting` is the activity per path so far (all of it waits)."""
        self.tracking = True
        into = self.pending.setdefault((), {})
        for path, record in waiting.items():
            _add_lane(into.get(path) or into.setdefault(path, _new_lane()), record)

    def commit(self, branch: str | None, commits: int, lines: int) -> None:
        """`commits` commits of `branch` and their lines: to its stack's lane, or waiting for the branch."""
        if branch is None:
            return
        if branch in self.branch_of:
            stack = self.branch_of[branch]
            if stack is not None:
                lane = self._lane(stack)
                lane[L_COMMITS] += commits
                lane[L_LINES] += lines
        else:
            waiting = self.pending_branches.get(branch) or self.pending_branches.setdefault(branch, [0, 0])
            waiting[0] += commits
            waiting[1] += lines

    def commits(self, by_branch: dict[str | None, list[int]]) -> None:
        """commit() for commits in a row, added up per branch ([commits, lines]): a call per branch, not per
        commit. Lanes and waiting branches are made in the same order as one by one (a dict keeps the order
        the branches first came in), as long as nothing else makes them in between (lane events, file rows
        credited)."""
        for branch, (commits, lines) in by_branch.items():
            self.commit(branch, commits, lines)
        by_branch.clear()

    def rows(self, slot: int | None, files, bucket: int) -> None:
        """File rows of one event (`slot`: L_SAMPLES, L_DISCARDS, or None for a commit's, events only)."""
        owner, lanes, waiting = self.owner, self.lanes, None
        for change in files:
            path = change.path
            stack = owner.get(path)
            if stack is None:
                if waiting is None:
                    waiting = self.pending.get(self.known) or self.pending.setdefault(self.known, {})
                record = waiting.get(path) or waiting.setdefault(path, _new_lane())
            else:
                record = lanes.get(stack) or self._lane(stack)
                record[L_PATHS].add(path)
            if slot is not None:
                record[slot] += 1
            if record[L_OPEN] != bucket:
                _settle_lane(record)
                record[L_OPEN] = bucket
            record[L_RUN] += 1

    def rolled(self, path: str, samples: int, discards: int, events: int, bucket: int) -> None:
        """A rollup day's row of a path (gitobs gc), once tracking."""
        record = _new_lane()
        record[L_SAMPLES], record[L_DISCARDS], record[L_BUCKETS] = samples, discards, {bucket: events}
        stack = self.owner.get(path)
        if stack is None:
            waiting = self.pending.setdefault(self.known, {})
            _add_lane(waiting.get(path) or waiting.setdefault(path, _new_lane()), record)
        else:
            self._credit(stack, path, record)

    def _credit(self, stack: str, path: str, record: list) -> None:
        lane = self._lane(stack)
        _add_lane(lane, record)
        if record[L_BUCKETS]:
            lane[L_PATHS].add(path)

    def settle(self) -> None:
        for record in [*self.lanes.values(), *(r for waiting in self.pending.values() for r in waiting.values())]:
            _settle_lane(record)

    def regroup(self, level: int) -> None:
        self.settle()
        records = [*self.lanes.values(), *(r for waiting in self.pending.values() for r in waiting.values())]
        for record in records:
            record[L_BUCKETS] = _summed(record[L_BUCKETS].items(), level)

    def merge(self, later: _Lanes) -> None:
        """Take in a later part: place what waits there with these lists and branches, then take its lists,
        branches and lanes (newer than these). Both track paths, or neither does."""
        self.settle()
        later.settle()
        latest_first = [(stack, set(paths)) for stack, paths in reversed(self.lists.items())]
        for key, waiting in later.pending.items():
            replaced = set(key)
            mine = [(stack, paths) for stack, paths in latest_first if stack not in replaced]
            still = tuple(sorted(replaced | set(self.lists)))
            for path, record in waiting.items():
                stack = next((stack for stack, paths in mine if path in paths), None)
                if stack is not None:
                    self._credit(stack, path, record)
                else:
                    into = self.pending.setdefault(still, {})
                    _add_lane(into.get(path) or into.setdefault(path, _new_lane()), record)
        for branch, (commits, lines) in later.pending_branches.items():
            self.commit(branch, commits, lines)
        for stack, lane in later.lanes.items():
            mine = self._lane(stack)
            _add_lane(mine, lane)
            mine[L_PATHS] |= lane[L_PATHS]
        for stack, paths in later.lists.items():
            self.lists.pop(stack, None)
            self.lists[stack] = paths
        self._own()
        self.branch_of.update(later.branch_of)
        self.named.update(later.named)
        self.seen = self.seen or later.seen
        self.tracking = self.tracking or later.tracking

    def label(self, stack: str) -> str:
        """Its branches now (sorted), else the last one seen in it."""
        names = sorted(branch for branch, owner in self.branch_of.items() if owner == stack)
        return ", ".join(names) if names else self.named.get(stack, stack[:8])


# What the report cache keeps of a record: its counts (these slots, settled) and its (bucket, events) pairs,
# packed (_packed).
SAVED_SLOTS = (COMMITS, LINES, DISCARDS, DISCARDED, SAMPLES, SAMPLED, FILES)


def _packed(history: list[int]) -> list[int]:
    """A flat (key, count) list added up and sorted, each key as its step from the one before: a day or hour
    number takes 3 to 5 bytes in msgpack, a step mostly 1. C-level maps: a report saves thousands."""
    keys = history[::2]
    if not all(map(operator.lt, keys, keys[1:])):  # not each bucket once in time order (the common case)
        summed = _summed(_pairs(history))
        keys = sorted(summed)
        history = [0] * (2 * len(keys))
        history[1::2] = map(summed.__getitem__, keys)
    packed = list(history)
    packed[::2] = map(operator.sub, keys, [0, *keys])
    return packed


def _unpacked(packed: list[int]) -> list[int]:
    """The flat (key, count) list of a packed one, made in place (a decoded state is loaded once, and its
    lists become the records'); ValueError if it is not whole."""
    if len(packed) % 2:
        raise ValueError("a heatmap state with a packed list of odd length")
    packed[::2] = accumulate(packed[::2])
    return packed


def _flat(counts: dict[int, int]) -> list[int]:
    flat = [0] * (2 * len(counts))
    flat[::2], flat[1::2] = counts, counts.values()
    return flat


def _pairs_dict(flat: list[int]) -> dict[int, int]:
    return dict(zip(flat[::2], flat[1::2]))


class TallyState(msgspec.Struct, array_like=True):
    records: list[tuple[str, list[int], list[int]]]  # key, counts (SAVED_SLOTS), buckets (_packed)
    other: tuple[list[int], list[int]]
    folded: bool


class LaneState(msgspec.Struct, array_like=True):
    stack: str
    counts: list[int]  # commits, lines, samples, discards
    buckets: dict[int, int]
    paths: list[str]  # sorted


class LanesState(msgspec.Struct, array_like=True):
    seen: bool
    tracking: bool
    lists: list[tuple[str, list[str]]]  # in the order of their last update
    branch_of: dict[str, str | None]
    named: dict[str, str]
    lanes: list[LaneState]
    pending: list[tuple[list[str], list[LaneState]]]  # (stacks whose lists replaced, paths as LaneState.stack)
    pending_branches: dict[str, list[int]]


def _save_lane(key: str, record: list) -> LaneState:
    return LaneState(key, record[:L_BUCKETS], record[L_BUCKETS], sorted(record[L_PATHS]))


def _load_lane(saved: LaneState) -> list:
    return [*saved.counts, saved.buckets, set(saved.paths), None, 0]


def _save_lanes(lanes: _Lanes) -> LanesState:
    # Without what waits: a kept state is of the log from its start (the cache keeps no other), so nothing
    # earlier will ever place it: it is "(unassigned)", as in the instance it came from.
    lanes.settle()
    return LanesState(
        lanes.seen, lanes.tracking, list(lanes.lists.items()), lanes.branch_of, lanes.named,
        [_save_lane(stack, record) for stack, record in lanes.lanes.items()], [], {})


def _load_lanes(lanes: _Lanes, state: LanesState) -> None:
    saved_lanes = [*state.lanes, *(saved for _, waiting in state.pending for saved in waiting)]
    if any(len(saved.counts) != L_BUCKETS for saved in saved_lanes):
        raise ValueError("a heatmap state with a lane of the wrong shape")
    lanes.seen, lanes.tracking = state.seen, state.tracking
    lanes.lists = dict(state.lists)
    lanes._own()
    lanes.branch_of, lanes.named = state.branch_of, state.named
    lanes.lanes = {saved.stack: _load_lane(saved) for saved in state.lanes}
    lanes.pending = {tuple(key): {saved.stack: _load_lane(saved) for saved in waiting}
                     for key, waiting in state.pending}
    lanes.pending_branches = state.pending_branches


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
    hours: list[int]  # _packed
    file_events: list[int]  # _packed
    totals: tuple[list[int], list[int]]
    beyond: tuple[list[int], list[int]]  # the files of commits past their capped lists (BEYOND)
    imported: int  # commits from gitobs import (src "import"): counted, and said
    fed: int  # events fed: where the next bound falls (BOUND_EVERY)
    lanes: LanesState


def _save_record(record: list) -> tuple[list[int], list[int]]:
    """Settled, its (bucket, events) pairs added up and packed (a copy of those still packed as loaded)."""
    _settle(record)
    buckets = _packed(record[BUCKETS]) if record[LIMIT] else list(record[BUCKETS])
    return [record[slot] for slot in SAVED_SLOTS], buckets


def _checked(records: list[tuple]) -> None:
    """ValueError unless each saved record (..., counts, buckets) has its counts and whole pairs: refused
    now, not when its pairs are unpacked. In C: a state holds thousands."""
    if any(map(operator.ne, map(len, map(operator.itemgetter(-2), records)), repeat(len(SAVED_SLOTS)))) or any(
            map(operator.and_, map(len, map(operator.itemgetter(-1), records)), repeat(1))):
        raise ValueError("a heatmap state with a record of the wrong shape")


def _load_record(saved: tuple[list[int], list[int]]) -> list:
    """A record of its kept counts (SAVED_SLOTS) and packed pairs, left packed (LIMIT 0: see _history)."""
    _checked([saved])
    counts, buckets = saved  # the slots in order (see COMMITS): counts to SAMPLED, BUCKETS, STAMP, FILES, OPEN,
    return [*counts[:6], buckets, 0, counts[6], None, 0, 0, 0, 0, 0]  # RUN_*, LIMIT, MARK


def _save_tally(tally: _Tally) -> TallyState:
    return TallyState([(key, *_save_record(record)) for key, record in tally.records.items()],
                      _save_record(tally.other), tally.folded)


def _load_tally(tally: _Tally, state: TallyState) -> None:
    _checked(state.records)  # then each record as _load_record makes it, without a call per record
    tally.records = {key: [*counts[:6], buckets, 0, counts[6], None, 0, 0, 0, 0, 0]
                     for key, counts, buckets in state.records}
    tally.other = _load_record(state.other)
    tally.folded = state.folded


class HeatmapAnalyzer(Analyzer):
    name = "heatmap"
    title = "Activity heatmap"
    consumes = (*KINDS, ROLLUP, *LANE_EVENTS)  # and gitobs gc's daily rollups of older days, and GitButler's lanes
    # a commit's list of files is capped; files_total, added and deleted stay exact (the BEYOND row)
    fields = {**{kind: ("files",) for kind in KINDS}, "commit.created": ("files", "files_total", "added", "deleted",
                                                                    "src", "branch"),
              "vbranch.files": ("stack", "files"), "vbranch.renamed": ("stack", "from_", "to"),
              "vbranch.moved": ("branch", "to_stack"),
              **{kind: ("stack", "branch") for kind in ("vbranch.created", "vbranch.deleted", "vbranch.archived")}}
    order = 10
    state_version = 6  # 5: buckets, hours and events per bucket packed (_packed); 6: events fed
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
        self.lanes = _Lanes()
        self.fed = 0  # events fed so far (BOUND_EVERY)

    def _bucket_option(self) -> int | None:
        text = self.option("bucket", "auto")
        if text == "auto":
            return None
        if text not in LEVEL_NAMES:
            raise GitobsError(f"option heatmap.bucket takes auto, day, week or month, not {text!r}")
        return LEVEL_NAMES.index(text)

    def feed(self, events: Sequence) -> None:
        start, count = 0, len(events)
        while start < count:  # cut where the stream reaches a bound, whatever the batch
            room = BOUND_EVERY - self.fed % BOUND_EVERY
            part = events if not start and room >= count else events[start:start + room]
            self._feed(part)
            start += len(part)
            self.fed += len(part)
            if not self.fed % BOUND_EVERY:
                self._bound()

    def _feed(self, events: Sequence) -> None:
        # The hot loop: one pass, locals only, no Python function call per file (only when a file or
        # directory meets a new time bucket: _enter), nothing per type (see _types). Events mostly come in
        # time order, so the hour (and with it the day and bucket) is only worked out when an event falls
        # outside the hour being counted: two datetime comparisons cost far less than event.t.
        local_epoch = EPOCH - timedelta(seconds=self.context.utc_offset_s)  # hour 0 of local time
        hours, bucket_of, totals, file_events = self.hours, self.bucket_of, self.totals, self.file_events
        find_file, new_file, folder_of = self.files.records.get, self._new_file, self._folder
        # the slots as locals: a local is read faster than a module global, and these are read per file
        open_, stamp, dir_record, run_samples, run_commits = OPEN, STAMP, DIR_RECORD, RUN_SAMPLES, RUN_COMMITS
        kind_of = KINDS.get
        hour, day, run, entries, bucket = None, None, 0, 0, 0
        hour_start = hour_end = BEFORE_ALL
        rollups = []
        capped = self.context.path is None  # --path cuts file lists, not files_total: no remainder is known
        lanes = self.lanes
        tracking = lanes.tracking  # lanes own files: credit each file row (a log without them: nothing to do)
        # While file rows are not credited to lanes (tracking), commits are credited at once (lanes.commits),
        # at the end and before a lane event. Imported commits are counted here, then kept.
        by_branch, imported = {}, 0
        for event in events:
            kind = kind_of(event.type)
            if kind is None:
                if event.type == ROLLUP:
                    rollups.append(event.data)
                    continue
                lanes.commits(by_branch)
                if not tracking and event.type in ("vbranch.files", "vbranch.deleted"):
                    for rollup in rollups:  # in the file records that start waiting, as in one process
                        self._rollup(rollup)
                    rollups.clear()
                    day = None  # a rollup may have made the buckets coarser: the next hour looks its bucket up
                    self._track_lanes()
                    tracking = True
                lanes.seen = True
                lanes.event(event.type, event.data)
                continue
            total, counter, liner = kind
            data = event.data
            files = data.files
            if not files:
                if counter == run_samples:
                    continue  # a clean tree: nothing is being edited
                if counter == RUN_DISCARDS:
                    totals[UNSAMPLED] += 1
            totals[total] += 1
            ts = event.ts
            if not hour_start <= ts < hour_end:
                if run:
                    hours[hour] = hours.get(hour, 0) + run
                    file_events[bucket] = file_events.get(bucket, 0) + entries
                # Exact timedelta arithmetic, not timestamp() and fromtimestamp(), and a new day's start and
                # bucket only when the day changes: multiplying or making a timedelta costs most here.
                since = ts - local_epoch
                hour, run, entries = since.days * 24 + since.seconds // 3600, 0, 0
                if since.days != day:
                    day = since.days
                    day_start = local_epoch + ONE_DAY * day
                    bucket = bucket_of.get(day)
                    if bucket is None:
                        bucket = self._bucket(day)
                hour_start = day_start + HOURS_OF_DAY[since.seconds // 3600]
                hour_end = hour_start + ONE_HOUR
            run += 1
            entries += len(files)  # each file of the event counts one event on it
            if counter == run_commits:
                if event.src == IMPORTED:
                    imported += 1
                beyond = self._beyond_cap(data, bucket) if capped and data.files_total > len(files) else 0
            if counter == run_samples:  # most events: the same loop without lines
                for change in files:
                    path = change.path
                    record = find_file(path) or new_file(path)
                    if record[open_] != bucket:
                        _enter(record, bucket)
                    record[run_samples] += 1
                    folder = record[dir_record] or folder_of(record)
                    if folder[stamp] is not files:  # the event's own list: no counter to keep
                        folder[stamp] = files
                        if folder[open_] != bucket:
                            _enter(folder, bucket)
                        folder[run_samples] += 1
                if tracking:
                    lanes.rows(L_SAMPLES, files, bucket)
                continue
            changed = 0  # a commit's lines as its file rows count them, for its lane
            for change in files:
                path = change.path
                record = find_file(path) or new_file(path)
                if record[open_] != bucket:
                    _enter(record, bucket)
                lines = change.added + change.deleted
                changed += lines
                record[counter] += 1
                record[liner] += lines
                folder = record[dir_record] or folder_of(record)
                if folder[stamp] is not files:
                    folder[stamp] = files
                    if folder[open_] != bucket:
                        _enter(folder, bucket)
                    folder[counter] += 1
                folder[liner] += lines
            if counter == run_commits:
                if tracking:
                    lanes.commit(data.branch, 1, changed + beyond)
                else:
                    waiting = by_branch.get(data.branch)
                    if waiting is None:
                        waiting = by_branch[data.branch] = [0, 0]
                    waiting[0] += 1
                    waiting[1] += changed + beyond
            if tracking:
                lanes.rows(L_DISCARDS if counter == RUN_DISCARDS else None, files, bucket)
        if run:
            hours[hour] = hours.get(hour, 0) + run
            file_events[bucket] = file_events.get(bucket, 0) + entries
        lanes.commits(by_branch)
        self.imported += imported
        for rollup in rollups:
            self._rollup(rollup)

    def _track_lanes(self) -> None:
        """Lanes own files from now on: the activity per path so far waits to be placed (_Lanes)."""
        self.files.settle()
        waiting = {}
        for path, record in self.files.records.items():
            if record[BUCKETS]:
                lane = waiting[path] = _new_lane()
                lane[L_SAMPLES], lane[L_DISCARDS] = record[SAMPLES], record[DISCARDS]
                lane[L_BUCKETS] = _summed(_pairs(_history(record)))
        self.lanes.start(waiting)

    def _beyond_cap(self, data, bucket: int) -> int:
        """A commit whose file list was capped: the files and lines past the list go to the BEYOND row; returns
        those lines."""
        files = data.files_total - len(data.files)
        lines = data.added + data.deleted - sum(change.added + change.deleted for change in data.files)
        record = self.beyond
        if record[OPEN] != bucket:
            _enter(record, bucket)
        record[RUN_COMMITS] += files
        record[LINES] += max(0, lines)
        self.file_events[bucket] = self.file_events.get(bucket, 0) + files
        return max(0, lines)

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
        tracking = self.lanes.tracking
        for path, *counts in data.files:
            _add_rolled(self.files.records.get(path) or self._new_file(path), bucket, counts)
            events = sum(counts[0:5:2])  # commits, discards, samples
            self.file_events[bucket] = self.file_events.get(bucket, 0) + events
            if tracking and events:
                self.lanes.rolled(path, counts[4], counts[2], events, bucket)
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
            _set_buckets(self.beyond, _summed(_pairs(_history(self.beyond)), level))
            self.lanes.regroup(level)
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
        if self.lanes.tracking != later.lanes.tracking:  # lanes own files in one part: both credit file rows
            (later if self.lanes.tracking else self)._track_lanes()
        self.lanes.merge(later.lanes)
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
        self.fed += later.fed
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
            seen_full=self.seen_full, hours=_packed(_flat(self.hours)), file_events=_packed(_flat(self.file_events)),
            totals=_save_record(self.totals), beyond=_save_record(self.beyond),
            imported=self.imported, fed=self.fed, lanes=_save_lanes(self.lanes))

    def load_state(self, state: HeatmapState) -> None:
        if len(state.file_keys) != len(state.files.records):
            raise ValueError("a heatmap state whose files and their keys differ")
        self.level, self.first_day, self.last_day = state.level, state.first_day, state.last_day
        _load_tally(self.files, state.files)
        for record, (folder, file_type) in zip(self.files.records.values(), state.file_keys):
            record += folder, file_type, None  # DIR_KEY, TYPE_KEY, DIR_RECORD (found again when needed)
        _load_tally(self.dirs, state.dirs)
        _load_tally(self.types, state.types)
        self.seen, self.seen_full = set(state.seen), state.seen_full
        self.hours, self.file_events = (_pairs_dict(_unpacked(state.hours)),
                                        _pairs_dict(_unpacked(state.file_events)))
        self.totals = _load_record(state.totals)
        self.beyond = _load_record(state.beyond)
        self.imported = state.imported
        _load_lanes(self.lanes, state.lanes)
        self.fed = state.fed

    def result(self) -> list[AnyBlock]:
        self._bound()  # the stream's end is a bound too (BOUND_EVERY); a kept state is saved before this
        self.files.settle()
        self.dirs.settle()
        _settle(self.beyond)
        beyond = [(BEYOND, self.beyond)] if self.beyond[COMMITS] else []
        files, dirs = _ranked(self.files.records), _ranked(self.dirs.records)  # once for the table and the grid
        blocks: list[AnyBlock] = [self._totals()]
        blocks.append(self._table("by_file", "Most edited files", "file", files, self.files, extra=beyond))
        blocks.append(self._table("by_dir", "Directories", "directory", dirs, self.dirs))
        if self.first_day is not None:
            unit = LEVEL_NAMES[self.level]
            blocks.append(self._grid("by_file_time", f"Files by {unit}", files, self.files, self.file_events, beyond))
            blocks.append(self._grid("by_dir_time", f"Directories by {unit}", dirs, self.dirs))
        if self.lanes.seen:  # GitButler's lanes: only in a log that has them
            blocks += self._lane_blocks()
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

    def _table(self, block_id: str, title: str, name: str, ranked: list[tuple[str, list]], tally: _Tally,
               files: bool = False, extra: Sequence[tuple[str, list]] = ()) -> Table:
        """The top rows of the `ranked` records, "(other)" and the `extra` rows (BEYOND); total_rows counts the
        keys held (not those folded away)."""
        shown, other = _top(ranked, tally.other, tally.folded, self.top_k, buckets=False)

        def row(key: str, record: list) -> list:
            counts = [record[COMMITS], record[LINES], record[DISCARDS], record[DISCARDED], record[SAMPLES]]
            return [key, record[FILES], *counts] if files else [key, *counts]

        rows = [row(key, record) for key, record in shown]
        if other is not None:
            rows.append(row(OTHER, other))
        rows += [row(key, record) for key, record in extra]
        columns = [name, "files", *COLUMNS] if files else [name, *COLUMNS]
        return Table(id=block_id, title=title, columns=columns, rows=rows,
                     total_rows=len(ranked) if len(ranked) > len(shown) else None)

    def _types(self) -> Table:
        # Sums over each type's files (a commit of two .py files counts twice for .py): the spread of
        # the file activity across types.
        groups: dict[str, list[list]] = {key: [record] for key, record in self.types.records.items()}
        for record in self.files.records.values():
            groups.setdefault(record[TYPE_KEY], []).append(record)
        records: dict[str, list] = {}
        for key, group in groups.items():
            _add_all(records.setdefault(key, _new_record()), group)  # files have FILES 0
        return self._table("file_types", "File types (sums over their files)", "type", _ranked(records), self.types,
                           files=True)

    def _grid(self, block_id: str, title: str, ranked: list[tuple[str, list]], tally: _Tally,
              events: dict[int, int] | None = None, extra: Sequence[tuple[str, list]] = ()) -> Grid:
        """The top rows' events per bucket (of the `ranked` records of `tally`), the `extra` rows' (BEYOND) and
        "(other)"'s: all `events` (per bucket) less the rows shown when given, else the sum of the others'
        buckets. "(other)" comes last."""
        level = self.level
        columns = _columns(self.first_day, self.last_day, level)
        index = {key: position for position, key in enumerate(columns)}

        def line(pairs: Iterable[tuple[int, int]]) -> list[int]:
            cells = [0] * len(columns)
            for key, count in pairs:
                cells[index[_column_key(key, level)]] += count
            return cells

        shown, other = _top(ranked, tally.other, tally.folded, self.top_k, buckets=events is None)
        shown = [*shown, *extra]
        labels, cells = [key for key, _ in shown], [line(_pairs(_history(record))) for _, record in shown]
        if other is not None:
            labels.append(OTHER)
            if events is None:
                cells.append(line(_pairs(_history(other))))
            else:
                cells.append([total - sum(column) for total, *column in zip(line(events.items()), *cells)])
        return Grid(id=block_id, title=title, row_labels=labels,
                    column_labels=[_label(key, level) for key in columns], cells=cells, unit="events")

    def _lane_blocks(self) -> list[AnyBlock]:
        """The lanes by their activity, and "(unassigned)": the totals less theirs."""
        lanes = self.lanes
        lanes.settle()
        ranked = sorted(lanes.lanes.items(), key=lambda item: (
            -(item[1][L_COMMITS] + item[1][L_SAMPLES] + item[1][L_DISCARDS]), -item[1][L_LINES],
            lanes.label(item[0]), item[0]))
        shown, rest = ranked[:self.top_k], ranked[self.top_k:]
        others = _new_lane()
        for _, lane in rest:
            _add_lane(others, lane)
            others[L_PATHS] |= lane[L_PATHS]
        records = [*self.files.records.values(), self.files.other]
        unassigned = _new_lane()  # the totals as _totals gives them, less the lanes
        unassigned[L_COMMITS] = self.totals[COMMITS]
        unassigned[L_LINES] = sum(record[LINES] for record in [*records, self.beyond])
        unassigned[L_SAMPLES] = sum(record[SAMPLES] for record in records)
        unassigned[L_DISCARDS] = sum(record[DISCARDS] for record in records)
        unassigned[L_BUCKETS] = dict(self.file_events)
        for _, lane in ranked:
            for slot in (L_COMMITS, L_LINES, L_SAMPLES, L_DISCARDS):
                unassigned[slot] -= lane[slot]
            for key, count in lane[L_BUCKETS].items():
                unassigned[L_BUCKETS][key] = unassigned[L_BUCKETS].get(key, 0) - count
        rows = [(lanes.label(stack), stack[:8], lane) for stack, lane in shown]
        if rest:
            rows.append((OTHER, None, others))
        rows.append((UNASSIGNED, None, unassigned))
        table = Table(
            id="by_lane", title="By GitButler lane (file rows by the stack owning the path then, commits by branch)",
            columns=["lane", "stack", "commits", "lines", "dirty samples", "discards", "files"],
            rows=[[label, stack, lane[L_COMMITS], lane[L_LINES], lane[L_SAMPLES], lane[L_DISCARDS],
                   len(lane[L_PATHS]) if stack is not None or label == OTHER else None] for label, stack, lane in rows],
            total_rows=len(ranked) + 1 if rest else None)
        if self.first_day is None:
            return [table]
        level = self.level
        columns = _columns(self.first_day, self.last_day, level)
        index = {key: position for position, key in enumerate(columns)}
        cells = []
        for _, _, lane in rows:
            line = [0] * len(columns)
            for key, count in lane[L_BUCKETS].items():
                line[index[_column_key(key, level)]] += count
            cells.append(line)
        grid = Grid(id="by_lane_time", title=f"Lanes by {LEVEL_NAMES[level]} (events on the files each owned)",
                    row_labels=[label for label, _, _ in rows], column_labels=[_label(key, level) for key in columns],
                    cells=cells, unit="events")
        return [table, grid]

    @classmethod
    def result_now_key(cls, context: Context) -> str:
        return str(context.report_day())  # only the calendar reads now: it ends with the report's day

    def _calendar(self) -> Calendar:
        # The 53 weeks up to the report's day (its --now, or the last day before --until if that is earlier),
        # like GitHub's profile calendar: it does not move with the newest event, and a quiet stretch before
        # now shows as quiet. Days after it are not shown.
        last = self.context.report_day()
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
