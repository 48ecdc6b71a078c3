"""What the scanner remembers between runs, in `.git/obs/state.json`, replaced atomically.

The log is written before the state, so a crash between the two leaves events in the log that the state
does not know of; the next scan finds them by their seq and skips regenerating them (their ids are stable).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from gitobs.capture.memory import GitButlerMemory, WorktreeMemory
from gitobs.core.files import write_atomic

# Bounded memories: enough for any burst between two scans, small enough to rewrite every scan.
RECENT_COMMITS = 4096
RECENT_REF_TIMES = 1024
# A hook-seen ref move is matched to its reflog line in the same scan or the next; one still unmatched
# after this long never will be (`switch --detach` to the same commit logs no move).
REF_TIME_TTL_NS = 3600 * 10**9


class Attempt(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A commit in progress: the hooks of one `git commit` process, seen so far."""

    ppid: int
    wt: str
    branch: str | None = None
    start_ns: int
    provenance: str
    prepare_ns: int = 0  # prepare-commit-msg: the editor opens after it
    message_source: str = ""  # prepare-commit-msg's second argument
    msg_ns: int = 0  # commit-msg: the editor has closed
    edit_reported: bool = False
    # Without prepare-commit-msg and post-commit (the lean hook set): the editor opens once pre-commit is
    # done, commit-msg ends it, and the commit's reflog line ends the attempt.
    edit_from_ns: int = 0  # pre-commit's end
    msg_end_ns: int = 0  # commit-msg's end (its chained hook's): the commit is written right after
    head_sha: str = ""  # the commit HEAD was at: the reflog line of this attempt's commit leaves it
    index: str = ""  # "index.lock": `commit -a` staged the files itself


class RebaseProgress(msgspec.Struct, kw_only=True, omit_defaults=True):
    start_ts: int
    from_sha: str = ""
    pull: bool = False
    steps: dict[str, int] = {}
    provenance: str = ""


class StageWrite(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An index write by a staging command (or several, once a worktree holds MAX_WRITES)."""

    ts_ns: int
    last_ns: int
    count: int = 1
    branch: str | None = None
    provenance: str = ""


class ScanState(msgspec.Struct, kw_only=True):
    seq: int = 0  # seq of the last event written
    log_end: list = []  # the log's end mark after that write: unchanged means nothing to recover
    cursors: dict[str, list] = {}  # reflog path relative to the common dir -> Cursor
    stash: list[str] = []  # stash entries (their commits), newest last
    stash_stamp: list[int] = []  # size and mtime of the stash reflog when `stash` was read
    attempts: dict[str, Attempt] = {}
    rebases: dict[str, RebaseProgress] = {}  # worktree -> rebase under way
    # "<ref> <old> <new>" (or "switch <old> <new>") -> when hooks saw that move, oldest first; reflog
    # lines, whose times are whole seconds, take their exact time from here in the same order
    ref_times: dict[str, list[int]] = {}
    recent_commits: list[str] = []  # shas already reported as created
    consumed: list[str] = []  # spool files whose events are durable, deleted after the state is saved
    worktrees: dict[str, WorktreeMemory] = {}  # worktree -> its last sample
    stage_writes: dict[str, list[StageWrite]] = {}  # worktree -> staging not yet cut into bursts
    first_staged: dict[str, int] = {}  # worktree -> first staging since its last commit, once burst
    committed_ns: dict[str, int] = {}  # worktree -> its last commit's moment (staging from the object store)
    arrivals: dict[str, int] = {}  # worktree -> when HEAD last switched branch (for dwell times)
    born: dict[str, str] = {}  # new worktree -> the commit `git worktree add` started its HEAD at
    rewritten: dict[str, dict[str, int]] = {}  # worktree -> commit a rebase rewrote (post-rewrite) -> when
    gitbutler: GitButlerMemory = msgspec.field(default_factory=GitButlerMemory)
    last_scan_ns: int = 0
    last_scan_s: float = 0.0

    def saw_ref_move(self, key: str, ts_ns: int) -> None:
        self.ref_times.setdefault(key, []).append(ts_ns)

    def take_ref_time(self, key: str) -> int | None:
        times = self.ref_times.get(key)
        if not times:
            return None
        moment = times.pop(0)
        if not times:
            del self.ref_times[key]
        return moment

    def take_ref_time_at(self, key: str, ts_ns: int) -> bool:
        """Take the moment `ts_ns` of `key` if a hook saw it (another move between the same shas may not)."""
        times = self.ref_times.get(key)
        if not times or ts_ns not in times:
            return False
        times.remove(ts_ns)
        if not times:
            del self.ref_times[key]
        return True

    def forget_ref_times_before(self, oldest_ns: int) -> None:
        for key in list(self.ref_times):
            times = [t for t in self.ref_times[key] if t >= oldest_ns]
            if times:
                self.ref_times[key] = times
            else:
                del self.ref_times[key]

    def remember_commit(self, sha: str) -> None:
        self.recent_commits.append(sha)
        del self.recent_commits[:-RECENT_COMMITS]


_decoder = msgspec.json.Decoder(ScanState)


def load_state(path: Path) -> ScanState:
    try:
        return _decoder.decode(path.read_bytes())
    except FileNotFoundError:
        return ScanState()
    except (msgspec.DecodeError, msgspec.ValidationError):
        # A damaged state costs a re-read of the reflogs; stable ids keep the log free of repeats.
        return ScanState(seq=-1)


def save_state(path: Path, state: ScanState) -> None:
    if len(state.ref_times) > RECENT_REF_TIMES:
        newest = sorted(state.ref_times.items(), key=lambda item: item[1][-1])[-RECENT_REF_TIMES:]
        state.ref_times = dict(newest)
    write_atomic(path, msgspec.json.encode(state))
