"""Ingest: spool records, new reflog lines, working-tree samples and GitButler's state in, numbered events
appended to the log. The whole scan (its lock, retention, the exports after it) is gitobs/upkeep/scan.py.

Crash safety, in the order of the writes:
1. events are appended to the log and fsynced;
2. the state (cursors, seq, attempts, the names of the spool files consumed) is replaced atomically;
3. the consumed spool files are deleted.
A crash before 2 leaves events the state does not know of: the next scan regenerates them from the same
spool files and reflog lines, with the same ids, and skips them. A crash before 3 leaves spool files the
state lists as consumed: the next scan deletes them unread. So nothing is lost and nothing repeated.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec

from gitobs.capture import gitbutler
from gitobs.capture.discards import Discards
from gitobs.capture.enrich import Enricher
from gitobs.capture.hook_events import HookEvents, take_attempt
from gitobs.capture.install import installed_hooks
from gitobs.capture.pause import Pause, end_pause, read_pause
from gitobs.capture.processes import group
from gitobs.capture.reflog import (
    Cursor,
    ReflogEntry,
    ReflogFile,
    classify,
    parse_line,
    read_new,
    reflog_files,
    split_lines,
)
from gitobs.capture.reflog_events import COMMITTING, ReflogEvents
from gitobs.capture.reflog_twins import PAIR_WAIT_S, ReflogRead, hold_unpaired
from gitobs.capture.rework import Rework
from gitobs.capture.spool import SpoolBatch, SpoolRecord, read_spool
from gitobs.capture.staging import Staging, loose_blob_times
from gitobs.capture.stash_events import STASH_REF, StashEvents
from gitobs.capture.state import (
    REF_TIME_TTL_NS,
    Attempt,
    ScanState,
    load_state,
    save_state,
)
from gitobs.capture.trace2_events import events_of, repo_of
from gitobs.capture.trace2_setup import actor_rules
from gitobs.capture.trace2_spool import home_of, read_routed
from gitobs.capture.worktree_sample import sample_worktree
from gitobs.core.config import ScanSettings
from gitobs.core.liveness import process_alive
from gitobs.core.names import recorded
from gitobs.core.redact import hash_path, repository_salt
from gitobs.core.repo import MAIN_WORKTREE, ObsPaths, worktree_git_dirs
from gitobs.log import schema
from gitobs.log.eventlog import EventLog


@dataclass
class ScanResult:
    skipped: bool = False  # another scan held the lock
    events: int = 0
    records: int = 0
    reflog_entries: int = 0
    seconds: float = 0.0
    garbage: list[str] = field(default_factory=list)
    settings: ScanSettings | None = None  # those the scan read (retention acts on them)
    now_ns: int = 0  # the scan's moment


class Collector:
    """Where the scan's steps emit events. With a salt, file paths are stored as salted hashes
    (capture.paths = false)."""

    def __init__(self, salt: bytes | None = None) -> None:
        self.events: list[tuple[int, schema.Event]] = []
        self.salt = salt

    def emit(self, event_type: str, payload: schema.Payload, *, ts_ns: int, src: str, wt: str,
             provenance: str) -> None:
        if self.salt is not None and getattr(payload, "files", None):
            payload.files = [schema.FileChange(hash_path(f.path, self.salt), f.added, f.deleted)
                             for f in payload.files]
        event = schema.make_event(event_type, payload, ts_ns=ts_ns, src=src, wt=wt, provenance=provenance)
        self.events.append((ts_ns, event))


def _drop(*args, **kwargs) -> None:
    """An emit for a capture category that is off: the state moves on, nothing is stored."""


@dataclass
class _Context:
    """What every step of one scan reads and writes."""

    obs: ObsPaths
    state: ScanState
    settings: ScanSettings
    enricher: Enricher | None
    collector: Collector
    now_ns: int
    worktrees: dict[str, Path]  # worktree -> its git dir, listed once per scan
    pause: Pause | None  # recording paused (active or run out, not yet ended)
    logged_commits: set[str]  # commits the log reports made beyond what the state knows
    lean: bool = False  # the lean hook set: no prepare-commit-msg, post-commit, post-index-change, ...
    stuck: frozenset[str] = frozenset()  # consumed records the spool would not let go: never read again
    reread: bool = False  # the state was lost, the log was not: every reflog is read again from its start
    logged_paths: dict[str, set[str]] = field(default_factory=dict)  # the paths those logged commits changed


def ingest_locked(obs: ObsPaths, discard: bool = False) -> ScanResult:
    """Ingest what is new, under the scan lock (gitobs/upkeep/scan.py takes it). With `discard`, read it all
    and record none of it (every cursor and memory moves on): what `gitobs purge` does before it deletes the
    log, so that nothing purged comes back."""
    started = time.perf_counter()
    now_ns = time.time_ns()
    pause = read_pause(obs.root)
    settings = ScanSettings.load(obs.common_dir, pause is not None and pause.active(now_ns / 1e9))
    if discard:
        settings = replace(settings, hooks=False, reflog=False, worktree=False, gitbutler=False)
    state = load_state(obs.state)
    log = EventLog(obs.log)
    recovered = _recover(state, log)
    last_seq = recovered.last_seq
    stuck = frozenset(_delete(obs.spool, state.consumed))
    salt = None if settings.paths else repository_salt(obs.root)
    ctx = _Context(obs, state, settings, _enricher(obs.common_dir), Collector(salt), now_ns,
                   worktree_git_dirs(obs.common_dir), pause, recovered.commits, _lean(obs), stuck,
                   not state.cursors and recovered.last_seq > max(state.seq, 0), recovered.paths)

    discards = Discards(ctx.collector.emit)
    blob_times = None
    if ctx.lean and ctx.enricher is not None:
        blob_times = loose_blob_times(ctx.enricher.repo, obs.common_dir / "objects")
    staging = Staging(state, ctx.collector.emit, settings.stage_burst_gap, blob_times)
    batch, hooks, ended = _read_hooks(ctx, staging, discards)
    trace2_read = _read_trace2(ctx, discards)
    reflog_count, held = _read_reflogs(ctx, batch.records, staging, discards)
    if held:  # a commit line left for the next scan may be an ended attempt's: it waits with it
        ended = [key for key in ended if key in state.attempts and not _may_be_held(state.attempts[key], now_ns)]
    hooks.abort(ended)  # after the reflogs: an attempt whose commit line came there is no abort
    staging.close_quiet(now_ns)
    gitbutler.observe(obs.common_dir, state.gitbutler, ctx.collector.emit if settings.gitbutler else _drop,
                      now_ns)
    if settings.worktree:
        _sample_worktrees(ctx, discards)
    else:
        state.worktrees = {}  # the first look after capture resumes is a fresh baseline, reporting no loss
    if pause is not None and not pause.active(now_ns / 1e9):
        _resume_expired(ctx, pause)

    events = [event for _, event in sorted(ctx.collector.events, key=lambda pair: pair[0])
              if event.id not in recovered.ids and not discard]
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
    state.log_end = log.end_mark()
    state.consumed = [path.name for path in batch.consumed] + trace2_read + sorted(stuck)
    state.last_scan_ns = now_ns
    state.forget_ref_times_before(now_ns - REF_TIME_TTL_NS)
    state.last_scan_s = round(time.perf_counter() - started, 4)
    save_state(obs.state, state)
    _delete(obs.spool, state.consumed)
    result.settings, result.now_ns = settings, now_ns
    return result


@dataclass
class _Recovered:
    """What the log holds beyond what the state knows: a crash between log and state, or a state lost
    (then the whole log, while every reflog is read again from its start)."""

    last_seq: int
    ids: set[str] = field(default_factory=set)
    # Commits those events report made. A line read again may give another id (git rewrote the reflog
    # and it moved, or it was reported without its twin): its sha still says it is recorded.
    commits: set[str] = field(default_factory=set)
    # Worktree -> the paths those commit.created events changed: not lost, though no event of this scan says so.
    paths: dict[str, set[str]] = field(default_factory=dict)


# Event types that report a commit made, and the field naming it (as the state's recent_commits holds).
_MADE = {"commit.created": "sha", "commit.amended": "new"}


def _recover(state: ScanState, log: EventLog) -> _Recovered:
    if state.log_end and state.log_end == log.end_mark():
        return _Recovered(state.seq)  # the log is as the state left it: a stat instead of a decompression
    tail = log.last_lines(1)
    last_seq = _seq_of(tail[0]) if tail else 0
    if last_seq <= state.seq:
        return _Recovered(max(last_seq, state.seq))
    found = _Recovered(last_seq)
    lines = log.iter_lines() if state.seq <= 0 else log.last_lines(last_seq - state.seq)
    for line in lines:
        try:
            event = schema.decode(line)
        except msgspec.DecodeError:
            continue
        if event.seq > state.seq:
            found.ids.add(event.id)
            made = event.data.get(_MADE.get(event.type, "")) if isinstance(event.data, dict) else None
            if isinstance(made, str):
                found.commits.add(made)
            if event.type == "commit.created" and isinstance(event.data, dict):
                found.paths.setdefault(event.wt, set()).update(
                    file[0] for file in event.data.get("files", []) if file and isinstance(file[0], str))
    return found


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


def _lean(obs: ObsPaths) -> bool:
    """Installed without the hooks git runs per commit or per ref (the default since the lean hook set)."""
    hooks = installed_hooks(obs.manifest)
    return bool(hooks) and "post-commit" not in hooks


def _read_hooks(ctx: _Context, staging: Staging, discards: Discards) -> tuple[SpoolBatch, HookEvents, list[str]]:
    hooks = HookEvents(ctx.state, ctx.enricher, ctx.collector.emit, ctx.lean)
    batch = read_spool(ctx.obs.spool, ctx.now_ns, skip=ctx.stuck)
    batch.records = _captured(ctx.settings, batch.records)
    hooks.feed(batch.records)
    ended = hooks.open_attempts(process_alive, ctx.now_ns)
    if ended:
        # Their git processes are gone now, so every record they wrote exists: read the late ones too.
        seen = {path.name for path in batch.consumed} | ctx.stuck
        late = read_spool(ctx.obs.spool, time.time_ns(), skip=seen)
        late.records = _captured(ctx.settings, late.records)
        batch.extend(late)
        hooks.feed(late.records)
    processes = group(batch.records)
    staging.feed(batch.records, processes)
    discards.feed(batch.records, processes)
    return batch, hooks, ended


def _read_trace2(ctx: _Context, discards: Discards) -> list[str]:
    """git's trace2 files routed to this repository (gitobs/capture/trace2_spool.py): their git.command events,
    and their file discards handed to the discards (where the hooks' view of the same git process wins).
    Stored only where the hooks' are (capture.hooks, not paused); consumed all the same. Returns their names."""
    files = read_routed(ctx.obs, ctx.stuck)
    rules = actor_rules() if files else None
    for file in files:
        home = home_of(repo_of(file.records))
        wt = home[1] if home is not None else MAIN_WORKTREE
        for event_type, payload, ts_ns, origin in events_of(file.records, rules):
            if not ctx.settings.hooks or (ctx.pause is not None and ctx.pause.covers(ts_ns)):
                continue
            if event_type == "edit.discarded":
                discards.from_trace2(wt, payload, ts_ns, origin, file.pid)
            else:
                ctx.collector.emit(event_type, payload, ts_ns=ts_ns, src="trace2", wt=wt, provenance=origin)
    return [file.name for file in files]


def _captured(settings: ScanSettings, records: list[SpoolRecord]) -> list[SpoolRecord]:
    """The records to ingest: gitobs's own notes always; hooks' unless capture.hooks is off or their hook
    is in capture.skip_hooks. The others are consumed all the same, and never stored."""
    return [record for record in records if record.hook.startswith("gitobs-")
            or (settings.hooks and record.hook not in settings.skip_hooks)]


def _resume_expired(ctx: _Context, pause: Pause) -> None:
    """A pause whose --for ran out ends here: what it covered was dropped, from now on all is recorded."""
    end_pause(ctx.obs.root)
    until = pause.until_ns or ctx.now_ns
    resumed = schema.GitobsResumed(by="expiry", paused_s=round((until - pause.since_ns) / 1e9, 3))
    ctx.collector.emit("gitobs.resumed", resumed, ts_ns=until, src="gitobs", wt=MAIN_WORKTREE,
                       provenance=f"resume:{pause.since_ns}")


def _may_be_held(attempt: Attempt, now_ns: int) -> bool:
    """Could this attempt's commit line be one the twin search left for the next scan?"""
    return bool(attempt.msg_ns) and now_ns - attempt.msg_end_ns <= PAIR_WAIT_S * 10**9


def _read_reflogs(ctx: _Context, records: list[SpoolRecord], staging: Staging,
                  discards: Discards) -> tuple[int, bool]:
    """The reflogs' events; returns how many lines were read and whether some were left for the next scan."""
    state = ctx.state
    reads = [_read_reflog(ctx, file) for file in reflog_files(ctx.obs.common_dir, ctx.worktrees)]
    read_count = sum(len(read.entries) for read in reads)
    stand_ins = hold_unpaired(reads, ctx.worktrees, ctx.obs.common_dir, ctx.now_ns / 1e9)
    held = sum(len(read.entries) for read in reads) < read_count
    state.cursors = {read.name: read.cursor.to_json() for read in reads}  # those of deleted reflogs go
    heads = [entry for read in reads if read.file.ref == "HEAD" for entry in read.entries]
    branches = [entry for read in reads if read.file.ref != "HEAD" for entry in read.entries]
    stash = StashEvents(state, ctx.collector.emit if ctx.settings.reflog else _drop)
    stash.from_hooks(records)
    _read_stash_reflog(ctx.obs, state, stash, ctx.now_ns)
    rework = Rework(ctx.enricher, ctx.settings.undo_window)
    on_reset = None
    if ctx.lean:
        def on_reset(entry: ReflogEntry, branch: str | None, ts_ns: int) -> None:
            discards.reset_line(entry.wt, ts_ns, branch, entry.key)
    events = ReflogEvents(state, ctx.enricher, ctx.collector.emit, rework, staging, ctx.logged_commits, on_reset,
                          ends_attempts=ctx.lean)
    events.feed(heads, branches, stash.is_stash_reset, stand_ins)
    return len(heads) + len(branches), held


def _read_reflog(ctx: _Context, file: ReflogFile) -> ReflogRead:
    name = recorded(file.path.relative_to(ctx.obs.common_dir).as_posix())  # the state is JSON: UTF-8
    known = name in ctx.state.cursors
    entries, cursor, _ = read_new(file, Cursor.from_json(ctx.state.cursors.get(name)))
    if not known and file.ref != "HEAD":  # HEAD's reflog holds the rename of its branch, but is never moved
        entries = since_rename(entries, lambda old: ctx.reread
                               or recorded(f"logs/refs/heads/{old}") in ctx.state.cursors)
    if ctx.lean and not ctx.settings.reflog and file.ref == "HEAD":
        _end_attempts(ctx.state, entries)  # the commits are not recorded, but they did end their attempts
    return ReflogRead(file, name, _recorded(ctx, entries), cursor)


def _end_attempts(state: ScanState, entries: list[ReflogEntry]) -> None:
    """With capture.reflog off, the attempts (lean hook set) that HEAD's commit lines end, without a word."""
    committing = [entry for entry in entries if classify(entry.message).op in COMMITTING]
    for number, entry in enumerate(committing):
        left = sum(1 for later in committing[number:] if later.old == entry.old)
        take_attempt(state, entry.wt, entry.old, entry.ts, left)


def _recorded(ctx: _Context, entries: list[ReflogEntry]) -> list[ReflogEntry]:
    """Entries read past the cursor that may be recorded: none while capture.reflog is off, none of those a
    pause covers. The cursor has moved past all of them: switching capture back on backfills nothing."""
    if not ctx.settings.reflog:
        return []
    if ctx.pause is not None:
        return [entry for entry in entries if not ctx.pause.covers(entry.ts * 10**9)]
    return entries


def since_rename(entries: list[ReflogEntry], read_before: Callable[[str], bool] | None = None) -> list[ReflogEntry]:
    """A renamed or copied branch's reflog (`branch -m`, `branch -c`) starts with the old branch's
    lines, already read under the old name: keep what follows git's own "Branch: renamed" line. With
    `read_before` (was the reflog of this old name read?), a rename whose old reflog never was (renamed
    before the first scan) keeps them, under the old name: they are the only copy left, and the twins of
    HEAD's lines."""
    ref = None  # the branch the lines before a rename were logged under
    kept: list[ReflogEntry] = []
    for entry in reversed(entries):
        kind = classify(entry.message)
        if entry.message.startswith("Branch: copied") or (
                kind.op == "branch-renamed" and (read_before is None or read_before(kind.source))):
            return [entry, *reversed(kept)]
        kept.append(replace(entry, ref=ref) if ref else entry)
        if kind.op == "branch-renamed":
            ref = f"refs/heads/{kind.source}"
    return kept[::-1]


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
    lines = split_lines(path.read_bytes()) if stamp else []
    stash.from_reflog([e for e in (parse_line(file, line) for line in lines) if e], stamp[1] if stamp else now_ns)
    state.stash_stamp = stamp


def _sample_worktrees(ctx: _Context, discards: Discards) -> None:
    """Sample every worktree; what vanished from its dirty files since the last sample, and no commit of
    this scan in that worktree changed, was discarded."""
    committed = _committed_paths(ctx.collector, ctx.logged_paths)
    for wt, git_dir in ctx.worktrees.items():
        previous = ctx.state.worktrees.get(wt)
        result = sample_worktree(git_dir, previous)
        if result is None:
            continue
        # Stable across a crash-and-rescan: the same memories give the same id.
        origin = f"sample:{wt}:{_digest(previous)}:{_digest(result.memory)}"
        if result.memory is not None:
            ctx.state.worktrees[wt] = result.memory
        if result.sample is not None:
            ctx.collector.emit("worktree.sample", result.sample, ts_ns=ctx.now_ns, src="worktree", wt=wt,
                               provenance=origin)
        branch = result.sample.branch if result.sample is not None else None
        kept = committed.get(wt, set())
        salt = ctx.collector.salt
        lost = [file for file in result.lost if (hash_path(file.path, salt) if salt else file.path) not in kept]
        discards.settle(wt, lost, ctx.now_ns, origin, branch)
    discards.settle_rest()


def _committed_paths(collector: Collector, logged: dict[str, set[str]]) -> dict[str, set[str]]:
    """Worktree -> the paths its commits of this scan changed (with those a scan that died before its state
    reported), as stored (hashed with capture.paths off). An edit committed on a branch HEAD then left
    (`switch -c`, commit, switch back) is clean, its HEAD's version unchanged, and not lost."""
    paths: dict[str, set[str]] = {wt: set(changed) for wt, changed in logged.items()}
    for _, event in collector.events:
        if event.type == "commit.created":
            paths.setdefault(event.wt, set()).update(file.path for file in event.data.files)
    return paths


def _digest(memory: object) -> str:
    return hashlib.blake2b(msgspec.json.encode(memory), digest_size=8).hexdigest()


def _delete(spool: Path, names: list[str]) -> list[str]:
    """Consumed records go. Those that cannot (a read-only spool) are returned: they stay listed in the state,
    unread, and the next scan tries again, instead of every scan failing on them."""
    stuck = []
    for name in names:
        try:
            os.unlink(spool / name)
        except FileNotFoundError:
            pass
        except OSError:
            stuck.append(name)
    return stuck
