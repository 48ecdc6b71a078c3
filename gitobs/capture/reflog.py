"""Read reflogs incrementally and say what each entry was.

A cursor per reflog file (byte offset plus a hash of the last line read) makes a scan with nothing new a
stat and one small read per file, whatever the history's size. A reflog that was rewritten (expired,
`stash drop`, GitButler's synthetic target log) no longer has that line at that offset; the reader then
finds the line again, or else takes what is newer than it. Messages are classified here and dropped: commit subjects never leave this module.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from gitobs.core.names import decoded, recorded
from gitobs.core.repo import MAIN_WORKTREE

# Reflog entries never read in one go beyond this (a huge first scan is simply continued next time).
MAX_BYTES_PER_SCAN = 64 << 20

GITBUTLER_PREFIXES = (
    "safe checkout", "GitButler", "created by GitButler", "updated workspace commit", "updated integration commit",
    "initialize stack", "initialize workspace", "enter edit mode", "Dependent branch by GitButler",
    "back up branch before rename", "rename branch", "restore branch after failed rename",
    "restore snapshot", "soft resetting to GitButler workspace", "update virtual branch",
)


@dataclass(frozen=True)
class Cursor:
    offset: int = 0
    last_hash: str = ""  # of the last line read, to notice a rewritten file
    last_ts: int = 0

    def to_json(self) -> list:
        return [self.offset, self.last_hash, self.last_ts]

    @classmethod
    def from_json(cls, raw: object) -> Cursor:
        if isinstance(raw, list) and len(raw) == 3:
            return cls(int(raw[0]), str(raw[1]), int(raw[2]))
        return cls()


@dataclass(frozen=True)
class ReflogEntry:
    ref: str  # "HEAD", "refs/heads/x", "refs/stash"
    wt: str  # worktree of a HEAD reflog; MAIN_WORKTREE for shared refs
    old: str
    new: str
    ts: int  # seconds
    message: str  # in memory only: classified, never stored
    key: str  # stable provenance, the seed of event ids
    offset: int = -1  # where the line starts in its file, when read from one
    # identity of the entry across the HEAD log and a branch log (git writes both for one update)
    @property
    def mirror_key(self) -> tuple:
        return (self.old, self.new, self.ts, self.message)


@dataclass(frozen=True)
class ReflogFile:
    path: Path
    ref: str
    wt: str


def reflog_files(common_dir: Path, worktree_dirs: dict[str, Path]) -> list[ReflogFile]:
    """HEAD of every worktree and every local branch (the stash is read whole: see stash_events)."""
    files = []
    for wt, git_dir in worktree_dirs.items():
        head = git_dir / "logs" / "HEAD"
        if head.is_file():
            files.append(ReflogFile(head, "HEAD", wt))
    heads = common_dir / "logs" / "refs" / "heads"
    for dirpath, dirnames, filenames in os.walk(heads):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            ref = "refs/heads/" + recorded(path.relative_to(heads).as_posix())  # names, like paths, in UTF-8
            if is_read_branch(ref):
                files.append(ReflogFile(path, ref, MAIN_WORKTREE))
    return files


def is_read_branch(ref: str) -> bool:
    """Is `ref` a branch whose reflog is read? Not GitButler's internal refs: they have their own scanner."""
    return ref.startswith("refs/heads/") and not ref.startswith("refs/heads/gitbutler/")


def _line_hash(line: bytes) -> str:
    return hashlib.blake2b(line, digest_size=8).hexdigest()


def read_new(file: ReflogFile, cursor: Cursor) -> tuple[list[ReflogEntry], Cursor, bool]:
    """Entries appended since `cursor`, the new cursor, and whether the file was found rewritten."""
    try:
        size = file.path.stat().st_size
    except FileNotFoundError:
        return [], Cursor(last_ts=cursor.last_ts), cursor.offset > 0
    intact = cursor.offset <= size and _tail_matches(file.path, cursor)
    if intact and size == cursor.offset:
        return [], cursor, False
    start = cursor.offset if intact else 0
    with open(file.path, "rb") as handle:
        handle.seek(start)
        data = handle.read(MAX_BYTES_PER_SCAN)
    end = data.rfind(b"\n") + 1  # whole lines only: a line being written is read next time
    if end == 0:
        return [], cursor if intact else Cursor(last_ts=cursor.last_ts), not intact
    lines = split_lines(data[:end])
    last = lines[-1]
    offsets, position = [], start
    for line in lines:
        offsets.append(position)
        position += len(line)
    kept = range(len(lines)) if intact else _after_cursor(lines, cursor)
    entries = [entry for entry in (parse_line(file, lines[i], offsets[i]) for i in kept) if entry is not None]
    return entries, Cursor(start + end, _line_hash(last), max(cursor.last_ts, _line_ts(last))), not intact


