"""One scan writes at a time: an advisory lock on `.git/obs/scan.lock`, released by the kernel on any exit."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gitobs.core.files import NO_FOLLOW
from gitobs.core.repo import GitobsError


@contextmanager
def exclusive(path: Path, wait_s: float) -> Iterator[bool]:
    """Yields True while holding the lock, False if another process kept it for `wait_s` seconds."""
    try:  # never through a link: a copied repository's .git could point it at a file to create anywhere
        fd = os.open(path, os.O_RDWR | os.O_CREAT | NO_FOLLOW, 0o644)
    except OSError as exc:
        if not path.is_symlink():
            raise
        raise GitobsError(f"{path} is a symbolic link; gitobs takes its locks only in files of its own") from exc
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.02)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
