"""A history's commits with per-file line counts, from `git log --numstat -z`, streamed.

git walks the history newest first (children before parents, so that a rename is seen before the older
commits that name the file by its old path) while Python parses its output as it comes. The
options pin down what a user's configuration could change: rename detection on (-M, as `git log`'s
default), merges without a diff (0 changed lines, code-maat's convention) unless their first-parent diff
is asked for, the root against the empty tree, myers, git's rename limit, submodules counted, no textconv, no
external diff.
Only shas, times, author emails, paths and counts are read; messages never pass through here.
"""

from __future__ import annotations

import functools
import itertools
import os
import queue
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitobs.core.config import main_work_tree
from gitobs.core.names import decoded
from gitobs.core.repo import GitobsError
from gitobs.log.schema import FileChange

# diff.renameLimit: git's default (a lower one turns renames into a deletion and an addition); submodules'
# commits are counted, whatever diff.ignoreSubmodules says
_PINNED_CONFIG = ("log.showRoot=true", "log.showSignature=false", "diff.orderFile=/dev/null", "diff.relative=false",
                  "core.quotePath=false", "log.follow=false", "diff.renameLimit=1000", "diff.ignoreSubmodules=none")
# %ct is empty for a commit dated before 1970: taken as 1970, not as a line that is no commit
_COMMIT = re.compile(rb"^([0-9a-f]{40,64}) (\d*)((?: [0-9a-f]{40,64})*)$")
READ_SIZE = 1 << 16


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (a container's, say)
    except AttributeError:  # no affinity on macOS
        return os.cpu_count() or 2


# git processes diffing at once (each diffs on one core): every core busy, on two both while Python parses (on a
# thread's reads); beyond eight Python would be the slower (git/git: 37 s of git's CPU for 4.5 s of Python's)
WORKERS = min(max(2, _cpus()), 8)
# Commits per git process: each starts with cold caches (delta bases inflated again), which on git/git costs
# 18% more CPU in batches of 1000 and 3% in batches of 5000. The last ones are smaller, down to MIN_BATCH, so
# that every core diffs to the end.
BATCH_COMMITS = 5000
MIN_BATCH = 250
AHEAD = WORKERS + 2  # batches started and not parsed yet, at most: git waits only when Python is the slower


@dataclass
class LoggedCommit:
    sha: str
    commit_time: int
    parents: list[str]
    email: str = ""  # the author's, as git has it
    files: list[FileChange] = field(default_factory=list)  # every file, by the path it has after the commit
    renames: list[tuple[str, str]] = field(default_factory=list)  # (old, new) paths git found renamed
    added: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class Walk:
    """Which commits: reachable from `tips`, not from `hide`, committed at or after `since` (seconds)."""

    tips: tuple[str, ...]
    hide: tuple[str, ...] = ()
    since: int | None = None

    def revisions(self) -> bytes:
        """For `--stdin`: no command-line length limit, however many tips."""
        lines = list(self.tips) + [f"^{sha}" for sha in self.hide]
        return "".join(line + "\n" for line in lines).encode()

    def limits(self) -> list[str]:
        """--max-age stops the walk at the first commit older than `since`, so a newer one behind it (after
        a rebase, or a clock that was wrong) was never seen; --since-as-filter (git 2.37) walks on. Its date
        as text: git reads a number below 10^8 as something else than seconds."""
        if self.since is None or self.since <= 0:
            return []
        if not _filters_by_date():
            return [f"--max-age={self.since}"]
        return [time.strftime("--since-as-filter=%Y-%m-%d %H:%M:%S +0000", time.gmtime(self.since))]


@functools.cache
def _filters_by_date() -> bool:
    """Whether this git has --since-as-filter (2.37 and later)."""
    version = re.search(r"(\d+)\.(\d+)", _run(["git", "--version"], b""))
    return version is not None and (int(version[1]), int(version[2])) >= (2, 37)


def _git(common_dir: Path, args: list[str]) -> list[str]:
    pinned = [item for pair in (("-c", setting) for setting in _PINNED_CONFIG) for item in pair]
    return ["git", f"--git-dir={common_dir}", *pinned, *args]


def _work_tree(common_dir: Path) -> list[str]:
    """Run in the main work tree, for its .gitattributes (git reads them only when started inside it):
    `git log` there counts a file they call binary (or -diff) as 0 lines, and so must import's. Nothing
    for a bare repository."""
    work_tree = main_work_tree(common_dir)
    return ["-C", str(work_tree), f"--work-tree={work_tree}"] if work_tree is not None and work_tree.is_dir() else []


def _environment() -> dict[str, str]:
    """git's own variables would point it at another repository or change its output. GIT_NO_LAZY_FETCH
    (git 2.44+): a partial clone's missing objects are never fetched (importer.py refuses one anyway).
    GIT_TRACE2_EVENT=0: with `gitobs trace2 enable`, the import's own git processes are not the user's.
    GIT_FLUSH=0: git log writes a pipe a buffer at a time, not once per commit (85,356 writes on git/git,
    each waking a reader thread and the parser: 1.2 s of the reader threads' CPU, more of the parser's)."""
    return {**{key: value for key, value in os.environ.items()
               if not key.startswith("GIT_") or key in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")},
            "GIT_NO_LAZY_FETCH": "1", "GIT_TRACE2_EVENT": "0", "GIT_FLUSH": "0"}


def commits(common_dir: Path, walk: Walk, merge_churn: bool = False) -> Iterator[LoggedCommit]:
    """The commits of `walk`, children before parents, each with every file and exact totals. Merges have
    no files unless `merge_churn` (then their diff against the first parent, as `git log -m --first-parent`)."""
    yield from History(common_dir, walk, merge_churn).commits()  # git starts at the first commit asked for


class History:
    """The commits of a walk, git started as soon as this is made, so that the caller's own work before it
    reads them (an import's scan) goes on while git diffs.

    `git rev-list --topo-order` lists them; consecutive batches of that list go to `git log --no-walk`,
    each read on its own thread as it writes and parsed in order. WORKERS of them diff at once, and a batch
    starts as soon as one of those ends (not when Python has parsed it): git diffs on every core while
    Python parses, and the smaller last batches keep them all busy until the end. At most AHEAD batches are
    held unparsed, so that memory stays bounded when Python is the slower."""

    def __init__(self, common_dir: Path, walk: Walk, merge_churn: bool = False) -> None:
        self.walk = walk
        self.listing = _start(_git(common_dir, ["rev-list", "--stdin", "--topo-order", *walk.limits()]),
                              walk.revisions())
        self.args = _git(common_dir, [*_work_tree(common_dir), "log", "--no-walk=unsorted", "--stdin", "--numstat", "-z", "-M",
                                      f"--diff-merges={'first-parent' if merge_churn else 'off'}",
                                      "--diff-algorithm=myers", "--no-textconv", "--no-ext-diff", "--no-color",
                                      "--format=tformat:%H %ct %P%x00%ae"])
        self.batches = _batches(self.listing.stdout, WORKERS)
        self.started: deque[_Pump] = deque()  # in the walk's order, not parsed yet
        self.listed = False  # every batch started
        self.closed = False
        self.failure: BaseException | None = None  # what starting a batch on a reader's thread raised
        self.lock = threading.Lock()  # the main thread and the readers (as their git ends) start batches
        try:
            self._launch()
        except BaseException:
            self.close(complete=False)
            raise

    def _launch(self) -> None:
        """The next batches, while fewer than WORKERS git processes diff and fewer than AHEAD wait."""
        with self.lock:
            started = self.started
            while (not self.listed and not self.closed and len(started) < AHEAD
                   and sum(1 for pump in started if not pump.ended) < WORKERS):
                batch = next(self.batches, None)
                if batch is None:
                    self.listed = True
                else:
                    started.append(_Pump(_start(self.args, batch), self._ended))

    def _ended(self) -> None:
        """On a reader's thread, its git done: the next batch starts now, whatever Python is doing."""
        try:
            self._launch()
        except BaseException as exc:  # raised where the commits are read
            self.failure = exc

    def commits(self) -> Iterator[LoggedCommit]:
        complete = False
        try:
            while self.started:
                yield from _parse(self.started[0].chunks())
                with self.lock:
                    pump = self.started.popleft()
                pump.finish(complete=True)
                if self.failure is not None:
                    raise self.failure
                self._launch()
            complete = True
        finally:
            self.close(complete)

    def close(self, complete: bool = False) -> None:
        """Stop what still runs (an interrupted walk, or one never read); `complete`: check git succeeded."""
        with self.lock:
            if self.closed:
                return
            self.closed = True  # no batch starts from now on
        while self.started:
            self.started.popleft().finish(complete=False)
        _finish(self.listing, complete)


def _batches(lines: Iterable[bytes], workers: int) -> Iterator[bytes]:
    """BATCH_COMMITS lines at a time; once the listing's end is in sight (fewer than `workers` full batches
    left), a share of what is left for each worker, never less than MIN_BATCH."""
    lines, waiting, ended = iter(lines), deque(), False
    while True:
        if not ended:
            read = list(itertools.islice(lines, workers * BATCH_COMMITS - len(waiting)))
            waiting.extend(read)
            ended = len(waiting) < workers * BATCH_COMMITS
        if not waiting:
            return
        size = BATCH_COMMITS if not ended else max(MIN_BATCH, -(-len(waiting) // workers))
        yield b"".join(waiting.popleft() for _ in range(min(size, BATCH_COMMITS, len(waiting))))


class _Pump:
    """git's output read on threads as fast as git writes it: git never waits on a full pipe while Python
    parses or appends a chunk to the log (reading releases the GIL; on two cores both go on at once), nor
    on its warnings (one per commit beyond diff.renameLimit)."""

    def __init__(self, process: subprocess.Popen, on_end: Callable[[], None]) -> None:
        self.process = process
        self.on_end = on_end  # called on the reading thread once git's output is all read
        self.queue: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.errors = b""
        self.ended = False  # git's output is all read: git is done diffing
        self.threads = [threading.Thread(target=target, name="gitobs-git-log", daemon=True)
                        for target in (self._read, self._read_errors)]
        for thread in self.threads:
            thread.start()

    def _read(self) -> None:
        try:
            while data := self.process.stdout.read1(READ_SIZE):
                self.queue.put(data)
        except (OSError, ValueError):
            pass  # the pipe closed under us: the walk was stopped
        finally:
            self.ended = True
            self.queue.put(b"")
            self.on_end()

    def _read_errors(self) -> None:
        try:
            while data := self.process.stderr.read1(READ_SIZE):
                self.errors = (self.errors + data)[-READ_SIZE:]  # the last lines say why it failed
        except (OSError, ValueError):
            pass

    def chunks(self) -> Iterator[bytes]:
        while data := self.queue.get():
            yield data

    def finish(self, complete: bool) -> None:
        """Check git succeeded; when the reader stopped early (an interrupt), stop git instead."""
        if not complete:
            self.process.kill()
        status = self.process.wait()
        for thread in self.threads:
            thread.join()
        self.process.stdout.close()
        self.process.stderr.close()
        if complete and status != 0:
            lines = self.errors.decode("utf-8", "replace").strip().splitlines()
            raise GitobsError(f"git log failed: {lines[-1] if lines else status}")


def config_values(common_dir: Path, key: str) -> list[str]:
    """Every value git's configuration has for `key` as this repository sees it (includeIf applies)."""
    process = _spawn(_git(common_dir, ["config", "--get-all", key]))
    out, _ = process.communicate(b"")
    return [line for line in out.decode("utf-8", "replace").splitlines() if line.strip()]


def promisor_remotes(common_dir: Path) -> list[str]:
    """The remotes a partial clone fetches missing objects from (remote.<name>.promisor, or the older
    extensions.partialClone); none in a whole clone."""
    process = _spawn(_git(common_dir, ["config", "--get-regexp", r"^(remote\..*\.promisor|extensions\.partialclone)$"]))
    out, _ = process.communicate(b"")
    found = []
    for line in out.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(" ")
        if key.startswith("remote.") and value.strip().lower() in ("true", "yes", "on", "1"):
            found.append(key[len("remote."):-len(".promisor")])
        elif key == "extensions.partialclone" and value.strip():
            found.append(value.strip())
    return found


class Search:
    """The commits of a walk that `git rev-list` finds with each set of options (e.g. --grep), found while
    the walk goes on: git reads every message in a fraction of the time pygit2 would."""

    def __init__(self, common_dir: Path, walk: Walk, searches: list[list[str]]) -> None:
        self.processes = [_start(_git(common_dir, ["rev-list", "--stdin", "--fixed-strings", *options,
                                                   *walk.limits()]), walk.revisions()) for options in searches]
        self.found: set[str] | None = None

    def result(self) -> set[str]:
        if self.found is None:
            self.found = set()
            for process in self.processes:
                self.found.update(process.stdout.read().decode("ascii", "replace").split())
                _finish(process, complete=True)
            self.processes = []
        return self.found

    def close(self) -> None:
        for process in self.processes:
            _finish(process, complete=False)
        self.processes = []


def count(common_dir: Path, walk: Walk) -> int:
    """How many commits `walk` has (for a progress bar): a walk without diffs, quick."""
    done = _run(_git(common_dir, ["rev-list", "--stdin", "--count", *walk.limits()]), walk.revisions())
    return int(done.strip() or 0)


def sources(common_dir: Path, walk: Walk) -> dict[str, str]:
    """For each commit of `walk`, the tip (one of walk.tips) git reached it from."""
    found = {}
    done = _run(_git(common_dir, ["log", "--stdin", "--source", "--format=%H %S", *walk.limits()]), walk.revisions())
    for line in done.splitlines():
        sha, _, tip = line.partition(" ")
        found[sha] = tip
    return found


def _spawn(args: list[str]) -> subprocess.Popen:
    try:
        return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_environment(), cwd="/")  # --git-dir names the repository
    except FileNotFoundError as exc:
        raise GitobsError("git is not installed or not on PATH") from exc


def _start(args: list[str], stdin: bytes) -> subprocess.Popen:
    process = _spawn(args)
    try:
        process.stdin.write(stdin)
        process.stdin.close()
    except BrokenPipeError:
        pass  # git stopped early; _finish says why
    return process


def _finish(process: subprocess.Popen, complete: bool) -> None:
    """Check git succeeded; when the reader stopped early (an interrupt), stop git instead."""
    if not complete:
        process.kill()
    process.stdout.close()
    error = process.stderr.read().decode("utf-8", "replace").strip()
    process.stderr.close()
    status = process.wait()
    if complete and status != 0:
        raise GitobsError(f"git failed: {error.splitlines()[-1] if error else status}")


def _run(args: list[str], stdin: bytes) -> str:
    process = _start(args, stdin)
    out = process.stdout.read().decode("utf-8", "replace")
    _finish(process, complete=True)
    return out


def _tokens(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The NUL-terminated fields of -z output, across read boundaries."""
    rest = b""
    for chunk in chunks:
        fields = (rest + chunk).split(b"\0")
        rest = fields.pop()
        yield from fields
    if rest:
        yield rest


def _count(text: bytes) -> int:
    return int(text) if text != b"-" else 0  # "-": binary, as pygit2 counts it


def _parse(chunks: Iterable[bytes]) -> Iterator[LoggedCommit]:
    """-z output: per commit `sha time parents` NUL `email` NUL, then (the first after a newline) one
    `added TAB deleted TAB path` NUL per file, or for a rename `added TAB deleted TAB` NUL old NUL new NUL.
    Fields are taken by position, so no path is ever read as a header; a header never holds a tab."""
    tokens = _tokens(chunks)
    current: LoggedCommit | None = None
    for token in tokens:
        if b"\t" not in token:
            match = _COMMIT.match(token.strip())
            if match is None:
                continue
            if current is not None:
                yield current
            sha, stamp, parents = match.groups()
            email = next(tokens, b"")
            current = LoggedCommit(sha.decode(), int(stamp or 0), parents.decode().split(),
                                   email.decode("utf-8", "replace").strip().lower())
            continue
        if current is None:
            continue
        added, deleted, path = token.lstrip(b"\n").split(b"\t", 2)
        lines_added, lines_deleted = _count(added), _count(deleted)
        if not path:  # a rename: the old path and the new follow
            old, path = decoded(next(tokens, b"")), next(tokens, b"")
            current.renames.append((old, decoded(path)))
        current.added += lines_added
        current.deleted += lines_deleted
        current.files.append(FileChange(decoded(path), lines_added, lines_deleted))  # as the scanner names it
    if current is not None:
        yield current
