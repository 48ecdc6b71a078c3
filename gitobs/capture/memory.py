"""What a scan remembers of GitButler's state and of each working tree between runs, kept in the scan state
(gitobs/capture/state.py). Plain structs: loading the state needs neither pygit2 nor the readers."""

from __future__ import annotations

import msgspec

from gitobs.capture.gitbutler_toml import Stack


class GitButlerMemory(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the previous scan saw of GitButler's state. Stamps are [inode, size, mtime_ns], [] when absent."""

    config: list[list[int]] = []  # stamps of the git config files that can set gitbutler.storagePath
    config_files: list[str] = []  # the files they include (include.path, includeIf.*.path), stamped too
    storage: str = ""  # the storage dir they set; "" for the default <common dir>/gitbutler
    toml: list[list[int]] = []  # stamps of REFRESH, virtual_branches.toml, but.sqlite and its -wal
    refs: dict[str, list[int]] = {}  # stamps of the tracked branches' loose refs, and of packed-refs
    stacks: dict[str, Stack] | None = None  # by stack id; None until the TOML was first read
    oplog: list[list[int]] = []  # stamps of operations-log.toml and oplog.toml when `op_head` was read
    op_head: str = ""  # the newest snapshot commit reported
    op_time: int = 0  # its committer time (seconds)
    worktrees: dict[str, GitButlerMemory] = {}  # linked worktree -> GitButler's state kept in its git dir


class RememberedFile(msgspec.Struct, array_like=True):
    """A dirty file of the previous sample: [path, added, deleted, its blob in HEAD then]."""

    path: str
    added: int
    deleted: int
    head_blob: str  # first BLOB_ID_CHARS of the path's blob id in HEAD; "" when HEAD had no such file


class WorktreeMemory(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The previous sample of one worktree."""

    signature: str = ""  # digest of the stat-level look; equal means nothing changed
    stash: str = ""  # refs/stash's target then
    files: list[RememberedFile] = []  # capped at MAX_FILES, sorted by path
    files_total: int = 0
    added: int = 0
    deleted: int = 0
