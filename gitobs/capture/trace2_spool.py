"""git's trace2 directory (gitobs/capture/trace2_setup.py) drained into each repository's own spool.

git writes one file per process into the user's trace2 directory, for every repository. Every scan drains
it under a lock: a file git has finished writing (its last record is `atexit`, or its process is gone) is
read only as far as its `def_repo` line, which names the worktree. A file of a repository where gitobs is
installed is moved into that repository's `.git/obs/spool/trace2/` (0700), where that repository's scan
turns it into events like a hook record (ingest lists it as consumed, deletes it once the events are
durable). Every other file (a repository without gitobs, or no repository) is deleted unread beyond that
line, and so is a file another user owns (or named in bytes git never writes). Last, git's maxFiles sentinel
is removed so git writes again. A directory found opened up is made 0700 again.
A spool that is a symlink or another user's takes no file (it is dropped); a routed file is read without
following a symlink or waiting on a FIFO, and at most MAX_READ_BYTES of it.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from gitobs.capture.install import recording_since_ns
from gitobs.capture.trace2_events import repo_of
from gitobs.capture.trace2_setup import SENTINEL, private_dir, trace2_dir
from gitobs.core.homes import state_home
from gitobs.core.liveness import process_alive
from gitobs.core.lock import exclusive
from gitobs.core.names import recorded
from gitobs.core.repo import MAIN_WORKTREE, GitobsError, ObsPaths

SUBDIR = "trace2"  # under a repository's .git/obs/spool/: names in the scan state are "trace2/<file>"
HEAD_BYTES = 16384  # def_repo comes within the first few records (version, start, cmd_ancestry, def_repo)
HEAD_RECORDS = 8
TAIL_BYTES = 4096
MAX_READ_BYTES = 8 << 20  # of one routed file: its head and its end (a process that wrote for ever)
MAX_WAIT_NS = 24 * 3600 * 10**9  # a file still growing after a day: its process is hung, take it
LOCK_WAIT_S = 10.0


@dataclass
class Drained:
    routed: int = 0  # moved into an installed repository's spool
    dropped: int = 0  # deleted, unread beyond the repository line
    waiting: int = 0  # still being written: left for the next scan


def drain(now_ns: int | None = None, directory: Path | None = None) -> Drained:
    """Route every finished file of the trace2 directory. Never raises: a scan does not fail on it."""
    directory = directory or trace2_dir()
    done = Drained()
    try:
        info = os.lstat(directory)
    except OSError:
        return done  # trace2 was never enabled
    if info.st_uid != os.getuid():
        return done  # not gitobs's: never read
    if stat.S_ISREG(info.st_mode):  # the directory was deleted, so git appended every process to one file
        return _replace_file(directory, done)
    if not stat.S_ISDIR(info.st_mode):
        return done
    if stat.S_IMODE(info.st_mode) != 0o700:  # opened up (a backup restored): each file holds a whole argv
        try:
            os.chmod(directory, 0o700)
        except OSError:
            pass
    try:
        with exclusive(state_home() / "trace2.lock", LOCK_WAIT_S) as held:
            if held:
                _drain_locked(directory, now_ns or time.time_ns(), done)
    except OSError:
        pass  # the lock cannot be made (a read-only state home): the files wait, bounded by maxFiles
    return done


def _replace_file(directory: Path, done: Drained) -> Drained:
    """All repositories mixed in one file: dropped unread, and the directory made again."""
    try:
        os.unlink(directory)
        private_dir(directory)
        done.dropped += 1
    except (OSError, GitobsError):
        pass
    return done


def _drain_locked(directory: Path, now_ns: int, done: Drained) -> None:
    try:
        entries = [entry for entry in os.scandir(directory) if entry.name != SENTINEL]
    except OSError:
        return
    homes: dict[str | None, tuple[Path, int] | None] = {}  # worktree -> the spool its files go to (None: dropped)
    for entry in entries:
        try:
            _route(Path(entry.path), now_ns, done, homes)
        except OSError:
            continue  # vanished, or a repository that cannot take it now: the next scan tries again
    try:
        os.unlink(directory / SENTINEL)
    except OSError:
        pass


def _route(path: Path, now_ns: int, done: Drained, homes: dict[str | None, tuple[Path, int] | None]) -> None:
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        return
    if info.st_uid != os.getuid() or recorded(path.name) != path.name:  # not git's for this user (a hard link,
        os.unlink(path)  # a directory opened up), or a name git never writes, which the scan state cannot hold
        done.dropped += 1
        return
    if not finished(path, info.st_mtime_ns, now_ns):
        done.waiting += 1
        return
    worktree = repo_of(head_records(path))
    if worktree not in homes:
        homes[worktree] = _private_spool(home_of(worktree))
    target, since_ns = homes[worktree] or (None, 0)
    if target is None or info.st_mtime_ns < since_ns:  # no gitobs there, or not yet when the process ended
        os.unlink(path)
        done.dropped += 1
        return
    _move(path, target)
    done.routed += 1


def spool_dir(obs: ObsPaths) -> Path:
    return obs.spool / SUBDIR


def _private_spool(home: tuple[Path, str] | None) -> tuple[Path, int] | None:
    """An installed repository's trace2 spool, made 0700, and when it was installed; None (its files dropped)
    when it is a symlink or another user's: a repository copied with its .git must not lead the user's command
    lines elsewhere."""
    if home is None or not ObsPaths(home[0]).is_enabled():
        return None
    obs = ObsPaths(home[0])
    try:
        return private_dir(spool_dir(obs)), recording_since_ns(obs.manifest)
    except GitobsError:
        return None


def finished(path: Path, mtime_ns: int, now_ns: int) -> bool:
    """Has git finished writing this file? Its last record is atexit, or the process that wrote it is gone."""
    if now_ns - mtime_ns > MAX_WAIT_NS:
        return True
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - TAIL_BYTES))
        tail = handle.read()
    if tail.endswith(b"\n") and _event(tail.rstrip(b"\n").rpartition(b"\n")[2]) == "atexit":
        return True
    pid = pid_of(path.name)
    return pid is None or not process_alive(pid, mtime_ns)


def pid_of(name: str) -> int | None:
    """The writing process, from git's file name `<time>-H<host>-P<pid in hex>`."""
    _, found, tail = name.rpartition("-P")
    try:
        pid = int(tail, 16) if found else None
    except ValueError:
        return None
    return pid if pid is not None and 0 < pid < 2**31 else None  # os.kill takes no more


