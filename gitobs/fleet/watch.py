"""`gitobs watch`: scan on a schedule what hooks cannot see (edits made and thrown away between two git
commands, GitButler's work, hook-less ref moves), doing real work only where something changed.

Each tick looks at every watched repository in two cheap stages:
1. the git side, from stat data alone: spool, HEADs, indexes, packed-refs, the reflogs, the loose branch
   refs' directories (git replaces a ref by rename), the stash, and GitButler's state files;
2. the work trees, by the stat-level look of worktree_sample (libgit2's index-to-workdir diff without
   patches: one stat per tracked file, what `git status` does), skipped while recording is paused.
A repository whose stamps are all as after its last scan costs that and nothing else: no lock, no log,
no state written. Any change means a full scan, which is crash-safe as always, so a signal between two
repositories, or even inside a scan, loses nothing: the next scan picks up where the last one stopped.

Between ticks, file-system notifications (fleet/notify.py) bring a look at one repository about a second
after its files change, so an edit is sampled before it can be thrown away: a discard then carries its
files and lines. The ticks stay, for what notifications miss (a storage outside the repository, a platform
or a limit without them).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gitobs.capture import trace2_spool
from gitobs.capture.ingest import ScanResult
from gitobs.capture.state import load_state
from gitobs.capture.trace2_setup import trace2_dir
from gitobs.capture.worktree_sample import look_signature
from gitobs.core import early_signals
from gitobs.core.files import stamp
from gitobs.core.repo import GitobsError, ObsPaths, worktree_git_dirs
from gitobs.fleet.notify import Notifier, all_ignored, watch_roots, work_trees
from gitobs.fleet.scan_all import Outcome, scan_one
from gitobs.upkeep.scan import scan

# GitButler's state: the TOMLs, and but.sqlite with its write-ahead log, where a commit lands first (the
# main file changes only at a checkpoint, so stamping it alone misses a write until something else changes).
GITBUTLER_FILES = ("REFRESH", "virtual_branches.toml", "operations-log.toml", "oplog.toml", "but.sqlite",
                   "but.sqlite-wal")
Stamp = list[int]  # core.files.stamp
# The paths under a git dir that git_signature stamps, relative to it: a notification for any other (objects,
# gitobs's own log and state, lock files) is no reason to look.
GIT_SIDE = re.compile(r"(?:worktrees/[^/]+/)?(?:HEAD|index|logs/HEAD)$|packed-refs$|config$|obs/spool/"
                      r"|logs/refs/(?:heads/|stash$)|refs/heads/"
                      rf"|gitbutler/(?:{'|'.join(re.escape(name) for name in GITBUTLER_FILES)})$")


def git_signature(common_dir: Path, worktrees: dict[str, Path], gitbutler_storage: str) -> list[Stamp]:
    """Stamps of everything on the git side a scan reads; equal stamps mean a scan would find nothing new
    there."""
    common = os.fspath(common_dir)
    paths = [f"{common}/obs/spool", f"{common}/obs/spool/trace2", f"{common}/packed-refs",
             f"{common}/logs/refs/stash", f"{common}/config"]
    for git_dir in worktrees.values():
        private = os.fspath(git_dir)
        paths += [f"{private}/HEAD", f"{private}/index", f"{private}/logs/HEAD"]
    for top in (f"{common}/logs/refs/heads", f"{common}/refs/heads"):
        for directory, _, files in os.walk(top):
            paths.append(directory)
            if top.endswith("logs/refs/heads"):  # reflogs are appended in place: each file's own stat
                paths += [os.path.join(directory, name) for name in files]
    storage = gitbutler_storage or f"{common}/gitbutler"
    paths += [f"{storage}/{name}" for name in GITBUTLER_FILES]
    return [stamp(path) for path in paths]


@dataclass
class RepoWatch:
    """One watched repository and what it looked like after its last scan."""

    obs: ObsPaths
    label: str
    git: list[Stamp] | None = None  # None: not scanned yet (or its last scan failed)
    worktrees: dict[str, str] = field(default_factory=dict)  # wt -> its work tree's look signature
    gitbutler_storage: str = ""  # where GitButler keeps its state, as the last scan found it
    followed: list[Path] | None = None  # the git dirs whose work trees the notifier watches
    trees: list[tuple[str, object]] = field(default_factory=list)  # work_trees() of those git dirs

    def changed(self) -> bool:
        if self.git is None:
            return True
        dirs = worktree_git_dirs(self.obs.common_dir)
        if git_signature(self.obs.common_dir, dirs, self.gitbutler_storage) != self.git:
            return True
        if self.obs.paused.exists():
            return False
        return any(look_signature(git_dir) != self.worktrees.get(wt) for wt, git_dir in dirs.items())

    def remember(self) -> None:
        """Take the stamps the last scan left (its state holds the work trees' signatures)."""
        state = load_state(self.obs.state)
        self.gitbutler_storage = state.gitbutler.storage
        dirs = worktree_git_dirs(self.obs.common_dir)
        self.git = git_signature(self.obs.common_dir, dirs, self.gitbutler_storage)
        self.worktrees = {wt: memory.signature for wt, memory in state.worktrees.items()}


@dataclass
class Tick:
    scanned: list[Outcome] = field(default_factory=list)  # repositories that changed, and what their scan did
    idle: int = 0  # repositories looked at and left alone
    error: str | None = None  # the list of repositories could not be had: the previous one was watched
    notices: list[str] = field(default_factory=list)  # about notifications: unavailable, a limit reached


class Watcher:
    """The repositories to watch come from `sources` at every tick (so `watch --all` sees new installs).
    With `notify`, `run` also looks at a repository soon after its files change."""

    def __init__(self, sources: Callable[[], list[tuple[ObsPaths, str]]],
                 scanner: Callable[[Path], ScanResult] = scan, notify: bool = False) -> None:
        self.sources = sources
        self.scanner = scanner
        self.notify = notify
        self.repos: dict[Path, RepoWatch] = {}
        self.stop = threading.Event()
        self.wake = threading.Event()  # the loop's sleep ends: a notification, or a signal (with stop)
        self.notifier = Notifier(self.wake, GIT_SIDE)
        self.trace2_seen: Stamp | None = None  # git's trace2 directory as the last drain left it

    def _drain_trace2(self) -> None:
        """Route the files git's trace2 wrote since the last tick into their repositories' spools (whose
        stamps then say which to scan): a command that changes nothing else (`git status`) is recorded too."""
        before = stamp(os.fspath(trace2_dir()))
        if before != self.trace2_seen:
            drained = trace2_spool.drain()
            # a file git was still writing finishes without touching the directory: look again next tick
            self.trace2_seen = stamp(os.fspath(trace2_dir())) if not drained.waiting else None

    def tick(self) -> Tick:
        tick = Tick()
        try:
            current = {obs.common_dir: (obs, label) for obs, label in self.sources()}
        except GitobsError as exc:  # the registry mid-edit, say: a loop that runs for days goes on
            tick.error = str(exc)
        else:
            for key in self.repos.keys() - current.keys():
                self.notifier.drop(key)
            self.repos = {key: self.repos.get(key) or RepoWatch(obs, label) for key, (obs, label) in current.items()}
        self._drain_trace2()
        return self._look_at(list(self.repos.values()), tick)

    def notified(self) -> Tick | None:
        """Look at the repositories whose notifications are due (but those where only gitignored files
        changed); None when none is due."""
        due = self.notifier.due()
        if not due:
            return None
        tick, looks = Tick(), []
        for key, paths in due.items():
            watch = self.repos.get(key)
            if watch is not None and paths is not None and all_ignored(watch.trees, paths):
                tick.idle += 1
            elif watch is not None:
                looks.append(watch)
        return self._look_at(looks, tick)

    def _look_at(self, watches: list[RepoWatch], tick: Tick) -> Tick:
        for watch in watches:
            if self.stop.is_set():
                break  # between two repositories: nothing is half done
            self._follow(watch)
            if self._changed(watch):
                tick.scanned.append(self._look(watch))
            else:
                tick.idle += 1
        tick.notices, self.notifier.notices = self.notifier.notices, []
        return tick

    def _follow(self, watch: RepoWatch) -> None:
        """Have the notifier watch the repository's work trees, again when its worktrees changed."""
        if not self.notifier.active:
            return
        try:
            dirs = worktree_git_dirs(watch.obs.common_dir)
        except OSError:  # gone: its look says so
            return
        if list(dirs.values()) != watch.followed:
            watch.followed = list(dirs.values())
            watch.trees = work_trees(dirs)
            roots = watch_roots(watch.obs.common_dir, watch.trees)
            self.notifier.follow(watch.obs.common_dir, roots, watch.obs.common_dir, watch.label)

    def _changed(self, watch: RepoWatch) -> bool:
        try:
            return watch.changed()
        except OSError:
            return True  # something moved under us: let the scan say what

    def _look(self, watch: RepoWatch) -> Outcome:
        outcome = scan_one(watch.obs, watch.label, self.scanner)
        if outcome.error is None and not (outcome.result and outcome.result.skipped):
            try:
                watch.remember()
            except OSError:
                watch.git = None
        else:
            watch.git = None  # look again next tick
            if outcome.error is not None:  # removed, say, and made anew: its directories are new, follow again
                watch.followed = None
        return outcome

    def listen(self) -> bool:
        """Start the notifications (with `notify`, once); whether they are on."""
        if self.notify and not self.notifier.active and not self.notifier.tried:
            self.notifier.start()
        return self.notifier.active

    def run(self, interval_s: float, report: Callable[[Tick], None], ticks: int | None = None) -> None:
        """Tick, then sleep until the next tick is due, looking at notified repositories meanwhile, until a
        signal stops it, `ticks` times or forever."""
        self.listen()
        try:
            self._loop(interval_s, report, ticks)
        finally:
            self.notifier.close()

    def _loop(self, interval_s: float, report: Callable[[Tick], None], ticks: int | None) -> None:
        done, next_tick = 0, time.monotonic()
        while not self.stop.is_set():
            if time.monotonic() >= next_tick:
                started = time.monotonic()
                report(self.tick())
                done += 1
                if ticks is not None and done >= ticks:
                    break
                next_tick = started + interval_s
            else:
                looked = self.notified()
                if looked is not None:
                    report(looked)
            self.wake.wait(max(0.0, min(next_tick, self.notifier.next_due()) - time.monotonic()))
            self.wake.clear()  # before the next look at what is due: a change noted from now on wakes it again


@contextmanager
def stopped_by_signals(*events: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `events` (the loop's stop, and what its sleep waits on): the tick in progress
    finishes its repository, then the loop ends. One that came while the command line was loading
    (early_signals) sets them at once: no tick starts."""
    def handler(signum, frame) -> None:
        for event in events:
            event.set()

    previous = {sig: signal.signal(sig, handler) for sig in early_signals.HELD}
    if early_signals.came():  # asked after the handler is in: a signal now is caught either way
        handler(0, None)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
