"""A history's commits with per-file line counts, from `git log --numstat -z`.

git computes the counts (about three times faster than pygit2's per-file patches) in processes of its
own, batch after batch of the walk's commits, while Python parses the batch before. The options pin down
what a user's configuration could change, so the counts are the scanner's (gitobs/capture/enrich.py): no rename
detection, merges against their first parent, the root against the empty tree, myers, no textconv.
Only shas, times, paths and counts are read; messages never pass through here.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitobs.core.names import decoded
from gitobs.core.repo import GitobsError
from gitobs.log.schema import FileChange

_PINNED_CONFIG = ("log.showRoot=true", "log.showSignature=false", "diff.orderFile=/dev/null", "diff.relative=false",
                  "core.quotePath=false")
# %ct is empty for a commit dated before 1970: taken as 1970, not as a line that is no commit
_COMMIT = re.compile(rb"^([0-9a-f]{40,64}) (\d*)((?: [0-9a-f]{40,64})*)$")
WORKERS = 2  # git processes counting at once: on two cores, git keeps both busy while Python reads
BATCH_COMMITS = 1000  # commits per git process
FIRST_BATCH_COMMITS = 200


@dataclass
class LoggedCommit:
    sha: str
    commit_time: int
    parents: list[str]
    files: list[FileChange] = field(default_factory=list)  # the first `max_files`
    files_total: int = 0
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
        return [] if self.since is None else [f"--max-age={self.since}"]


def _git(common_dir: Path, args: list[str]) -> list[str]:
    pinned = [item for pair in (("-c", setting) for setting in _PINNED_CONFIG) for item in pair]
    return ["git", f"--git-dir={common_dir}", *pinned, *args]


def _environment() -> dict[str, str]:
    """git's own variables would point it at another repository or change its output."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith("GIT_") or key in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}


def commits(common_dir: Path, walk: Walk, max_files: int) -> Iterator[LoggedCommit]:
    """The commits of `walk`, parents before children, each with its files (the first `max_files` of
    them) and exact totals."""
    listing = _start(_git(common_dir, ["rev-list", "--stdin", "--topo-order", "--reverse", *walk.limits()]),
                     walk.revisions())
    counts = _Counts(common_dir)
    complete = False
    try:
        for output in counts.outputs(_batches(listing.stdout)):
            yield from _parse((output,), max_files)
        complete = True
    finally:
        counts.stop()
        _finish(listing, complete)


def _batches(lines: Iterable[bytes]) -> Iterator[bytes]:
    """A small first batch (Python starts reading sooner), then full ones."""
    lines = iter(lines)
    size = FIRST_BATCH_COMMITS
    while batch := list(itertools.islice(lines, size)):
        yield b"".join(batch)
        size = BATCH_COMMITS


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


class _Counts:
    """`git log --numstat` over consecutive batches of commits, WORKERS processes at a time, their outputs
    handed on in order: git counts the next batches on the other core while Python reads one. At most
    WORKERS + 1 batches' output is held."""

    def __init__(self, common_dir: Path) -> None:
        self.args = _git(common_dir, ["log", "--no-walk=unsorted", "--stdin", "--numstat", "-z", "--no-renames",
                                      "--diff-merges=first-parent", "--diff-algorithm=myers", "--no-textconv",
                                      "--no-ext-diff", "--no-color", "--format=tformat:%H %ct %P"])
        self.pool = ThreadPoolExecutor(max_workers=WORKERS)
        self.running: set[subprocess.Popen] = set()
        self.guard = threading.Lock()
        self.stopped = False

    def outputs(self, batches: Iterator[bytes]) -> Iterator[bytes]:
        ahead = deque(self.pool.submit(self._count, batch) for batch in itertools.islice(batches, WORKERS))
        while ahead:
            output = ahead.popleft().result()
            following = next(batches, None)
            if following is not None:
                ahead.append(self.pool.submit(self._count, following))
            yield output

    def _count(self, batch: bytes) -> bytes:
        process = _spawn(self.args)
        with self.guard:
            if self.stopped:
                process.kill()
            self.running.add(process)
        out, err = process.communicate(batch)
        with self.guard:
            self.running.discard(process)
        if process.returncode != 0 and not self.stopped:
            message = err.decode("utf-8", "replace").strip().splitlines()
            raise GitobsError(f"git log failed: {message[-1] if message else process.returncode}")
        return out

    def stop(self) -> None:
        """After the last batch, or on an interrupt: no git left running."""
        with self.guard:
            self.stopped = True
            for process in self.running:
                process.kill()
        self.pool.shutdown(wait=True, cancel_futures=True)


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
                                env=_environment())
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


def _parse(chunks: Iterable[bytes], max_files: int) -> Iterator[LoggedCommit]:
    """-z output: a commit's header line, NUL, then (after a newline) one `added TAB deleted TAB path` per
    file, each NUL-terminated. A header never holds a tab and a file entry always does."""
    current: LoggedCommit | None = None
    rest = b""
    for chunk in chunks:
        tokens = (rest + chunk).split(b"\0")
        rest = tokens.pop()
        for token in tokens:
            if b"\t" not in token:
                match = _COMMIT.match(token.strip())
                if match:
                    if current is not None:
                        yield current
                    sha, stamp, parents = match.groups()
                    current = LoggedCommit(sha.decode(), int(stamp or 0), parents.decode().split())
                    files = current.files
                continue
            if current is None:
                continue
            added, deleted, path = token.split(b"\t", 2)
            if added[:1] == b"\n":  # the commit's first file comes after a newline
                added = added[1:]
            lines_added = int(added) if added != b"-" else 0  # "-": binary, as pygit2 counts it
            lines_deleted = int(deleted) if deleted != b"-" else 0
            current.files_total += 1
            current.added += lines_added
            current.deleted += lines_deleted
            if len(files) < max_files:
                files.append(FileChange(decoded(path), lines_added, lines_deleted))  # as the scanner names it
    if current is not None:
        yield current
