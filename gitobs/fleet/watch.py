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
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gitobs.capture.ingest import ScanResult
from gitobs.capture.state import load_state
from gitobs.capture.worktree_sample import look_signature
from gitobs.core import early_signals
from gitobs.core.files import stamp
from gitobs.core.repo import GitobsError, ObsPaths, worktree_git_dirs
from gitobs.fleet.scan_all import Outcome, scan_one
from gitobs.upkeep.scan import scan

GITBUTLER_FILES = ("REFRESH", "virtual_branches.toml", "operations-log.toml", "oplog.toml")
Stamp = list[int]  # core.files.stamp


def git_signature(common_dir: Path, worktrees: dict[str, Path], gitbutler_storage: str) -> list[Stamp]:
    """Stamps of everything on the git side a scan reads; equal stamps mean a scan would find nothing new
    there."""
    common = os.fspath(common_dir)
    paths = [f"{common}/obs/spool", f"{common}/packed-refs", f"{common}/logs/refs/stash", f"{common}/config"]
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


class Watcher:
    """The repositories to watch come from `sources` at every tick (so `watch --all` sees new installs)."""

    def __init__(self, sources: Callable[[], list[tuple[ObsPaths, str]]],
                 scanner: Callable[[Path], ScanResult] = scan) -> None:
        self.sources = sources
        self.scanner = scanner
        self.repos: dict[Path, RepoWatch] = {}
        self.stop = threading.Event()

    def tick(self) -> Tick:
        tick = Tick()
        try:
            current = {obs.common_dir: (obs, label) for obs, label in self.sources()}
        except GitobsError as exc:  # the registry mid-edit, say: a loop that runs for days goes on
            tick.error = str(exc)
        else:
            self.repos = {key: self.repos.get(key) or RepoWatch(obs, label) for key, (obs, label) in current.items()}
        for watch in self.repos.values():
            if self.stop.is_set():
                break  # between two repositories: nothing is half done
            if self._changed(watch):
                tick.scanned.append(self._look(watch))
            else:
                tick.idle += 1
        return tick

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
        return outcome

    def run(self, interval_s: float, report: Callable[[Tick], None], ticks: int | None = None) -> None:
        """Tick, then sleep until the next tick is due (or a signal stops it), `ticks` times or forever."""
        done = 0
        while not self.stop.is_set():
            started = time.monotonic()
            report(self.tick())
            done += 1
            if ticks is not None and done >= ticks:
                break
            self.stop.wait(max(0.0, interval_s - (time.monotonic() - started)))


@contextmanager
def stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop`: the tick in progress finishes its repository, then the loop ends. One
    that came while the command line was loading (early_signals) sets it at once: no tick starts."""
    def handler(signum, frame) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in early_signals.HELD}
    if early_signals.came():  # asked after the handler is in: a signal now is caught either way
        stop.set()
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
