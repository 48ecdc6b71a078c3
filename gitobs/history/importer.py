"""`gitobs import`: what the history already shows, backfilled into the log as `src: import` events.

1. A scan first, so that the scanner reports what it can (exact hook times, branches from the reflog).
   git log starts before it, from the tips as they stand then, and diffs while it runs; step 4 keeps that
   walk only if the tips step 2 reads give the same one.
2. Under the scan lock: the branch tips and worktree HEADs (gitobs/history/branch_tips.py), then the reflogs split
   at the scanner's cursors (gitobs/history/reflog.py), then what the log holds already
   (gitobs/history/recorded.py). Tips come first: a commit made later is not reachable from them, and its
   reflog line, if the scanner has not read it, is among those it will report.
3. Events for the reflog lines the scanner has read but the log does not hold, made by the scanner's code.
4. `commit.created` for every commit of the user's (gitobs/history/authors.py; everyone's with
   `all_authors`) that the tips reach and no event names yet, streamed from `git log --numstat -M` in
   batches, several at once (gitobs/history/gitlog.py), children first, every file under its newest path
   (gitobs/history/renames.py), with its committer time: appended in chunks, each under the lock and
   numbered then. Merges count no lines unless `merge_churn`. The import cursor (gitobs/history/cursor.py)
   moves when the walk is complete.

Nothing is held for the whole history: one chunk of events, the shas the log names, the rename map.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pygit2

from gitobs.capture.enrich import (
    GITBUTLER_EMAIL,
    MESSAGE_MARKERS,
    Enricher,
    message_facts,
    reverted_in,
)
from gitobs.capture.ingest import Collector
from gitobs.capture.pause import read_pause
from gitobs.capture.state import load_state, save_state
from gitobs.core.config import ScanSettings
from gitobs.core.lock import exclusive
from gitobs.core.redact import hash_path, repository_salt
from gitobs.core.repo import MAIN_WORKTREE, GitobsError, ObsPaths
from gitobs.history import gitlog
from gitobs.history.authors import own_emails
from gitobs.history.branch_tips import Tips, branch_labels, read_tips
from gitobs.history.cursor import (
    ImportCursor,
    covered_for,
    import_lock,
    load_cursor,
    save_cursor,
)
from gitobs.history.recorded import Recorded
from gitobs.history.reflog import SplitReflogs, derive, split
from gitobs.history.renames import Follower
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.upkeep import retention
from gitobs.upkeep.scan import scan

# Commits per append: a frame of a MiB or two, the lock held for milliseconds, five fsyncs (log, state,
# cursor) that with smaller chunks would cost more than the parsing; an interruption loses at most this.
CHUNK_COMMITS = 4000
PROGRESS_EVERY = 100
LATEST_COMMIT_TIME = (1 << 63) // 10**9  # 2262-04-11, the last second in int64 nanoseconds: later is skipped
LOCK_WAIT_S = 30.0
# Segments an import fills are sealed at this zstd level rather than the log's 19, which costs about two
# seconds of CPU per MiB sealed (git/git: 14 s). 16 is the first level with zstd's optimal parser, and the
# knee: git/git 47.9 bytes per event on disk for 6 s of CPU more than level 9 (53.4), 45.9 at 19.
SEALED_LEVEL = 16


@dataclass
class ImportProgress:
    walked: int = 0  # commits looked at
    imported: int = 0  # commit.created written
    recorded: int = 0  # commits the log already had (or the scanner will report), left out
    skipped: int = 0  # commits left out otherwise: GitButler's own, in a paused interval or a rolled-up day
    others: int = 0  # commits by other authors, left out (all_authors takes them)
    reflog_events: int = 0  # events from reflog lines written
    chunks: int = 0  # appends done
    total: int | None = None  # commits to look at, when counted


@dataclass
class ImportResult(ImportProgress):
    seconds: float = 0.0
    empty: bool = False  # the repository has no commits
    authors: list[str] | None = None  # the emails whose commits were taken; None: everyone's


Report = Callable[[ImportProgress], None]


def import_history(common_dir: Path, since: float | None = None, count: bool = False,
                   on_progress: Report | None = None, chunk_commits: int = CHUNK_COMMITS,
                   all_authors: bool = False, merge_churn: bool = False) -> ImportResult:
    """Backfill the log from history: the user's own commits, or everyone's with `all_authors`; merges
    with 0 changed lines, or their first-parent diff with `merge_churn`. `count`: count the commits first
    (for a progress bar); `on_progress` is called as the walk goes and after every append."""
    started = time.perf_counter()
    obs = ObsPaths(common_dir)
    if not obs.is_enabled():
        raise GitobsError(f"gitobs is not installed in {obs.common_dir} (run gitobs install)")
    _refuse_if_paused(obs)
    _refuse_if_partial_clone(common_dir)
    authors = None if all_authors else own_emails(common_dir)
    with import_lock(obs.root, "another gitobs import is running in this repository"):
        since_s = None if since is None else int(since)
        early = _early_history(obs, since_s, authors, merge_churn)
        try:
            scan(common_dir)
            pause = read_pause(obs.root)
            settings = ScanSettings.load(common_dir, pause is not None and pause.active(time.time()))
            result = ImportResult(authors=authors)
            run = _Run(obs, settings, since_s, result, on_progress or _quiet, chunk_commits, authors, merge_churn)
            if run.prepare():
                run.reflog_pass()
                run.walk(count, early)
                run.flush(complete=True)
            else:
                result.empty = True
        finally:
            if early is not None:
                early.close()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _early_history(obs: ObsPaths, since: int | None, authors: list[str] | None,
                   merge_churn: bool) -> gitlog.History | None:
    """The walk as the tips stand before the scan, git started now: it diffs while the scan runs. The walk
    uses it only if the tips read under the lock after the scan give the same walk (they do, unless a
    commit or a branch came meanwhile)."""
    try:
        repo = pygit2.Repository(str(obs.common_dir))
        tips = read_tips(repo, obs.common_dir)
    except Exception:  # pygit2 cannot open it: the walk, after the scan, says why
        return None
    if not tips.commits:
        return None
    hidden = _hidden(repo, load_cursor(obs.root), since, None if authors is None else sorted(authors))
    return gitlog.History(obs.common_dir, gitlog.Walk(tips.commits, hidden, since), merge_churn)


def _hidden(repo: pygit2.Repository, cursor: ImportCursor, since: int | None,
            authors: list[str] | None) -> tuple[str, ...]:
    """What earlier runs of these authors dealt with, as far as it is still in the object store."""
    return tuple(sorted(sha for sha in covered_for(cursor, since, authors) if sha in repo))


def _refuse_if_paused(obs: ObsPaths) -> None:
    paused = read_pause(obs.root)
    if paused is not None and paused.active(time.time()):
        raise GitobsError("recording is paused: import would record what the pause keeps out "
                          "(gitobs resume, then gitobs import goes on where it stopped)")


def _refuse_if_partial_clone(common_dir: Path) -> None:
    """git log --numstat in a partial clone fetches every missing blob from the remote, one request per
    commit: gigabytes on a big repository, and network use nobody asked gitobs for."""
    promisors = gitlog.promisor_remotes(common_dir)
    if promisors:
        raise GitobsError(f"a partial clone (files fetched on demand from {promisors[0]!r}): counting lines "
                          "would download every file of the history, so gitobs import does not run here")


def _refuse_if_damaged(log: EventLog) -> None:
    """A damaged frame's commits look unrecorded, and a repair may salvage their events: both would stay.
    (A torn tail's events are written again by the writer that was cut short, and a repair drops it.)"""
    damage = [corruption for corruption in log.check() if not corruption.torn_tail]
    if damage:
        raise GitobsError(f"damaged log: {damage[0].describe()}; run gitobs doctor --repair first")


def _quiet(progress: ImportProgress) -> None:
    pass


class _Run:
    def __init__(self, obs: ObsPaths, settings: ScanSettings, since: int | None, progress: ImportProgress,
                 on_progress: Report, chunk_commits: int, authors: list[str] | None, merge_churn: bool) -> None:
        self.obs = obs
        self.settings = settings
        self.since = since
        self.on_progress = on_progress
        self.chunk_commits = chunk_commits
        self.authors = None if authors is None else frozenset(authors)
        self.merge_churn = merge_churn
        self.enricher = _enricher(obs.common_dir)
        self.collector = Collector(None if settings.paths else repository_salt(obs.root))
        self.progress = progress
        self.tips = Tips()
        self.reflogs = SplitReflogs()
        self.recorded = Recorded()
        self.cursor = load_cursor(obs.root)
        self.hidden: tuple[str, ...] = ()  # what earlier runs dealt with
        self.pending: list[_Pending] = []  # commits of this chunk, their events made when it is appended
        self.flagged: gitlog.Search | None = None
        self.derived_commits: set[str] = set()  # written from reflog lines (counted there)
        self.log: EventLog | None = None
        self.log_end: list = []  # the log's end after our last append

    # -- what is there ---------------------------------------------------------------------------

    def prepare(self) -> bool:
        """Tips, reflogs and the log, read under the lock; False when there is no commit at all."""
        with exclusive(self.obs.lock, LOCK_WAIT_S) as held:
            if not held:
                raise GitobsError("a scan kept the lock for 30 s; try again in a moment")
            retention.recover(self.obs)
            self.tips = read_tips(self.enricher.repo, self.obs.common_dir)
            if not self.tips.commits:
                return False
            state = load_state(self.obs.state)
            if self.settings.reflog:
                self.reflogs = split(self.obs.common_dir, state)
            _refuse_if_damaged(EventLog(self.obs.log))
            self.recorded = Recorded.read(EventLog(self.obs.log))
        self.hidden = _hidden(self.enricher.repo, self.cursor, self.since,
                              None if self.authors is None else sorted(self.authors))
        return True

    # -- the reflogs -----------------------------------------------------------------------------

    def reflog_pass(self) -> None:
        if not self.settings.reflog:
            return
        derive(self.reflogs, self.enricher, self._emit_derived, self.settings.undo_window)
        self.progress.reflog_events = sum(1 for _, event in self.collector.events if event.type != "commit.created")
        self.progress.imported += len(self.collector.events) - self.progress.reflog_events

    def _emit_derived(self, event_type: str, payload: schema.Payload, *, ts_ns: int, src: str, wt: str,
                      provenance: str) -> None:
        """A reflog-derived event, unless the log has it, or it falls where import must not write."""
        if event_type == "commit.created":
            facts = self.enricher.commit(payload.sha)
            ts_ns = facts.commit_time * 10**9 if facts is not None else ts_ns
            provenance = schema.IMPORT_PROVENANCE + payload.sha
        elif event_type == "history.reset" and payload.from_sha == payload.to_sha:
            return  # `git stash` logs one too: with its stash gone, the two cannot be told apart
        if self._write(event_type, payload, ts_ns, wt, provenance) and event_type == "commit.created":
            self.derived_commits.add(payload.sha)

    def _write(self, event_type: str, payload: schema.Payload, ts_ns: int, wt: str, provenance: str) -> bool:
        if not self._admit(event_type, payload, ts_ns):
            return False
        self.collector.emit(event_type, payload, ts_ns=ts_ns, src=schema.IMPORTED, wt=wt, provenance=provenance)
        return True

    def _admit(self, event_type: str, payload: schema.Payload, ts_ns: int) -> bool:
        """Not recorded yet, and at a time import may write: then it counts as recorded from now on."""
        moment = ts_ns / 1e9
        if (self.since is not None and moment < self.since) or self.recorded.excluded(moment):
            return False
        if event_type == "commit.created":  # by far the most: its sha says it all
            if payload.sha in self.recorded.commits:
                return False
            self.recorded.commits.add(payload.sha)
        else:
            data = msgspec.to_builtins(payload)
            if self.recorded.claim(event_type, data, moment):
                return False
            self.recorded.add(event_type, data)
        return True

    # -- the history -----------------------------------------------------------------------------

    def walk(self, count: bool, early: gitlog.History | None = None) -> None:
        """`early`: the walk started before the scan, taken if it is this one."""
        walk = gitlog.Walk(self.tips.commits, self.hidden, self.since)
        history = early if early is not None and early.walk == walk else None
        if history is None:
            if early is not None:
                early.close()  # the tips moved during the scan
            history = gitlog.History(self.obs.common_dir, walk, self.merge_churn)
        try:
            if count:
                self.progress.total = gitlog.count(self.obs.common_dir, walk)
            labels = branch_labels(self.obs.common_dir, self.tips, self.hidden, self.since)
            self.flagged = gitlog.Search(self.obs.common_dir, walk,
                                         [[f"--grep={marker}" for marker in MESSAGE_MARKERS]])
            self._walk(history, labels)
            self._emit_pending()  # while the search is open: the last chunk's reverts
        finally:
            if self.flagged is not None:
                self.flagged.close()
            history.close()

    def _walk(self, history: gitlog.History, labels: dict[str, str | None]) -> None:
        unread, rebased = self.reflogs.unread_commits, self.reflogs.rebased_commits
        follower = Follower()
        for logged in history.commits():
            self.progress.walked += 1
            logged.files = follower.name(logged.files, logged.renames)  # every commit's renames, taken or not
            if logged.sha in self.derived_commits:
                pass
            elif logged.sha in self.recorded.commits or logged.sha in unread or logged.sha in rebased:
                self.progress.recorded += 1
            elif self.authors is not None and logged.email not in self.authors:
                if logged.email == GITBUTLER_EMAIL:
                    self.progress.skipped += 1  # GitButler's own: nobody's work
                else:
                    self.progress.others += 1
            elif self._commit(logged, labels.get(logged.sha, self.tips.default)):
                self.progress.imported += 1
            else:
                self.progress.skipped += 1
            if len(self.pending) >= self.chunk_commits:
                self.flush()
            elif self.progress.walked % PROGRESS_EVERY == 0:
                self.on_progress(self.progress)

    def _commit(self, logged: gitlog.LoggedCommit, branch: str | None) -> bool:
        """Held for the chunk's append, when what git's message search found is known."""
        if logged.commit_time > LATEST_COMMIT_TIME:  # git keeps any number; no calendar (nor the log) has it
            return False
        merge = len(logged.parents) > 1
        payload = schema.CommitCreated(
            sha=logged.sha, branch=branch, parents=logged.parents, files=logged.files,
            files_total=len(logged.files), added=logged.added, deleted=logged.deleted, merge=merge,
            via="merge" if merge else "commit", renames=self._renames(logged.renames))
        ts_ns = logged.commit_time * 10**9
        if not self._admit("commit.created", payload, ts_ns):
            return False
        self.pending.append(_Pending(payload, ts_ns, logged.email == GITBUTLER_EMAIL))
        return True

    def _renames(self, renames: list[tuple[str, str]]) -> list[schema.Rename]:
        """As git found them; hashed like the files when paths are not stored."""
        salt = self.collector.salt
        if salt is None:
            return [schema.Rename(old, new) for old, new in renames]
        return [schema.Rename(hash_path(old, salt), hash_path(new, salt)) for old, new in renames]

    def _emit_pending(self) -> None:
        """The chunk's commits as events; a commit whose message names a reverted commit gets its
        commit.reverted too, and GitButler's workspace commits are left out."""
        found = self.flagged.result() if self.pending and self.flagged is not None else set()
        for pending in reversed(self.pending):  # parents first, as far as one chunk goes
            payload = pending.payload
            if payload.sha in found or pending.gitbutler:
                reverts, synthetic = self._message_facts(payload.sha)
                if synthetic:
                    self.progress.imported -= 1
                    self.progress.skipped += 1
                    continue
                payload.revert, payload.reverts = reverts is not None, reverts
            provenance = schema.IMPORT_PROVENANCE + payload.sha
            self.collector.emit("commit.created", payload, ts_ns=pending.ts_ns, src=schema.IMPORTED, wt=MAIN_WORKTREE,
                                provenance=provenance)
            if payload.reverts:
                self._write("commit.reverted", self._reverted(payload), pending.ts_ns, MAIN_WORKTREE, provenance)
        self.pending = []

    def _message_facts(self, sha: str) -> tuple[str | None, bool]:
        """message_facts; from the raw object when libgit2 refuses a header git keeps (a malformed email):
        then the revert it names, and it is no GitButler commit."""
        try:
            return message_facts(self.enricher.repo.get(sha))
        except (ValueError, pygit2.GitError):
            message = self.enricher.repo.odb.read(sha)[1].partition(b"\n\n")[2]
            return reverted_in(message.decode("utf-8", "replace")), False

    def _reverted(self, payload: schema.CommitCreated) -> schema.CommitReverted:
        """Its age from the two commit times (objects read, nothing diffed); none when either is not in the
        object store or libgit2 refuses to read it (a time past int64, which git keeps)."""
        age = None
        try:
            theirs = self.enricher.repo.get(payload.reverts)
            if isinstance(theirs, pygit2.Commit):
                age = float(self.enricher.repo.get(payload.sha).commit_time - theirs.commit_time)
        except (ValueError, pygit2.GitError):
            pass
        return schema.CommitReverted(sha=payload.sha, reverted=payload.reverts, age_s=age, branch=payload.branch)

    # -- writing ---------------------------------------------------------------------------------

    def flush(self, complete: bool = False) -> None:
        """Append what is collected, numbered; when the walk is `complete`, the cursor covers it all."""
        self._emit_pending()
        events = [event for _, event in sorted(self.collector.events, key=lambda pair: pair[0])]
        self.collector.events = []
        with exclusive(self.obs.lock, LOCK_WAIT_S) as held:
            if not held:
                raise GitobsError("a scan kept the lock for 30 s; run gitobs import again to go on")
            retention.recover(self.obs)
            _refuse_if_paused(self.obs)  # paused meanwhile: what this chunk holds waits for the resume
            if events:
                self._append(events)
                self.progress.chunks += 1
            if complete:
                authors = None if self.authors is None else sorted(self.authors)
                save_cursor(self.obs.root, self.cursor, self.since, {*self.hidden, *self.tips.commits}, authors)
        self.on_progress(self.progress)

    def _append(self, events: list[schema.Event]) -> None:
        """Numbered after the last event; the scanner's state follows when it was in step with the log (if
        not, a crashed scan left events behind, and the scanner's recovery reads ours with them)."""
        state = load_state(self.obs.state)
        log = self._log()
        in_step = state.seq >= 0 and state.log_end == log.end_mark()  # seq -1: a damaged state, left to scan
        last = state.seq if in_step else max(state.seq, _last_seq(log), 0)
        for offset, event in enumerate(events, start=1):
            event.seq = last + offset
        log.append([schema.encode(event) for event in events])
        self.log_end = log.end_mark()
        if in_step:
            state.seq = last + len(events)
            state.log_end = self.log_end
            save_state(self.obs.state, state)

    def _log(self) -> EventLog:
        """The writer of the last append while nobody else wrote meanwhile: opening one verifies the whole
        live segment, which for every chunk would cost more than the chunk."""
        if self.log is None or self.log.end_mark() != self.log_end:
            self.log = EventLog(self.obs.log, sealed_level=SEALED_LEVEL)
        return self.log


@dataclass
class _Pending:
    payload: schema.CommitCreated
    ts_ns: int
    gitbutler: bool  # GitButler authored it: its message says whether it is a workspace commit


def _enricher(common_dir: Path) -> Enricher:
    try:
        return Enricher(common_dir)
    except Exception as exc:  # pygit2 cannot open it (an unsupported extension): nothing to read history with
        raise GitobsError(f"pygit2 cannot open {common_dir}: {exc}") from None


def _last_seq(log: EventLog) -> int:
    tail = log.last_lines(1)
    try:
        return schema.decode(tail[0]).seq if tail else 0
    except msgspec.DecodeError:
        return 0
