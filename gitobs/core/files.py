"""Files replaced whole: written beside, fsynced, renamed over, the directory fsynced. A crash leaves the old
file or the new one, never a mix (state, cursors, config, the registry)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # an open() that refuses a symlink at the name (0 where the OS has none)


def write_atomic(path: Path, data: bytes) -> None:
    replace_with(path, path.with_name(f".{path.name}.tmp"), [data])


def replace_with(path: Path, temp: Path, pieces: Iterable[bytes],
                 sync_dir: Callable[[Path], None] | None = None) -> None:
    """`pieces` as the new content of `path`, written to `temp`, synced, renamed over `path`; then the
    directory synced (by `sync_dir` where the caller wants its failure raised, as the event log does)."""
    with open(open_fresh(temp), "wb") as handle:
        handle.writelines(pieces)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    (sync_dir or fsync_dir)(path.parent)


def open_fresh(temp: Path) -> int:
    """`temp` made anew, whatever was at that name removed first: a copied repository's `.git/obs/` may hold a
    symlink there to a file of the user's, which opening the name would write through."""
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass
    return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW, 0o666)


def fsync_dir(directory: Path) -> None:
    """Sync a directory so that a new or renamed entry in it is durable; failures are ignored."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def stamp(path: str) -> list[int]:
    """Inode, size, mtime (ns); [] when absent. git and GitButler replace files by rename, so a rewrite always
    gets a new inode: equal stamps mean an unchanged file, without reading it."""
    try:
        info = os.stat(path)
    except OSError:
        return []
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def open_regular(path: Path, follow_links: bool = True) -> tuple[int, os.stat_result]:
    """A descriptor to read `path` and its fstat, when it is a regular file; ValueError when it is not.
    A name that may come from a repository or a bundle can be a symlink to /dev/zero, a FIFO or a device:
    one is never opened when the name says so (opening a device may do something), and the open neither
    waits (a FIFO with no writer) nor takes a terminal; what was opened is checked again, not the name."""
    if not stat.S_ISREG(os.stat(path, follow_symlinks=follow_links).st_mode):
        raise ValueError("not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags if follow_links else flags | NO_FOLLOW)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ValueError("not a regular file")
    os.set_blocking(fd, True)
    return fd, info


def read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
