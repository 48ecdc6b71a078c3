"""Prometheus metrics of one repository's log, kept as an incremental state in `.git/obs/metrics.json`.

An update folds the events past the state's seq into its counters and histograms and saves it atomically,
under the scan lock; it reads from the place in the log where the last one stopped, so a scrape costs the
new events, not a replay. Counters only grow:
- lines at or below the state's seq are skipped, so a seal or a rewrite of the log costs a re-read, never a
  double count;
- `gitobs gc` first brings an existing state up to date (`catch_up`), so every raw event it rolls up was
  counted before, and its `rollup.day` (whose seq is that of the last event it replaces) is skipped. A
  rollup past the seq (the state is new or was deleted) counts what it kept: events by type, files by
  extension and operation, commits by branch, aborted and blocked commits, message-edit times (within its
  sketch's error). Lines per commit and sessions need raw events: rolled-up days never seen raw add none;
- trimmed or purged lines were counted already (`gitobs purge` deletes the state too).

Labels stay bounded: branches and extensions take one of MAX_BRANCHES / MAX_EXTENSIONS slots, a slot idle
for SLOT_IDLE_S (by event time) is given to the next newcomer (its series ends), and with no slot free a
newcomer counts under OTHER. Names are kept here in clear, as the log keeps them; exporters hash them.
"""

from __future__ import annotations

import bisect
import calendar
import fnmatch
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from gitobs.core.config import load as load_config
from gitobs.core.config import main_work_tree
from gitobs.core.files import write_atomic
from gitobs.core.lock import exclusive
from gitobs.core.redact import kept_extension
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.export.prometheus import commands
from gitobs.export.prometheus.exposition import Family, Labels, Sample, histogram
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.replay.stats import QuantileSketch

STATE_FILE = "metrics.json"
FORMAT = 1  # a state of another format is recounted from the log
OTHER, DETACHED, NO_EXTENSION = "~other", "~detached", "(none)"  # "~" is in no branch name git allows
MAX_BRANCHES, MAX_EXTENSIONS = 20, 30
SLOT_IDLE_S = 30 * 86400
STAGES = frozenset({"nothing-to-commit", "editor", "empty-message", "unknown"})
BLOCKING_HOOKS = frozenset({"pre-commit", "commit-msg"})
LINE_BOUNDS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000)
EDIT_BOUNDS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
SESSION_BOUNDS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800)
OPERATIONS = {"commit.created": "commit", "edit.discarded": "discard", "worktree.sample": "sample"}
CREATED_COLUMN = schema.HESITATION_COUNTS.index("commit.created")
# a message-edit sketch bucket's estimate is 2 gamma^i / (gamma + 1), as QuantileSketch.quantile takes it
GAMMA = (1 + QuantileSketch.RELATIVE_ERROR) / (1 - QuantileSketch.RELATIVE_ERROR)
Warn = Callable[[str], None]


class Histogram(msgspec.Struct):
    counts: list[int]  # per bound, then beyond the last (+Inf); not cumulative
    sum: float = 0.0

    @classmethod
    def over(cls, bounds: tuple) -> Histogram:
        return cls([0] * (len(bounds) + 1))

    def observe(self, bounds: tuple, value: float, times: int = 1) -> None:
        self.counts[bisect.bisect_left(bounds, value)] += times
        self.sum += value * times


class Slots(msgspec.Struct):
    """Counts by a label value, at most `capacity` values at once (see the module's docstring)."""

    counts: dict[str, int] = {}
    seen: dict[str, str] = {}  # value -> ts of its latest event

    def add(self, value: str, ts: str, amount: int, capacity: int) -> None:
        if value not in self.counts and value != OTHER and len(self.seen) >= capacity and not self._free(ts):
            value = OTHER
        self.counts[value] = self.counts.get(value, 0) + amount
        if value != OTHER and ts > self.seen.get(value, ""):
            self.seen[value] = ts

    def _free(self, ts: str) -> bool:
        idlest = min(self.seen, key=self.seen.__getitem__)
        if seconds(ts) - seconds(self.seen[idlest]) < SLOT_IDLE_S:
            return False
        del self.seen[idlest], self.counts[idlest]
        return True


