"""Working-tree samples: which files of a worktree are dirty against HEAD, with lines added and deleted.

The scanner looks at every worktree on every scan, so an idle worktree must cost stat calls only. A look
has two stages:

1. The signature, from stat data: HEAD's commit, the branch, refs/stash, the index file's stat, and
   libgit2's index-to-workdir diff without patches (like `git status`, it stats every tracked file and
   hashes only those whose stat differs from the index; untracked files are listed, ignored ones skipped),
   plus the stat of each file that diff names. Equal to the memory's signature: nothing else is done.
   `index.diff_to_workdir` is used rather than `repo.status()`, which also walks HEAD's tree against the
   index: that can only change with HEAD or the index file, both in the signature. The saving is small
   next to the stat calls both make (benchmarks/sampling.py measures the two).
2. The measure, only when the signature changed: the dirty set (HEAD's tree against the index, plus the
   index against the working tree, untracked files included) and, per dirty file, the lines added and
   deleted between HEAD's blob and the working file. Untracked files count their lines as added (the first
   MiB only); binary files count 0. Paths and counts are all that is kept: no contents, no diffs.

A sample is reported when the dirty files or their counts differ from the previous sample's. No memory
counts as a clean tree: a clean first look reports nothing and only stores the memory. A change of branch
alone reports nothing (`branch.switch` says it).

A file dirty in the previous sample and clean now, whose blob in HEAD is the same as then, had its change
put back by hand (checkout, restore, an editor's undo): it is reported lost with the previous counts. Not
lost: HEAD's blob for it changed (the change was committed, or HEAD moved), refs/stash moved (stashed),
or it was untracked and is still on disk (ignored now). A file still dirty with fewer changes is not
reported. The memory keeps the first MAX_FILES dirty paths, so losses beyond them go unseen.
A submodule counts no lines: its changes are another repository's.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import DeltaStatus, DiffOption, RepositoryOpenFlag

from gitobs.capture.enrich import MAX_FILES
from gitobs.capture.memory import RememberedFile, WorktreeMemory
from gitobs.core.names import on_disk, recorded
from gitobs.log.schema import FileChange, WorktreeSample

UNTRACKED_READ = 1 << 20  # bytes of an untracked file read to count its lines
LARGE_FILE = 16 << 20  # a tracked file beyond this counts as binary: diffing it on every change costs too much
BINARY_PROBE = 8000  # git's own test: a NUL byte in the first 8000 bytes means binary
BLOB_ID_CHARS = 16  # enough to tell two versions of one path apart
_NOT_COUNTED = b"\0"  # stands for content whose lines are not counted: binary, too large, unreadable
_STAGED_FLAGS = DiffOption.IGNORE_SUBMODULES
_WORKDIR_FLAGS = DiffOption.INCLUDE_UNTRACKED | DiffOption.RECURSE_UNTRACKED_DIRS | DiffOption.IGNORE_SUBMODULES
_GIT_TROUBLE = (OSError, pygit2.GitError, KeyError, ValueError)  # races with git, vanishing or unreadable files


@dataclass
class SampleResult:
    sample: WorktreeSample | None  # None: nothing changed since the memory's sample
    lost: list[FileChange] = field(default_factory=list)  # dirty before, clean now, not committed
    memory: WorktreeMemory | None = None


@dataclass
class _Look:
    """Stage 1: what can be learned from stat data."""

    root: Path  # the working tree
    head: pygit2.Commit | None  # None while HEAD is unborn
    branch: str | None
    stash: str
    index: pygit2.Index
    unstaged: dict[str, DeltaStatus]  # paths where the working tree differs from the index, untracked included
    signature: str


def sample_worktree(git_dir: Path, memory: WorktreeMemory | None) -> SampleResult | None:
    """None when `git_dir` has no work tree (bare), cannot be opened, or changed under our feet."""
    repo = _open(git_dir)
    if repo is None:
        return None
    try:
        look = _look(repo)
        if memory is not None and look.signature == memory.signature:
            return SampleResult(sample=None, lost=[], memory=memory)
        files = _measure(repo, look)
        lost = _lost(look, memory, {file.path for file in files})
    except _GIT_TROUBLE:
        return None
    fresh = _remember(look, files)
    changed = _reported(fresh) != _reported(memory or WorktreeMemory())  # no memory: a clean tree
    return SampleResult(sample=_sample(look.branch, fresh) if changed else None, lost=lost, memory=fresh)


def look_signature(git_dir: Path) -> str | None:
    """The stat-level signature a sample compares with its memory's (stage 1 alone); None when there is no
    work tree to look at. `gitobs watch` calls it to know whether a scan would sample anything new."""
    repo = _open(git_dir)
    if repo is None:
        return None
    try:
        return _look(repo).signature
    except _GIT_TROUBLE:
        return None


def _open(git_dir: Path) -> pygit2.Repository | None:
    try:
        repo = pygit2.Repository(str(git_dir), RepositoryOpenFlag.NO_SEARCH)
    except _GIT_TROUBLE:
        return None
    # A linked worktree deleted without `git worktree prune` opens, then fails in the diff: None too.
    return None if repo.is_bare or not repo.workdir else repo


def _look(repo: pygit2.Repository) -> _Look:
    head = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit)
    branch = None if head is None or repo.head_is_detached else recorded(repo.head.shorthand)
    stash = _ref_target(repo, "refs/stash")
    index = repo.index
    unstaged = {delta.new_file.path: delta.status for delta in index.diff_to_workdir(_WORKDIR_FLAGS).deltas}
    root = Path(repo.workdir)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((str(head.id) if head else "", branch, stash, _stat(Path(repo.path, "index")))).encode())
    for path, status in sorted(unstaged.items()):
        digest.update(repr((path, int(status), _stat(root / path))).encode())
    return _Look(root, head, branch, stash, index, unstaged, digest.hexdigest())


def _ref_target(repo: pygit2.Repository, name: str) -> str:
    ref = repo.references.get(name)
    return str(ref.target) if ref is not None else ""


def _stat(path: Path) -> tuple[int, ...]:
    """The stat fields any rewrite changes (editors that save by rename change the inode)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return ()
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_mode


