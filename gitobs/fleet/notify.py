"""File-system notifications for `gitobs watch`: which watched repositories had a file change, so that one
is looked at a second or so after a save instead of at its next tick.

watchdog gives the platform's own notifications (inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW
on Windows, kqueue on the BSDs): one recursive watch per work tree, and one on the common git dir when it
lies outside every work tree. Only writes are asked for (created, written, deleted, moved): opening or
reading a file is no event, so the watcher's own looks and scans, which read files, never wake it. With
inotify a file written in many calls is one event, when it is closed.

The handler runs on watchdog's thread and only notes a time and the path. A path inside the git dir counts
only when the git-side signature stamps it (`git_side`, from fleet/watch.py): objects, gitobs's own log and
state, lock files and the rest are dropped by one regular-expression match. The work-tree paths are kept
(up to MAX_PATHS), so the watcher can skip a look when every one of them is gitignored and untracked (a
build's output); otherwise the stat-level look decides, and the rate cap bounds what it costs.

When a repository is looked at: DEBOUNCE_S after its last change (a save is a burst of events: temporary
file, rename, the editor's own `git status`), but no later than MAX_WAIT_S after the first one left
unlooked (a stream that never pauses), and never twice within MIN_GAP_S.

Where notifications cannot be had (watchdog's only observer is its polling one, which stats every file
every second; the inotify watch or instance limit is reached), a repository is looked at each tick only,
as before, and `notices` says so once.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

DEBOUNCE_S = 0.5  # quiet after a repository's last change before its look
MAX_WAIT_S = 1.5  # the longest a change waits for a look while changes keep coming
MIN_GAP_S = 1.0  # between two looks at one repository
MAX_PATHS = 256  # changed paths kept per repository between two looks; past that, a look whatever they are


@dataclass
class _Pending:
    first: float  # monotonic time of the first change not looked at yet
    last: float  # and of the latest
    paths: set[str] | None  # the work-tree paths that changed; None: look whatever (the git side, too many)


class Notifier:
    """The repositories (by key: their common dir) whose files changed, and when each is due for a look."""

    def __init__(self, wake: threading.Event, git_side: re.Pattern[str]) -> None:
        self.wake = wake  # set when a repository becomes due-to-be: the watch loop recomputes its sleep
        self.git_side = git_side
        self.notices: list[str] = []  # what the user should be told, once each
        self._said: set[object] = set()  # the texts, or kinds, said
        self._lock = threading.Lock()
        self._pending: dict[Path, _Pending] = {}
        self._looked: dict[Path, float] = {}  # key -> monotonic time of its last look from here
        self._watches: dict[Path, list] = {}  # key -> watchdog's ObservedWatch objects
        self._observer = None
        self._closes = False
        self.tried = False  # start() was called (and said why, if it failed)

    def start(self) -> bool:
        """Start watchdog's observer; False (and a notice) when this platform has no notifications."""
        self.tried = True
        try:
            from watchdog.observers import Observer
            from watchdog.observers.polling import PollingObserver
        except ImportError as exc:  # an install without it: polling as before
            self._notice(f"no file-system notifications ({exc}); looking every interval only")
            return False
        if Observer is PollingObserver:
            self._notice("no file-system notifications on this platform; looking every interval only")
            return False
        self._closes = Observer.__name__ == "InotifyObserver"  # reports a file closed after writing
        self._observer = Observer(timeout=5)
        self._observer.daemon = True
        try:
            self._observer.start()
        except OSError as exc:
            self._observer = None
            self._notice(f"no file-system notifications ({exc.strerror or exc}); looking every interval only")
            return False
        return True

    @property
    def active(self) -> bool:
        return self._observer is not None

    def follow(self, key: Path, roots: list[Path], git_dir: Path, label: str) -> None:
        """Watch `roots` for the repository `key` (replacing what was watched for it before)."""
        self.drop(key)
        if self._observer is None:
            return
        from watchdog import events as fs

        # With inotify a file written counts once, when closed (not at every write call: a build's output is
        # thousands); the other platforms report no close, only modifications. A save by rename is a move.
        written = fs.FileClosedEvent if self._closes else fs.FileModifiedEvent
        writes = [fs.FileCreatedEvent, written, fs.FileDeletedEvent, fs.FileMovedEvent, fs.DirCreatedEvent,
                  fs.DirDeletedEvent, fs.DirMovedEvent]
        handler = _Handler(self, key, os.fspath(git_dir))
        watches = []
        for root in roots:
            try:
                watches.append(self._observer.schedule(handler, os.fspath(root), recursive=True,
                                                       event_filter=writes))
            except FileNotFoundError:  # removed meanwhile: its look says so
                continue
            except OSError as exc:
                self._unschedule(watches)
                self._notice(_limit_hint(exc, label), kind=exc.errno)
                return
        self._watches[key] = watches

    def drop(self, key: Path) -> None:
        self._unschedule(self._watches.pop(key, []))
        with self._lock:
            self._pending.pop(key, None)
            self._looked.pop(key, None)

    def changed(self, key: Path, path: str | None) -> None:
        """Called on watchdog's thread: `path` of `key`'s work trees changed now (None: its git side)."""
        now = time.monotonic()
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                self._pending[key] = _Pending(now, now, None if path is None else {path})
            else:
                pending.last = now
                if pending.paths is not None and (path is None or len(pending.paths) >= MAX_PATHS):
                    pending.paths = None
                elif pending.paths is not None:
                    pending.paths.add(path)
        if pending is None:
            self.wake.set()

    def due(self) -> dict[Path, set[str] | None]:
        """The repositories due for a look now, with the work-tree paths that changed (None: look whatever);
        each is taken off the pending list."""
        now = time.monotonic()
        with self._lock:
            due = {key: pending.paths for key, pending in self._pending.items() if self._due_at(key) <= now}
            for key in due:
                del self._pending[key]
                self._looked[key] = now
        return due

    def next_due(self) -> float:
        """The monotonic time of the next look due (infinity when nothing is pending)."""
        with self._lock:
            return min((self._due_at(key) for key in self._pending), default=float("inf"))

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def _due_at(self, key: Path) -> float:
        pending = self._pending[key]
        settled = min(pending.last + DEBOUNCE_S, pending.first + MAX_WAIT_S)
        return max(settled, self._looked.get(key, float("-inf")) + MIN_GAP_S)

    def _unschedule(self, watches: list) -> None:
        for watch in watches:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError, RuntimeError):  # its emitter already ended (the directory was removed)
                pass

    def _notice(self, text: str, kind: object = None) -> None:
        """Say `text` unless something of the same kind was said (the watch limit: once, not per repository)."""
        if (kind or text) not in self._said:
            self._said.add(kind or text)
            self.notices.append(text)