def _event(line: bytes) -> str | None:
    try:
        record = _decode(line)
    except msgspec.DecodeError:
        return None
    return record.get("event") if isinstance(record, dict) else None


_decode = msgspec.json.Decoder().decode


def head_records(path: Path) -> list[dict]:
    """The first records of a file, enough to name its repository: the rest is not read."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    records: list[dict] = []
    for line in head.split(b"\n")[:HEAD_RECORDS]:
        records += decode_lines([line])
        if records and records[-1].get("event") == "def_repo":
            break  # what follows is never read
    return records


def decode_lines(lines: list[bytes]) -> list[dict]:
    records = []
    for line in lines:
        try:
            record = _decode(line)
        except msgspec.DecodeError:
            continue  # a line cut short by a killed process, or the empty one after the last
        if isinstance(record, dict):
            records.append(record)
    return records


def home_of(worktree: str | None) -> tuple[Path, str] | None:
    """The common git dir and the worktree name (as events record it) of a worktree path, from its `.git`."""
    if not worktree:
        return None
    dotgit = Path(worktree) / ".git"
    try:
        info = os.lstat(dotgit)
        if stat.S_ISDIR(info.st_mode):
            return Path(os.path.realpath(dotgit)), MAIN_WORKTREE
        text = dotgit.read_text(encoding="utf-8", errors="replace") if stat.S_ISREG(info.st_mode) else ""
        if not text.startswith("gitdir: "):
            return None
        git_dir = Path(os.path.realpath(Path(worktree) / text[len("gitdir: "):].strip()))
        common = git_dir / "commondir"
        if not common.is_file():
            return git_dir, MAIN_WORKTREE  # a submodule: its own repository
        common_dir = Path(os.path.realpath(git_dir / common.read_text(encoding="utf-8").strip()))
        return common_dir, git_dir.name
    except (OSError, ValueError):  # ValueError: a NUL in a hand-made file's worktree
        return None


def _move(path: Path, target_dir: Path) -> None:
    """Into an installed repository's spool: a rename, or a copy then a rename where they are on two
    file systems (a crash in between leaves the same file twice, and the second move overwrites it)."""
    os.chmod(path, 0o600)  # before it leaves the private directory: it holds the whole argv
    target = target_dir / path.name
    try:
        os.rename(path, target)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another file system
            raise
        temp = target_dir / f".{path.name}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with open(path, "rb") as source, os.fdopen(fd, "wb") as copy:
            shutil.copyfileobj(source, copy)
        os.replace(temp, target)
        os.unlink(path)


@dataclass
class Trace2File:
    name: str  # "trace2/<git's file name>", as the scan state lists consumed spool files
    pid: int  # the git process
    records: list[dict]


def read_routed(obs: ObsPaths, skip: frozenset[str] = frozenset()) -> list[Trace2File]:
    """This repository's trace2 files, oldest first, each whole."""
    directory = spool_dir(obs)
    try:
        names = sorted(name for name in os.listdir(directory) if not name.startswith("."))
    except OSError:
        return []
    found = []
    for name in names:
        key = f"{SUBDIR}/{name}"
        if key in skip:
            continue
        if recorded(name) != name:  # not UTF-8: no git's, and the scan state (JSON) cannot list it
            try:
                os.unlink(directory / name)
            except OSError:
                pass
            continue
        try:
            data = read_bounded(directory / name)
        except OSError:
            continue
        found.append(Trace2File(key, pid_of(name) or 0, decode_lines(data.split(b"\n"))))
    return found


def read_bounded(path: Path) -> bytes:
    """A regular file's bytes, never through a symlink nor blocking on a FIFO (those give b"": consumed
    unread); past MAX_READ_BYTES only its head and its end, the lines cut in between left undecodable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return b""
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b""
        if info.st_size <= MAX_READ_BYTES:
            return handle.read()
        head = handle.read(MAX_READ_BYTES // 2)
        handle.seek(-(MAX_READ_BYTES // 2), os.SEEK_END)
        return head + b"\n" + handle.read()