class Sessions(msgspec.Struct):
    """Sittings as the patterns section splits them: activity further apart than the idle gap starts a new
    one. A session is observed once it is over (the next one began, or an update came a gap after it);
    an event written late for a session already observed is left out."""

    start: str = ""  # the open session's first activity ("" when none is open)
    last: str = ""  # its latest
    limit: str = ""  # last + gap, as of when it was last refreshed (an ISO time: compared as text)
    closed: str = ""  # the latest activity of the last session observed
    durations: Histogram = msgspec.field(default_factory=lambda: Histogram.over(SESSION_BOUNDS))

    def see(self, ts: str, gap: float) -> None:
        if self.start and ts > self.limit:
            self.limit = iso(seconds(self.last) + gap)
            if ts > self.limit:
                self.close()
        if not self.start:
            if self.closed and ts <= iso(seconds(self.closed) + gap):
                return
            self.start = self.last = ts
            self.limit = iso(seconds(ts) + gap)
        elif ts > self.last:
            self.last = ts

    def close(self) -> None:
        self.durations.observe(SESSION_BOUNDS, round(seconds(self.last) - seconds(self.start), 3))
        self.closed, self.start, self.last, self.limit = self.last, "", "", ""

    def close_if_over(self, now_s: float, gap: float) -> bool:
        if self.start and now_s - seconds(self.last) > gap:
            self.close()
            return True
        return False


class MetricsState(msgspec.Struct):
    format: int = FORMAT
    seq: int = 0  # the last event counted
    log_id: list[int] = []  # device and inode of the log directory (gc puts a new one in place)
    place: list = []  # [segment, byte offset] the last update read up to
    events: dict[str, int] = {}  # by type (a rollup counts the events it replaced)
    commits: Slots = msgspec.field(default_factory=Slots)  # by branch
    files: dict[str, Slots] = {}  # operation -> by extension
    aborted: dict[str, int] = {}  # by stage
    blocked: dict[str, int] = {}  # by hook
    lines: Histogram = msgspec.field(default_factory=lambda: Histogram.over(LINE_BOUNDS))
    message_edit: Histogram = msgspec.field(default_factory=lambda: Histogram.over(EDIT_BOUNDS))
    sessions: Sessions = msgspec.field(default_factory=Sessions)
    git: commands.GitMetrics = msgspec.field(default_factory=commands.GitMetrics)  # git.command (trace2)


def seconds(ts: str) -> float:
    """Seconds since the epoch of an envelope ts (2026-11-23T18:06:17.172Z), without strptime's cost."""
    try:
        whole = calendar.timegm((int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]),
                                 int(ts[17:19]), 0, 0, 0))
        return whole + int(ts[20:23]) / 1000
    except (ValueError, IndexError):
        return 0.0


def iso(moment: float) -> str:
    return schema.format_ts(int(moment * 1000) * 10**6)


# -- reading the log ---------------------------------------------------------------------------------------

class _Envelope(msgspec.Struct):
    seq: int = 0
    ts: str = ""
    type: str = ""
    src: str = ""
    data: msgspec.Raw = msgspec.Raw(b"{}")


class _Seq(msgspec.Struct):
    seq: int = 0


_envelope = msgspec.json.Decoder(_Envelope)
_seq = msgspec.json.Decoder(_Seq)
_payloads = {kind: msgspec.json.Decoder(schema.PAYLOADS[kind]) for kind in (
    "commit.created", "edit.discarded", "worktree.sample", "commit.message_edit", "commit.aborted",
    "commit.blocked", "git.command", schema.ROLLUP)}


def new_events(log: EventLog, state: MetricsState, warn: Warn) -> Iterator[_Envelope]:
    """The events past the state's seq, from its place on; the place moves along as they are read."""
    def damaged(corruption) -> None:
        warn(f"damaged log: {corruption.describe()}; skipped (gitobs doctor --repair)")

    for place, content in log.iter_contents_from(state.place, damaged):
        lines = content.split(b"\n")
        lines.pop()
        try:
            newest = _seq.decode(lines[-1]).seq
        except (msgspec.DecodeError, msgspec.ValidationError):
            newest = state.seq + 1  # look line by line
        if newest > state.seq:
            for line in lines:
                try:
                    event = _envelope.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
                if event.seq > state.seq:
                    yield event
                    state.seq = event.seq
        state.place = place


# -- folding events in -------------------------------------------------------------------------------------

