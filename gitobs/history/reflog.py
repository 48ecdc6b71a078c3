"""The reflogs' share of `gitobs import`, split at the scanner's cursors.

Lines before a cursor have been read by the scanner: import derives their events again with the
scanner's own code (ReflogEvents, StashEvents, Rework) and a scratch memory, so that what the scanner
passed over without recording (capture.reflog off then, a purge) can be filled in; what it did record is
found in the log and left out (gitobs/history/recorded.py). Lines after a cursor are the scanner's to
report: the commits they made are named here, so that import leaves those to it. So are the commits the
steps of a rebase made, read or not: they are that rebase's, reported as `history.rebase`, not new work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gitobs.capture.enrich import Enricher
from gitobs.capture.ingest import since_rename
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
from gitobs.capture.reflog_events import ReflogEvents
from gitobs.capture.rework import Rework
from gitobs.capture.staging import Staging
from gitobs.capture.stash_events import STASH_REF, StashEvents
from gitobs.capture.state import ScanState
from gitobs.core.names import recorded
from gitobs.core.repo import MAIN_WORKTREE, worktree_git_dirs
from gitobs.log.schema import Emit

# Reflog operations whose line reports a commit of its own (commit.created, commit.amended, a pick).
_MAKES_COMMIT = {"commit", "merge-commit", "revert", "amend", "cherry-pick"}
# Rebase steps that write a commit; `start` and `reset` move onto one that was there, and so does a pick
# git fast-forwards ("rebase: fast-forward", which classify counts as an old git's pick).
_REBASE_WRITES = {"pick", "squash", "fixup", "reword", "edit", "continue", "merge"}


@dataclass
class SplitReflogs:
    heads: list[ReflogEntry] = field(default_factory=list)  # read by the scanner already
    branches: list[ReflogEntry] = field(default_factory=list)
    stash: list[ReflogEntry] = field(default_factory=list)
    unread_commits: set[str] = field(default_factory=set)  # made by lines past a cursor
    rebased_commits: set[str] = field(default_factory=set)  # made by a rebase's steps


def split(common_dir: Path, state: ScanState) -> SplitReflogs:
    found = SplitReflogs()
    for file in reflog_files(common_dir, worktree_git_dirs(common_dir)):
        name = recorded(file.path.relative_to(common_dir).as_posix())  # as the state keeps it
        everything = read_new(file, Cursor())[0]
        unread = read_new(file, Cursor.from_json(state.cursors[name]))[0] if name in state.cursors else everything
        unread_keys = {entry.key for entry in unread}
        read = [entry for entry in everything if entry.key not in unread_keys]
        if file.ref != "HEAD":  # as the scanner read it: a renamed branch's old lines are the old name's, if
            # the scanner read that name's reflog; if not (renamed before the first scan), they stay, under it
            read = since_rename(read, lambda old: recorded(f"logs/refs/heads/{old}") in state.cursors)
        (found.heads if file.ref == "HEAD" else found.branches).extend(read)
        found.unread_commits.update(entry.new for entry in unread if _makes_commit(entry))
        found.rebased_commits.update(entry.new for entry in everything if _rebase_wrote(entry))
    found.stash = _stash_read(common_dir, state)
    return found


def _makes_commit(entry: ReflogEntry) -> bool:
    kind = classify(entry.message)
    return kind.op in _MAKES_COMMIT or (kind.op == "merge" and kind.step != "fast-forward")


def _rebase_wrote(entry: ReflogEntry) -> bool:
    kind = classify(entry.message)
    return kind.op == "rebase" and kind.step in _REBASE_WRITES and not entry.message.startswith("rebase: fast-forward")


def _stash_read(common_dir: Path, state: ScanState) -> list[ReflogEntry]:
    """The stash reflog, when the scanner has read it as it is now (it is read whole, by its stamp)."""
    path = common_dir / "logs" / STASH_REF
    try:
        info = path.stat()
    except FileNotFoundError:
        return []
    if [info.st_size, info.st_mtime_ns] != state.stash_stamp:
        return []
    file = ReflogFile(path, STASH_REF, MAIN_WORKTREE)
    return [entry for entry in (parse_line(file, line) for line in split_lines(path.read_bytes())) if entry]


def derive(reflogs: SplitReflogs, enricher: Enricher | None, emit: Emit, undo_window_s: float) -> None:
    """Emit what the scanner derives from these lines, as a first scan would (nothing remembered)."""
    scratch = ScanState()
    stash = StashEvents(scratch, emit)
    stash.from_reflog(reflogs.stash, 0)
    staging = Staging(scratch, _nothing, 0.0)  # no hook records: no staging, no staged_s
    events = ReflogEvents(scratch, enricher, emit, Rework(enricher, undo_window_s), staging)
    events.feed(reflogs.heads, reflogs.branches, stash.is_stash_reset)


def _nothing(*args, **kwargs) -> None:
    pass
