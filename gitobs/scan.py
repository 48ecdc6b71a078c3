"""`gitobs scan`: spool records and new reflog lines in, numbered events appended to the log.

Crash safety, in the order of the writes:
1. events are appended to the log and fsynced;
2. the state (cursors, seq, attempts, the names of the spool files consumed) is replaced atomically;
3. the consumed spool files are deleted.
A crash before 2 leaves events the state does not know of: the next scan regenerates them from the same
spool files and reflog lines, with the same ids, and skips them. A crash before 3 leaves spool files the
state lists as consumed: the next scan deletes them unread. So nothing is lost and nothing repeated.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from gitobs import schema
from gitobs.enrich import Enricher
from gitobs.eventlog import EventLog
from gitobs.hook_events import HookEvents
from gitobs.lock import exclusive
from gitobs.reflog import Cursor, ReflogEntry, ReflogFile, parse_line, read_new, reflog_files
from gitobs.reflog_events import ReflogEvents
from gitobs.repo import MAIN_WORKTREE, GitobsError, ObsPaths, worktree_git_dirs
from gitobs.scanstate import ScanState, load_state, save_state
from gitobs.spool import SpoolBatch, SpoolRecord, process_alive, read_spool
from gitobs.stash_events import STASH_REF, StashEvents


@dataclass
class ScanResult:
    skipped: bool = False  # another scan held the lock
    events: int = 0
    records: int = 0
    reflog_entries: int = 0
    seconds: float = 0.0
    garbage: list[str] = field(default_factory=list)


class _Collector:
    def __init__(self) -> None:
        self.events: list[tuple[int, schema.Event]] = []

    def emit(self, event_type: str, payload: schema.Payload, *, ts_ns: int, src: str, wt: str,
             provenance: str) -> None:
        event = schema.make_event(event_type, payload, ts_ns=ts_ns, src=src, wt=wt, provenance=provenance)
        self.events.append((ts_ns, event))


def scan(common_dir: Path, wait_s: float = 30.0) -> ScanResult:
    obs = ObsPaths(common_dir)
    if not obs.is_enabled():
        raise GitobsError(f"gitobs is not installed in {common_dir} (run gitobs install)")
    with exclusive(obs.lock, wait_s) as held:
        if not held:
            return ScanResult(skipped=True)
        return _scan_locked(obs)


def _scan_locked(obs: ObsPaths) -> ScanResult:
    started = time.perf_counter()
    now_ns = time.time_ns()
    state = load_state(obs.state)
    log = EventLog(obs.log)
    known_ids, last_seq = _recover(state, log)
    _delete(obs.spool, state.consumed)
    enricher = _enricher(obs.common_dir)
    collector = _Collector()

    batch = _read_hooks(obs, state, enricher, collector, now_ns)
    reflog_count = _read_reflogs(obs, state, enricher, collector, batch.records, now_ns)

    events = [event for _, event in sorted(collector.events, key=lambda pair: pair[0])
              if event.id not in known_ids]
    result = ScanResult(events=len(events), records=len(batch.records), reflog_entries=reflog_count,
                        garbage=batch.garbage)
    if events:
        result.seconds = round(time.perf_counter() - started, 4)
        events.append(schema.make_event("gitobs.scan", schema.GitobsScan(
            records=result.records, reflog_entries=reflog_count, events=len(events), seconds=result.seconds),
            ts_ns=now_ns, src="gitobs", wt=MAIN_WORKTREE, provenance=f"scan:{now_ns}"))
    for offset, event in enumerate(events, start=1):
        event.seq = last_seq + offset
    log.append([schema.encode(event) for event in events])

    state.seq = last_seq + len(events)
    state.consumed = [path.name for path in batch.consumed_paths]
    state.last_scan_ns = now_ns
    state.last_scan_s = round(time.perf_counter() - started, 4)
    save_state(obs.state, state)
    _delete(obs.spool, state.consumed)
    return result


def _recover(state: ScanState, log: EventLog) -> tuple[set[str], int]:
    """Ids already in the log beyond what the state knows (a crash between log and state), and the last seq."""
    tail = log.last_lines(1)
    last_seq = _seq_of(tail[0]) if tail else 0
    if last_seq <= state.seq:
        return set(), max(last_seq, state.seq)
    known: set[str] = set()
    lines = log.iter_lines() if state.seq <= 0 else log.last_lines(last_seq - state.seq)
    for line in lines:
        try:
            event = schema.decode(line)
        except msgspec.DecodeError:
            continue
        if event.seq > state.seq:
            known.add(event.id)
    return known, last_seq


def _seq_of(line: bytes) -> int:
    try:
        return schema.decode(line).seq
    except msgspec.DecodeError:
        return 0


def _enricher(common_dir: Path) -> Enricher | None:
    try:
        return Enricher(common_dir)
    except Exception:  # pygit2 cannot open it (unsupported extension): events without enrichment
        return None


class _Batch:
    def __init__(self) -> None:
        self.records: list[SpoolRecord] = []
        self.consumed_paths: list[Path] = []
        self.garbage: list[str] = []

    def add(self, spool: SpoolBatch) -> None:
        self.records.extend(spool.records)
        self.consumed_paths.extend(spool.consumed)
        self.garbage.extend(spool.garbage)


def _read_hooks(obs: ObsPaths, state: ScanState, enricher: Enricher | None, collector: _Collector,
                now_ns: int) -> _Batch:
    batch = _Batch()
    hooks = HookEvents(state, enricher, collector.emit)
    first = read_spool(obs.spool, now_ns)
    batch.add(first)
    hooks.feed(first.records)
    ended = hooks.open_attempts(process_alive, now_ns)
    if ended:
        # Their git processes are gone now, so every record they wrote exists: read the late ones too.
        seen = {path.name for path in first.consumed}
        late = read_spool(obs.spool, time.time_ns(), skip=seen)
        batch.add(late)
        hooks.feed(late.records)
    hooks.abort(ended)
    return batch


def _read_reflogs(obs: ObsPaths, state: ScanState, enricher: Enricher | None, collector: _Collector,
                  records: list[SpoolRecord], now_ns: int) -> int:
    heads: list[ReflogEntry] = []
    branches: list[ReflogEntry] = []
    cursors: dict[str, list] = {}
    for file in reflog_files(obs.common_dir, worktree_git_dirs(obs.common_dir)):
        name = file.path.relative_to(obs.common_dir).as_posix()
        known = name in state.cursors
        entries, cursor, _ = read_new(file, Cursor.from_json(state.cursors.get(name)))
        if not known:
            entries = _since_rename(entries)
        cursors[name] = cursor.to_json()
        (heads if file.ref == "HEAD" else branches).extend(entries)
    state.cursors = cursors  # cursors of reflogs that are gone (deleted branches) are dropped
    stash = StashEvents(state, collector.emit)
    stash.from_hooks(records)
    _read_stash_reflog(obs, state, stash, now_ns)
    ReflogEvents(state, enricher, collector.emit).feed(heads, branches, stash.is_stash_reset)
    return len(heads) + len(branches)


def _since_rename(entries: list[ReflogEntry]) -> list[ReflogEntry]:
    """A renamed or copied branch's reflog (`branch -m`, `branch -c`) starts with the old branch's
    lines, already read under the old name: keep what follows git's own "Branch: renamed" line."""
    for index in range(len(entries) - 1, -1, -1):
        if entries[index].message.startswith(("Branch: renamed", "Branch: copied")):
            return entries[index:]
    return entries


def _read_stash_reflog(obs: ObsPaths, state: ScanState, stash: StashEvents, now_ns: int) -> None:
    """Read whole, and only when its size or mtime changed since the last look."""
    path = obs.common_dir / "logs" / STASH_REF
    try:
        info = path.stat()
        stamp = [info.st_size, info.st_mtime_ns]
    except FileNotFoundError:
        stamp = []
    if stamp == state.stash_stamp:
        return
    file = ReflogFile(path, STASH_REF, MAIN_WORKTREE)
    lines = path.read_bytes().splitlines(keepends=True) if stamp else []
    stash.from_reflog([e for e in (parse_line(file, line) for line in lines) if e], stamp[1] if stamp else now_ns)
    state.stash_stamp = stamp


def _delete(spool: Path, names: list[str]) -> None:
    for name in names:
        try:
            os.unlink(spool / name)
        except FileNotFoundError:
            pass