def split_lines(data: bytes) -> list[bytes]:
    """Reflog lines with their "\n" (and a last one without, if unfinished). Not bytes.splitlines, which
    also breaks at the "\r" a message may hold."""
    lines = [line + b"\n" for line in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _tail_matches(path: Path, cursor: Cursor) -> bool:
    """Is the line just before `cursor.offset` still the one last read?"""
    if not cursor.last_hash:
        return cursor.offset == 0
    previous = _line_before(path, cursor.offset)
    return previous is not None and _line_hash(previous) == cursor.last_hash


def _line_before(path: Path, offset: int) -> bytes | None:
    """The line that ends at `offset` (its last 4 KiB), or None if no line ends there."""
    with open(path, "rb") as handle:
        back = min(offset, 4096)
        handle.seek(offset - back)
        chunk = handle.read(back)
    if not chunk.endswith(b"\n"):
        return None
    return chunk[:-1].rpartition(b"\n")[2] + b"\n"


def cursor_before(path: Path, entry: ReflogEntry) -> Cursor:
    """A cursor from which the next read starts at `entry`: read now, and held back for the next scan."""
    previous = _line_before(path, entry.offset) if entry.offset > 0 else None
    if previous is None:
        return Cursor()
    return Cursor(entry.offset, _line_hash(previous), _line_ts(previous))


def _after_cursor(lines: list[bytes], cursor: Cursor) -> range | list[int]:
    """Indexes of the lines of a rewritten file that come after the cursor's line."""
    if not cursor.last_hash:
        return range(len(lines))
    for index in range(len(lines) - 1, -1, -1):
        if _line_hash(lines[index]) == cursor.last_hash:
            return range(index + 1, len(lines))
    # The line is gone (expired, or that entry itself was dropped): keep what is not older than it.
    # Commits are deduplicated by sha, so an old line from the same second costs nothing.
    return [i for i, line in enumerate(lines) if _line_ts(line) >= cursor.last_ts]


_LINE = re.compile(rb"^([0-9a-f]{40,64}) ([0-9a-f]{40,64}) .*?> (\d+) ([+-]\d{4})\t?(.*)$", re.S)


def _line_ts(line: bytes) -> int:
    match = _LINE.match(line.rstrip(b"\n"))
    return int(match.group(3)) if match else 0


def parse_line(file: ReflogFile, line: bytes, offset: int | None = None) -> ReflogEntry | None:
    """`offset`, where the line starts in its file, tells apart identical lines (two `reset --hard` in
    one second) in the event ids made from them."""
    match = _LINE.match(line.rstrip(b"\n"))
    if not match:
        return None
    old, new, ts, _tz, message = match.groups()
    where = "" if offset is None else f"{offset}:"
    key = f"reflog:{file.wt}:{file.ref}:{where}{_line_hash(line)}"
    return ReflogEntry(
        ref=file.ref, wt=file.wt, old=old.decode(), new=new.decode(), ts=int(ts),
        message=decoded(message), key=key,  # the names in it as the reflog's own file names are recorded
        offset=-1 if offset is None else offset,
    )


@dataclass(frozen=True)
class Kind:
    """What a reflog message says happened, with the few non-secret words it names."""

    op: str  # commit, amend, merge-commit, checkout, reset, rebase, merge, pull, cherry-pick, revert,
    # branch-created, branch-renamed, stash, clone, gitbutler, empty, other
    step: str = ""  # rebase step (start, pick, finish, abort, ...), merge/pull mode
    source: str = ""  # checkout: from; rename: from; merge: what was merged
    target: str = ""  # checkout: to; rename: to


_CHECKOUT = re.compile(r"^checkout: moving from (.*) to (.*)$")
_RENAMED = re.compile(r"^Branch: renamed refs/heads/(.*) to refs/heads/(.*)$")
_REBASE = re.compile(r"^(pull --rebase|rebase(?: -i| -m)?) \((\w[\w-]*)\)")
_MERGE = re.compile(r"^merge (.+?): (.*)$")


def classify(message: str) -> Kind:
    if message == "":
        return Kind("empty")
    if message.startswith(("commit (initial):", "commit:")):
        return Kind("commit")
    if message.startswith("commit (amend):"):
        return Kind("amend")
    if message.startswith("commit (merge):"):
        return Kind("merge-commit")
    if message.startswith(("commit (cherry-pick):", "cherry-pick:")):
        return Kind("cherry-pick")
    if message.startswith("revert:"):
        return Kind("revert")
    if match := _CHECKOUT.match(message):
        return Kind("checkout", source=match.group(1), target=match.group(2))
    if message.startswith(("reset: moving to", "branch: Reset to")):
        return Kind("reset")
    if match := _REBASE.match(message):
        return Kind("rebase", step=match.group(2), source="pull" if match.group(1) == "pull --rebase" else "")
    if message.startswith("rebase"):  # older git: "rebase: <subject>", "rebase finished: ..."
        return Kind("rebase", step="finish" if message.startswith("rebase finished") else "pick")
    if message.startswith("pull"):
        mode = "fast-forward" if "Fast-forward" in message else "merge"
        return Kind("pull", step=mode)
    if match := _MERGE.match(message):
        return Kind("merge", step="fast-forward" if match.group(2).startswith("Fast-forward") else "merge",
                    source=match.group(1))
    if message.startswith("branch: Created from"):
        return Kind("branch-created")
    if match := _RENAMED.match(message):
        return Kind("branch-renamed", source=match.group(1), target=match.group(2))
    if message.startswith(("WIP on ", "On ")):
        return Kind("stash")
    if message.startswith("clone:"):
        return Kind("clone")
    if message.startswith(("am:", "am --")):
        return Kind("commit", step="am")
    if message.startswith(GITBUTLER_PREFIXES):
        return Kind("gitbutler")
    return Kind("other")