class Folder:
    """Adds events to a state. `activity`: the event types that make up sessions (the patterns section's)."""

    def __init__(self, state: MetricsState, gap: float, activity: tuple[str, ...]) -> None:
        self.state, self.gap, self.activity = state, gap, activity
        self.in_sessions: dict[str, bool] = {}
        self.extensions: dict[str, str] = {}  # path -> extension(path): paths recur, the rule costs
        self.handlers = {"commit.created": self._commit, "edit.discarded": self._files,
                         "worktree.sample": self._files, "commit.message_edit": self._message_edit,
                         "commit.aborted": self._aborted, "commit.blocked": self._blocked,
                         "git.command": self._git_command, schema.ROLLUP: self._rollup}

    def add(self, event: _Envelope) -> None:
        if event.src == schema.IMPORTED:
            return  # history recorded after the fact: counted, it would be one huge step at import time
        kind, state = event.type, self.state
        if kind != schema.ROLLUP:
            key = kind if kind in schema.PAYLOADS else OTHER
            state.events[key] = state.events.get(key, 0) + 1
        handler = self.handlers.get(kind)
        if handler is not None:
            try:
                payload = _payloads[kind].decode(event.data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                payload = None  # counted by type, nothing more to take from it
            if payload is not None:
                handler(payload, event.ts, kind)
        counts = self.in_sessions.get(kind)
        if counts is None:
            counts = self.in_sessions[kind] = any(fnmatch.fnmatchcase(kind, glob) for glob in self.activity)
        if counts:
            state.sessions.see(event.ts, self.gap)

    def _commit(self, data: schema.CommitCreated, ts: str, kind: str) -> None:
        self.state.commits.add(data.branch if data.branch is not None else DETACHED, ts, 1, MAX_BRANCHES)
        self.state.lines.observe(LINE_BOUNDS, data.added + data.deleted)
        self._files(data, ts, kind)

    def _files(self, data: schema.CommitCreated | schema.EditDiscarded | schema.WorktreeSample, ts: str,
               kind: str) -> None:
        slots = self.state.files.get(OPERATIONS[kind])
        if slots is None:
            slots = self.state.files[OPERATIONS[kind]] = Slots()
        known, counts = self.extensions, {}
        for change in data.files:
            ext = known.get(change.path)
            if ext is None:
                ext = known[change.path] = extension(change.path)
            counts[ext] = counts.get(ext, 0) + 1
        for ext, count in counts.items():
            slots.add(ext, ts, count, MAX_EXTENSIONS)

    def _message_edit(self, data: schema.CommitMessageEdit, ts: str, kind: str) -> None:
        self.state.message_edit.observe(EDIT_BOUNDS, data.seconds)

    def _aborted(self, data: schema.CommitAborted, ts: str, kind: str) -> None:
        _count(self.state.aborted, data.stage if data.stage in STAGES else OTHER)

    def _blocked(self, data: schema.CommitBlocked, ts: str, kind: str) -> None:
        _count(self.state.blocked, data.hook if data.hook in BLOCKING_HOOKS else OTHER)

    def _git_command(self, data: schema.GitCommand, ts: str, kind: str) -> None:
        self.state.git.add(data)

    def _rollup(self, day: schema.RollupDay, ts: str, kind: str) -> None:
        """What a day rolled up before this state saw it kept of what is counted here."""
        state, end = self.state, f"{day.day}T23:59:59.999Z"
        for kind_of, count in day.counts.items():
            _count(state.events, kind_of if kind_of in schema.PAYLOADS else OTHER, count)
        for path, commits, _, discards, _, samples in day.files:
            for operation, count in (("commit", commits), ("discard", discards), ("sample", samples)):
                if count:
                    state.files.setdefault(operation, Slots()).add(extension(path), end, count, MAX_EXTENSIONS)
        for row in day.by_branch:
            if len(row.counts) > CREATED_COLUMN and row.counts[CREATED_COLUMN]:
                branch = row.branch if row.branch is not None else DETACHED
                state.commits.add(branch, end, row.counts[CREATED_COLUMN], MAX_BRANCHES)
        for stage, count in day.aborted_by_stage.items():
            _count(state.aborted, stage if stage in STAGES else OTHER, count)
        for hook, count in day.blocked_by_hook.items():
            _count(state.blocked, hook if hook in BLOCKING_HOOKS else OTHER, count)
        sketch = day.message_edit
        if sketch.zeros:
            state.message_edit.observe(EDIT_BOUNDS, 0.0, sketch.zeros)
        for index, count in sketch.bins.items():  # each bucket at its sketch's estimate
            estimate = 2 * GAMMA ** index / (GAMMA + 1)
            state.message_edit.observe(EDIT_BOUNDS, min(estimate, sketch.max or estimate), count)


def _count(counts: dict[str, int], key: str, amount: int = 1) -> None:
    counts[key] = counts.get(key, 0) + amount


def extension(path: str) -> str:
    """A file's type as a label: the extension a hashed path keeps (so the same with capture.paths off)."""
    return kept_extension(path.rpartition("/")[2]) or NO_EXTENSION


# -- the state on disk -------------------------------------------------------------------------------------

def state_path(obs: ObsPaths) -> Path:
    return obs.root / STATE_FILE


def load(obs: ObsPaths) -> MetricsState:
    """The saved state; a new one when there is none, it is damaged or of another format (recounted)."""
    try:
        state = msgspec.json.decode(state_path(obs).read_bytes(), type=MetricsState)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return MetricsState()
    return state if state.format == FORMAT else MetricsState()


def save(obs: ObsPaths, state: MetricsState) -> None:
    write_atomic(state_path(obs), msgspec.json.encode(state))


def session_settings(options: dict[str, str]) -> tuple[float, tuple[str, ...]]:
    """The patterns section's idle gap (its default, or `patterns.idle_gap` in the report.options setting)
    and the event types it takes as activity: the sessions here are the report's."""
    from gitobs_plugins.patterns import PatternsAnalyzer

    from gitobs.replay.analysis import Context

    gap = {key: value for key, value in options.items() if key == "patterns.idle_gap"}
    return PatternsAnalyzer(Context(now=0.0, options=gap)).gap, PatternsAnalyzer.consumes


def _log_id(obs: ObsPaths) -> list[int]:
    try:
        info = os.stat(obs.log)
    except FileNotFoundError:
        return []
    return [info.st_dev, info.st_ino]


def update(obs: ObsPaths, gap: float, activity: tuple[str, ...], wait_s: float = 2.0, now_s: float | None = None,
           warn: Warn = lambda message: None) -> MetricsState:
    """The state with what the log gained folded in, saved; the state as last saved when a scan or gc
    kept the lock for `wait_s` seconds."""
    if not obs.root.is_dir():
        raise GitobsError(f"no gitobs data in {obs.common_dir} (run gitobs install)")
    with exclusive(obs.lock, wait_s) as held:
        if not held:
            return load(obs)
        return update_locked(obs, gap, activity, now_s, warn)


def update_locked(obs: ObsPaths, gap: float, activity: tuple[str, ...], now_s: float | None = None,
                  warn: Warn = lambda message: None) -> MetricsState:
    state = load(obs)
    before = (state.seq, list(state.place), list(state.log_id))
    log, log_id = EventLog(obs.log), _log_id(obs)
    if state.log_id != log_id:
        state.place, state.log_id = [], log_id  # rewritten: read it all again, skipping by seq
    if state.place != log.end_mark() or not state.place:
        folder = Folder(state, gap, activity)
        for event in new_events(log, state, warn):
            folder.add(event)
    closed = state.sessions.close_if_over(time.time() if now_s is None else now_s, gap)
    if closed or before != (state.seq, state.place, state.log_id):
        save(obs, state)
    return state


def catch_up(obs: ObsPaths) -> None:
    """Before gc rewrites the log (under its lock): bring an existing state up to date, so that what is
    rolled up or trimmed has been counted. If that fails the state is dropped: counters then start over
    (a reset, which Prometheus understands) rather than count rolled-up days twice."""
    if not state_path(obs).exists():
        return
    try:
        options = load_config(obs.common_dir, main_work_tree(obs.common_dir))["report.options"]
        update_locked(obs, *session_settings(options))
    except Exception:  # noqa: BLE001 - gc goes on whatever happens here
        try:
            state_path(obs).unlink()
        except OSError:
            pass


def forget(obs: ObsPaths) -> None:
    """`gitobs purge`: the counts go with the events."""
    try:
        state_path(obs).unlink()
    except FileNotFoundError:
        pass


# -- as Prometheus families --------------------------------------------------------------------------------

# name -> (type, help); the events a plain counter counts are EVENT_COUNTERS'
FAMILIES = {
    "gitobs_events_total": ("counter", "Events recorded, by type (rolled-up days count the events they replaced)."),
    "gitobs_commits_total": ("counter", "Commits made (commit.created), by branch."),
    "gitobs_files_modified_total": ("counter", "Files in commits, discards and dirty samples, by extension."),
    "gitobs_commit_attempts_total": ("counter", "Commit attempts (commit.attempt)."),
    "gitobs_commits_aborted_total": ("counter", "Commit attempts that made no commit, by stage."),
    "gitobs_commits_blocked_total": ("counter", "Commits refused by your own pre-commit or commit-msg hook."),
    "gitobs_commits_amended_total": ("counter", "Commits amended (commit.amended)."),
    "gitobs_commits_undone_total": ("counter", "Resets that took recent commits back off (commit.undone)."),
    "gitobs_commits_reverted_total": ("counter", "Commits that revert another (commit.reverted)."),
    "gitobs_edits_discarded_total": ("counter", "Uncommitted changes thrown away (edit.discarded)."),
    "gitobs_branch_switches_total": ("counter", "Branch switches (branch.switch)."),
    "gitobs_commit_changed_lines": ("histogram", "Lines added plus deleted per commit."),
    "gitobs_message_edit_seconds": ("histogram", "Seconds the commit message editor was open."),
    "gitobs_session_seconds": ("histogram", "Work sessions (activity split at the patterns section's idle gap)."),
    "gitobs_log_bytes": ("gauge", "Size of the event log on disk."),
    "gitobs_last_scan_timestamp_seconds": ("gauge", "When the last scan ran (seconds since the epoch)."),
    "gitobs_last_scan_duration_seconds": ("gauge", "What the last scan cost."),
}
EVENT_COUNTERS = {"gitobs_commit_attempts_total": "commit.attempt", "gitobs_commits_amended_total": "commit.amended",
                  "gitobs_commits_undone_total": "commit.undone", "gitobs_commits_reverted_total": "commit.reverted",
                  "gitobs_edits_discarded_total": "edit.discarded", "gitobs_branch_switches_total": "branch.switch"}


def families(state: MetricsState, obs: ObsPaths, labels: Labels, branch_label: Callable[[str], str]
             ) -> list[Family]:
    """The state as families, each sample with `labels` first; `branch_label` shows a branch name."""
    out = {name: Family(name, kind, text) for name, (kind, text) in FAMILIES.items()}

    def put(name: str, value: float, *more: tuple[str, str]) -> None:
        out[name].samples.append(Sample(name, (*labels, *more), value))

    for kind, count in sorted(state.events.items()):
        put("gitobs_events_total", count, ("type", kind))
    for branch, count in sorted(state.commits.counts.items()):
        put("gitobs_commits_total", count, ("branch", branch if branch in (OTHER, DETACHED) else branch_label(branch)))
    for operation, slots in sorted(state.files.items()):
        for ext, count in sorted(slots.counts.items()):
            put("gitobs_files_modified_total", count, ("op", operation), ("ext", ext))
    for name, kind in EVENT_COUNTERS.items():
        put(name, state.events.get(kind, 0))
    for stage, count in sorted(state.aborted.items()):
        put("gitobs_commits_aborted_total", count, ("stage", stage))
    for hook, count in sorted(state.blocked.items()):
        put("gitobs_commits_blocked_total", count, ("hook", hook))
    for name, bounds, kept in (("gitobs_commit_changed_lines", LINE_BOUNDS, state.lines),
                               ("gitobs_message_edit_seconds", EDIT_BOUNDS, state.message_edit),
                               ("gitobs_session_seconds", SESSION_BOUNDS, state.sessions.durations)):
        out[name].samples.extend(histogram(name, labels, bounds, kept.counts, round(kept.sum, 6)))
    scanned = _scan_times(obs)
    put("gitobs_log_bytes", EventLog(obs.log).size_bytes())
    put("gitobs_last_scan_timestamp_seconds", round(scanned.last_scan_ns / 1e9, 3))
    put("gitobs_last_scan_duration_seconds", scanned.last_scan_s)
    return [*out.values(), *commands.families(state.git, labels)]


class _ScanTimes(msgspec.Struct):
    last_scan_ns: int = 0
    last_scan_s: float = 0.0


def _scan_times(obs: ObsPaths) -> _ScanTimes:
    """The scanner's state holds when it last ran: read only that."""
    try:
        return msgspec.json.decode(obs.state.read_bytes(), type=_ScanTimes)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return _ScanTimes()