def _measure(repo: pygit2.Repository, look: _Look) -> list[RememberedFile]:
    """Stage 2: the dirty files against HEAD, sorted by path, with their line counts."""
    tree = look.head.tree if look.head is not None else None
    dirty = sorted(set(look.unstaged) | set(_staged(tree, look.index)))
    return [_count(repo, look, tree, path) for path in dirty]


def _staged(tree: pygit2.Tree | None, index: pygit2.Index) -> list[str]:
    if tree is None:  # unborn HEAD: everything in the index is new
        return [entry.path for entry in index]
    return [delta.new_file.path for delta in tree.diff_to_index(index, _STAGED_FLAGS).deltas]


def _count(repo: pygit2.Repository, look: _Look, tree: pygit2.Tree | None, path: str) -> RememberedFile:
    blob = _head_blob(tree, path)
    untracked = look.unstaged.get(path) == DeltaStatus.UNTRACKED
    new = _working_content(repo, look.root, path, UNTRACKED_READ if untracked else None)
    added, deleted = _line_counts(_blob_content(blob), new)
    return RememberedFile(recorded(path), added, deleted, _blob_id(blob))


def _head_blob(tree: pygit2.Tree | None, path: str) -> pygit2.Blob | None:
    """The path's blob in HEAD; None when HEAD has no file there (or a submodule, or a directory)."""
    if tree is None:
        return None
    try:
        entry = tree[path]
    except KeyError:
        return None
    return entry if isinstance(entry, pygit2.Blob) else None


def _blob_content(blob: pygit2.Blob | None) -> bytes | None:
    if blob is None:
        return None
    return blob.data if blob.size <= LARGE_FILE else _NOT_COUNTED


def _blob_id(blob: pygit2.Blob | None) -> str:
    return str(blob.id)[:BLOB_ID_CHARS] if blob is not None else ""


