"""Files replaced whole: written beside, fsynced, renamed over, the directory fsynced. A crash leaves the old
file or the new one, never a mix (state, cursors, config, the registry)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
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