def work_trees(dirs: dict[str, Path]) -> list[tuple[str, object]]:
    """Each worktree's work tree (its path with a trailing separator) and its pygit2 repository, longest
    path first: the first whose path a changed file's starts with is the work tree it is in."""
    import pygit2
    from pygit2.enums import RepositoryOpenFlag

    trees = []
    for git_dir in dirs.values():
        try:
            repo = pygit2.Repository(str(git_dir), RepositoryOpenFlag.NO_SEARCH)
        except (pygit2.GitError, OSError, KeyError, ValueError):  # a worktree half removed: polled
            continue
        if repo.workdir:
            trees.append((os.path.join(repo.workdir, ""), repo))
    return sorted(trees, key=lambda tree: -len(tree[0]))


def watch_roots(common: Path, trees: list[tuple[str, object]]) -> list[Path]:
    """The directories to watch for notifications: each work tree, and the common git dir when it is in none
    of them (bare, or --separate-git-dir)."""
    roots = {Path(path) for path, _ in trees}
    if not any(common.is_relative_to(root) for root in roots):
        roots.add(common)
    return sorted(root for root in roots if not any(root != other and root.is_relative_to(other) for other in roots))


def all_ignored(trees: list[tuple[str, object]], paths: set[str]) -> bool:
    """Whether every changed path is gitignored and untracked (a build's output): no look can find it."""
    import pygit2

    try:
        for path in paths:
            tree = next(((root, repo) for root, repo in trees if path.startswith(root)), None)
            if tree is None:
                return False
            root, repo = tree
            relative = path[len(root):].replace(os.sep, "/")
            index = repo.index
            index.read(False)  # again only if git wrote it since
            if not relative or not repo.path_is_ignored(relative) or relative in index:
                return False
    except (pygit2.GitError, OSError, ValueError, UnicodeError):
        return False
    return True


class _Handler:
    """watchdog's handler for one repository: `dispatch` is all watchdog calls."""

    def __init__(self, notifier: Notifier, key: Path, git_dir: str) -> None:
        self.notifier = notifier
        self.key = key
        self.git_dir = git_dir.rstrip(os.sep) + os.sep

    def dispatch(self, event) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw) if raw else ""
            if not path:
                continue
            if path.startswith(self.git_dir):
                if self.notifier.git_side.match(path[len(self.git_dir):].replace(os.sep, "/")):
                    self.notifier.changed(self.key, None)
            elif f"{os.sep}.git{os.sep}" not in path:  # not another repository's git dir in this work tree
                self.notifier.changed(self.key, path)


def _limit_hint(exc: OSError, label: str) -> str:
    """What to say when a repository cannot be watched: said once, for the first one it happens to."""
    if exc.errno == errno.ENOSPC:
        cause = "the inotify watch limit is reached (sysctl fs.inotify.max_user_watches)"
    elif exc.errno == errno.EMFILE:  # inotify's instance limit, or the process's descriptors
        cause = "no more inotify instances (sysctl fs.inotify.max_user_instances) or file descriptors"
    else:
        cause = f"no file-system notifications ({exc.strerror or exc})"
    return f"{cause}: {label} and any other repository it happens to are looked at every interval only"
