"""Twin lines read apart: a scan holds back a reflog line whose twin git is still writing.

git logs a move made through HEAD twice, in the worktree's HEAD reflog and (the same line) in the reflog
of the branch HEAD is on: two appends, one after the other, while git holds the locks of both refs. A scan
reads the reflogs one by one, so it may read one of the two files before git appends to it and the other
after. Reported alone, the line would lose what only its twin knows: the worktree (a branch line says
the main one) or the branch (a HEAD line says none), and the hooks' exact time. So while git may still
be writing the twin (the other ref's lock is held, or its reflog grew since the scan read it), the line
and those after it in its reflog are left for the next scan, which reads the two together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gitobs.capture.reflog import (
    Cursor,
    ReflogEntry,
    ReflogFile,
    classify,
    cursor_before,
    is_read_branch,
)
from gitobs.core.names import recorded

# What git logs to HEAD and to the branch it is on. A checkout moves HEAD alone, a rebase's steps move a
# detached HEAD, `branch: Created from` and `branch: Reset to` move a branch alone.
_THROUGH_HEAD = {"commit", "merge-commit", "revert", "amend", "cherry-pick", "merge", "pull"}
# An older line is never held back: a lock a killed git left behind does not stop the scanner for good.
PAIR_WAIT_S = 10


@dataclass
class ReflogRead:
    """What one scan read of one reflog."""

    file: ReflogFile
    name: str  # path relative to the common dir: the key of its cursor
    entries: list[ReflogEntry]
    cursor: Cursor  # where the next scan reads on


@dataclass
class _Twins:
    """What the search for a held-back line's twin needs, gathered once per scan."""

    read_to: dict[Path, int]  # reflog -> how far this scan read it
    worktrees: dict[str, Path]  # worktree -> its git dir
    common_dir: Path
    now_s: float
    attached: dict[str, str] | None = None  # worktree -> the branch its HEAD is on, read when needed


def hold_unpaired(reads: list[ReflogRead], worktrees: dict[str, Path], common_dir: Path, now_s: float) -> None:
    """Leave for the next scan each line whose twin git may still be writing, with the lines after it
    in its reflog; then also the lines whose twin was left so."""
    twins = _Twins({read.file.path: read.cursor.offset for read in reads}, worktrees, common_dir, now_s)
    read_first = _keys(reads)
    while True:
        keys = _keys(reads)
        if not any(_hold_first(read, keys, read_first, twins) for read in reads):
            return


def _keys(reads: list[ReflogRead]) -> dict[bool, set[tuple]]:
    """Mirror keys of the lines at hand: of HEAD reflogs under True, of branch reflogs under False."""
    keys: dict[bool, set[tuple]] = {True: set(), False: set()}
    for read in reads:
        keys[read.file.ref == "HEAD"].update(entry.mirror_key for entry in read.entries)
    return keys


def _hold_first(read: ReflogRead, keys: dict[bool, set[tuple]], read_first: dict[bool, set[tuple]],
                twins: _Twins) -> bool:
    other = read.file.ref != "HEAD"
    for index, entry in enumerate(read.entries):
        if entry.mirror_key in keys[other]:
            continue
        if entry.mirror_key in read_first[other] or (_has_twin(entry, twins.now_s) and _twin_due(entry, twins)):
            read.cursor = cursor_before(read.file.path, entry)
            del read.entries[index:]
            return True
    return False


def _has_twin(entry: ReflogEntry, now_s: float) -> bool:
    """Does git log this line to HEAD and a branch both (if HEAD was on one), and lately?"""
    if abs(now_s - entry.ts) > PAIR_WAIT_S:
        return False
    return classify(entry.message).op in _THROUGH_HEAD or entry.message.startswith("reset: moving to")


def _twin_due(entry: ReflogEntry, twins: _Twins) -> bool:
    """Is git writing the twin's reflog, or has it since the scan read it? The lock is looked at first:
    once it is gone, what git wrote under it is in the file."""
    if twins.attached is None:
        twins.attached = {wt: _head_ref(git_dir) for wt, git_dir in twins.worktrees.items()}
    if entry.ref == "HEAD":
        ref = twins.attached.get(entry.wt, "")
        if not is_read_branch(ref):
            return False  # detached, or on a branch whose reflog is not read: no twin to wait for
        return _being_written(twins.common_dir / f"{ref}.lock", twins.common_dir / "logs" / ref, twins)
    return any(_being_written(twins.worktrees[wt] / "HEAD.lock", twins.worktrees[wt] / "logs" / "HEAD", twins)
               for wt, ref in twins.attached.items() if recorded(ref) == entry.ref)


def _being_written(lock: Path, log: Path, twins: _Twins) -> bool:
    if lock.exists():
        return True
    try:
        size = log.stat().st_size
    except FileNotFoundError:
        return False
    return size > twins.read_to.get(log, 0)


def _head_ref(git_dir: Path) -> str:
    """The ref a worktree's HEAD is on (a name not in UTF-8 as the file system's), or "" when detached."""
    try:
        head = os.fsdecode((git_dir / "HEAD").read_bytes())
    except OSError:
        return ""
    return head[5:].strip() if head.startswith("ref: ") else ""