def _working_content(repo: pygit2.Repository, root: Path, path: str, limit: int | None) -> bytes | None:
    """What git would store for `path` now (a symlink's target; clean filters such as CRLF applied),
    at most `limit` bytes; None when nothing is there; _NOT_COUNTED when it cannot or should not be read."""
    full = root / path
    try:
        info = os.lstat(full)
        if stat.S_ISLNK(info.st_mode):
            return os.fsencode(os.readlink(full))
        if not stat.S_ISREG(info.st_mode):
            return None  # a directory: a submodule, or a file replaced by a directory
        if limit is None and info.st_size > LARGE_FILE:
            return _NOT_COUNTED
        with open(full, "rb") as handle:
            data = handle.read(limit if limit is not None else -1)
    except FileNotFoundError:
        return None
    except PermissionError:
        return _NOT_COUNTED
    return _clean(repo, path, data)


def _clean(repo: pygit2.Repository, path: str, data: bytes) -> bytes:
    """Apply the path's clean filters to text as `git add` would, so that CRLF line ends under
    core.autocrlf or an eol attribute do not count as changed lines. Without a CR they change nothing
    a line count sees (ident's `$Id$` aside), and loading them costs more than reading a small file."""
    if b"\r" not in data or _is_binary(data):
        return data  # and pygit2's filter output stops at the first NUL: leave binary content alone
    load = getattr(repo, "load_filter_list", None)  # pygit2 >= 1.19.2; before it, CRLF counts as changed
    filters = load(path) if load is not None else None
    return filters.apply_to_buffer(data) if filters is not None else data


def _is_binary(data: bytes | None) -> bool:
    return data is not None and b"\0" in data[:BINARY_PROBE]


def _line_counts(old: bytes | None, new: bytes | None) -> tuple[int, int]:
    """Lines added and deleted from `old` to `new` (None: no file); binary content counts 0."""
    if _is_binary(old) or _is_binary(new):
        return 0, 0
    if old is None:
        return _lines(new), 0
    if new is None:
        return 0, _lines(old)
    _, added, deleted = pygit2.Patch.create_from(old, new).line_stats
    return added, deleted


def _lines(data: bytes | None) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (not data.endswith(b"\n"))


def _lost(look: _Look, memory: WorktreeMemory | None, dirty: set[str]) -> list[FileChange]:
    if memory is None or look.stash != memory.stash:
        return []  # refs/stash moved: what vanished was stashed, not thrown away
    tree = look.head.tree if look.head is not None else None
    return [FileChange(file.path, file.added, file.deleted) for file in memory.files
            if file.path not in dirty and _put_back(look, tree, file)]


def _put_back(look: _Look, tree: pygit2.Tree | None, file: RememberedFile) -> bool:
    """Clean now, with HEAD as it was for this path: the change was undone, not committed."""
    path = on_disk(file.path)
    if _blob_id(_head_blob(tree, path)) != file.head_blob:
        return False
    # An untracked file that is clean and still there has become ignored; its content is not lost.
    return file.head_blob != "" or not os.path.lexists(look.root / path)


def _remember(look: _Look, files: list[RememberedFile]) -> WorktreeMemory:
    return WorktreeMemory(signature=look.signature, stash=look.stash, files=files[:MAX_FILES],
                          files_total=len(files), added=sum(file.added for file in files),
                          deleted=sum(file.deleted for file in files))


def _reported(memory: WorktreeMemory) -> tuple:
    """What a sample of this memory reports, but the branch: for telling whether anything changed."""
    return ([(file.path, file.added, file.deleted) for file in memory.files],
            memory.files_total, memory.added, memory.deleted)


def _sample(branch: str | None, memory: WorktreeMemory) -> WorktreeSample:
    return WorktreeSample(branch=branch, files=[FileChange(file.path, file.added, file.deleted)
                                                for file in memory.files],
                          files_total=memory.files_total, added=memory.added, deleted=memory.deleted)
