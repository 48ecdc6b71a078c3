"""Twin lines read apart: a scan holds back a reflog line whose twin git is still writing.

git logs a move made through HEAD twice, in the worktree's HEAD reflog and (the same line) in the reflog
of the branch HEAD is on: two appends, one after the other, while git holds the locks of both refs. A scan
reads the reflogs one by one, so it may read one of the two files before git appends to it and the other
after. Reported alone, the line would lose what only its twin knows: the worktree (a branch line says
the main one) or the branch (a HEAD line says none), and the hooks' exact time. So while git may still
be writing the twin (the other ref's lock is held, or its reflog grew since the scan read it), the line
and those after it in its reflog are left for the next scan, which reads the two together.

A move that leaves the branch where it was (an amend that makes the very same commit within its second,
a `reset --hard` to HEAD) has no twin at all: git logs it to HEAD and writes nothing for a ref that did
not move. The branch HEAD was on then is told by the next line after it that is not such a move (a
checkout's "from", a twin's branch; a move with no twin: detached; anything else cannot tell), or by HEAD
as it is now when none came after it, and a twin is stood in for it from that. HEAD is read before its
reflog is looked at again: if the reflog grew meanwhile, HEAD may have moved since the line was written,
and the line waits for the next scan (or, older than PAIR_WAIT_S, goes without a branch).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
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
from gitobs.core.repo import MAIN_WORKTREE

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
    moved: set[Path] = field(default_factory=set)  # HEAD reflogs that grew during the scan: HEAD now may lie


def hold_unpaired(reads: list[ReflogRead], worktrees: dict[str, Path], common_dir: Path,
                  now_s: float) -> list[ReflogEntry]:
    """Leave for the next scan each line whose twin git may still be writing, with the lines after it
    in its reflog; then also the lines whose twin was left so, and the unmoved lines (see above) whose
    branch only lines not read yet can tell. Returns the twins stood in for the unmoved lines kept."""
    twins = _Twins({read.file.path: read.cursor.offset for read in reads}, worktrees, common_dir, now_s)
    read_first = _keys(reads)
    while True:
        keys = _keys(reads)
        if not any(_hold_first(read, keys, read_first, twins) for read in reads):
            return _stand_ins(reads, twins)


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
        if (entry.mirror_key in read_first[other] or (_has_twin(entry, twins.now_s) and _twin_due(entry, twins))
                or (not other and _branch_untold(read, index, twins))):
            read.cursor = cursor_before(read.file.path, entry)
            del read.entries[index:]
            return True
    return False


def _has_twin(entry: ReflogEntry, now_s: float) -> bool:
    """Does git log this line to HEAD and a branch both (if HEAD was on one), and lately?"""
    if abs(now_s - entry.ts) > PAIR_WAIT_S or entry.old == entry.new:
        return False  # git writes no line for a branch that did not move
    return _through_head(entry)


def _through_head(entry: ReflogEntry) -> bool:
    return classify(entry.message).op in _THROUGH_HEAD or entry.message.startswith("reset: moving to")


def _unmoved(entry: ReflogEntry) -> bool:
    """A move through HEAD that left the commit where it was: logged to HEAD alone, whatever branch it is on."""
    return entry.old == entry.new and _through_head(entry)


def _branch_untold(read: ReflogRead, index: int, twins: _Twins) -> bool:
    """Is this HEAD line unmoved, with no line after it read, while its reflog holds more (written since the
    read, or left for the next scan)? Then HEAD as it is now may not be where it was: the next scan tells."""
    entries = read.entries
    entry = entries[index]
    if not _unmoved(entry) or not all(_unmoved(entries[i]) for i in range(index + 1, len(entries))):
        return False
    _attached(twins)  # HEAD first, its reflog after: a move is logged before HEAD changes
    try:
        grown = read.file.path.stat().st_size > read.cursor.offset
    except FileNotFoundError:
        return False
    if grown and abs(twins.now_s - entry.ts) > PAIR_WAIT_S:
        twins.moved.add(read.file.path)  # too old to be held back: its branch is left untold
        return False
    return grown


def _stand_ins(reads: list[ReflogRead], twins: _Twins) -> list[ReflogEntry]:
    """The branch lines git did not write for the unmoved HEAD lines kept, where HEAD was on a branch: each
    unmoved line waits for the next line that moved, which says where HEAD was, or the end (HEAD now)."""
    branch_of = {entry.mirror_key: entry.ref for read in reads if read.file.ref != "HEAD" for entry in read.entries}
    stand_ins = []
    for read in reads:
        if read.file.ref != "HEAD":
            continue
        waiting: list[ReflogEntry] = []
        for entry in read.entries:
            if _unmoved(entry):
                waiting.append(entry)
            elif waiting:
                stand_ins += _stood_in(waiting, _branch_before(entry, branch_of))
                waiting = []
        if waiting and read.file.path not in twins.moved:
            stand_ins += _stood_in(waiting, recorded(_attached(twins).get(read.file.wt, "")))
    return stand_ins


def _stood_in(unmoved: list[ReflogEntry], ref: str | None) -> list[ReflogEntry]:
    if not ref or not is_read_branch(ref):
        return []  # detached, untold, or a branch whose reflog is not read: no branch, as for its moves
    return [replace(entry, ref=ref, wt=MAIN_WORKTREE, key=f"{entry.key}:unmoved:{ref}", offset=-1)
            for entry in unmoved]


def _branch_before(entry: ReflogEntry, branch_of: dict[tuple, str]) -> str | None:
    """The ref HEAD was on before this line that moved: "" when detached, None when the line cannot tell."""
    if entry.mirror_key in branch_of:
        return branch_of[entry.mirror_key]
    kind = classify(entry.message)
    if kind.op == "checkout":  # "from" is the branch's name, or the commit's full hex when detached
        return "" if kind.source in ("HEAD", entry.old) else f"refs/heads/{kind.source}"
    return "" if _through_head(entry) else None  # a move with no twin: HEAD was detached


def _twin_due(entry: ReflogEntry, twins: _Twins) -> bool:
    """Is git writing the twin's reflog, or has it since the scan read it? The lock is looked at first:
    once it is gone, what git wrote under it is in the file."""
    attached = _attached(twins)
    if entry.ref == "HEAD":
        ref = attached.get(entry.wt, "")
        if not is_read_branch(ref):
            return False  # detached, or on a branch whose reflog is not read: no twin to wait for
        return _being_written(twins.common_dir / f"{ref}.lock", twins.common_dir / "logs" / ref, twins)
    return any(_being_written(twins.worktrees[wt] / "HEAD.lock", twins.worktrees[wt] / "logs" / "HEAD", twins)
               for wt, ref in attached.items() if recorded(ref) == entry.ref)


def _attached(twins: _Twins) -> dict[str, str]:
    """The ref each worktree's HEAD is on, read once per scan (after the reflogs were read)."""
    if twins.attached is None:
        twins.attached = {wt: _head_ref(git_dir) for wt, git_dir in twins.worktrees.items()}
    return twins.attached


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
