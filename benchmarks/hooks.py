"""What the gitobs hooks cost a git command: `python benchmarks/hooks.py [--runs N]`.

Two scratch repositories are built in a temporary directory, identical except that one has gitobs
installed. In the same process the script times, with `time.perf_counter_ns` around `subprocess.run`:

- `git commit --allow-empty -q -m x`;
- `git checkout -q <the other branch>` (the two branches differ in one file, so every run switches).

Runs alternate between the repositories (without, with, without, with, ...) after a few warm-up runs,
so machine noise falls on both alike. Git runs in a hermetic environment: a scratch global config,
GIT_CONFIG_NOSYSTEM=1 and none of the caller's GIT_* variables. Two variants are measured, each against
its own interleaved baseline:

- "recorder only": GITOBS_NO_BACKGROUND=1, so the shims just write their spool records;
- "default": post-commit/post-checkout may also start a detached background scan, at most one at a
  time (the `<git dir>/obs/scan.pending` marker throttles it), so most runs do not start one.

How to read it: "diff" is median(with) - median(without), i.e. the hooks' share of the command's wall
time; PASS/FAIL compares it with the design targets (commit +10 ms, checkout +5 ms). The p90 columns
show the tails. "The recorder itself" times one shim run (`sh .git/hooks/post-index-change 0 0`)
against an empty `sh -c :`, which isolates the shell work from the cost of starting a process.
Runs that fail are timed all the same and listed at the end (a hook's exit status can fail
`git checkout`). The exit status is always 0: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

from gitobs.capture.install import install
from gitobs.core.lock import exclusive
from gitobs.core.repo import ObsPaths, locate

TARGET_MS = {"commit": 10.0, "checkout": 5.0}
WARMUP_RUNS = 5
BRANCHES = ("main", "other")
FILES_IN_REPO = 50
FAILED_RUNS: Counter[str] = Counter()  # "what, where, exit status" -> how many timed runs failed that way


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Wall time of one command in nanoseconds; failures are counted in FAILED_RUNS, not fatal."""
    start = time.perf_counter_ns()
    done = subprocess.run(argv, check=False, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter_ns() - start
    if done.returncode != 0:
        variant = "GITOBS_NO_BACKGROUND=1" if "GITOBS_NO_BACKGROUND" in env else "default env"
        stderr = done.stderr.decode(errors="replace").strip()[-120:] or "no stderr"
        FAILED_RUNS[f"{' '.join(argv[:2])} in {cwd.name!r} ({variant}): exit {done.returncode}, {stderr}"] += 1
    return elapsed


class Scratch:
    """A scratch repository and the branch it has checked out."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.branch = BRANCHES[0]

    def run(self, operation: str, env: dict[str, str]) -> int:
        if operation == "commit":
            return timed(["git", "commit", "--allow-empty", "-q", "-m", "x"], self.path, env)
        self.branch = BRANCHES[1] if self.branch == BRANCHES[0] else BRANCHES[0]
        return timed(["git", "checkout", "-q", self.branch], self.path, env)


def hermetic_env(scratch_dir: Path) -> dict[str, str]:
    config = scratch_dir / "gitconfig"
    config.write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n"
                      "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("GIT_") and key != "GITOBS_NO_BACKGROUND"}
    env.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1")
    return env


def build_repo(path: Path, env: dict[str, str]) -> Scratch:
    """FILES_IN_REPO files on `main`; `other` changes one of them."""
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)

    path.mkdir()
    git("init", "-q", "-b", BRANCHES[0])
    for number in range(FILES_IN_REPO):
        (path / f"file{number:02}.txt").write_text(f"line {number}\n" * 20)
    git("add", "-A")
    git("commit", "-q", "-m", "initial")
    git("checkout", "-q", "-b", BRANCHES[1])
    (path / "file00.txt").write_text("changed on the other branch\n")
    git("commit", "-q", "-am", "other")
    git("checkout", "-q", BRANCHES[0])
    return Scratch(path)


def interleave(first: Callable[[], int], second: Callable[[], int], runs: int,
               after_each: Callable[[], None] = lambda: None) -> tuple[list[int], list[int]]:
    """first, second, first, second, ...: the warm-up runs are not kept."""
    times_first, times_second = [], []
    for run in range(WARMUP_RUNS + runs):
        elapsed_first, elapsed_second = first(), second()
        after_each()  # outside both timed regions
        if run >= WARMUP_RUNS:
            times_first.append(elapsed_first)
            times_second.append(elapsed_second)
    return times_first, times_second


def p90(samples: list[int]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


HEADER = (f"{'operation':<13}{'variant':<15}{'without':>9}{'with':>9}{'diff':>9}{'ratio':>8}"
          f"{'p90 w/o':>9}{'p90 with':>9}{'target':>8}  result")


def row(operation: str, variant: str, times_without: list[int], times_with: list[int]) -> str:
    median_without, median_with = statistics.median(times_without) / 1e6, statistics.median(times_with) / 1e6
    diff, target = median_with - median_without, TARGET_MS[operation]
    return (f"{'git ' + operation:<13}{variant:<15}{median_without:>9.2f}{median_with:>9.2f}{diff:>+9.2f}"
            f"{median_with / median_without:>7.2f}x{p90(times_without) / 1e6:>9.2f}{p90(times_with) / 1e6:>9.2f}"
            f"{'+' + format(target, 'g'):>8}  {'PASS' if diff <= target else 'FAIL'}")


def spool_summary(spool: Path) -> str:
    names = os.listdir(spool)
    by_hook = Counter(name.split(".")[1] for name in names if "." in name)
    return f"{len(names)} file(s)" + "".join(f"{', ' if i else ': '}{hook} {count}"
                                           for i, (hook, count) in enumerate(by_hook.most_common()))


def wait_for_background_scans(obs: ObsPaths) -> None:
    """Let a queued or running background scan finish before counting or deleting anything."""
    deadline = time.monotonic() + 30
    while obs.scan_pending.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with exclusive(obs.lock, 120):
        pass


def compare_git(without: Scratch, with_: Scratch, variant: str, env: dict[str, str], runs: int,
                after_each: Callable[[], None] = lambda: None) -> None:
    for operation in ("commit", "checkout"):
        times = interleave(partial(without.run, operation, env), partial(with_.run, operation, env), runs, after_each)
        print(row(operation, variant, *times))


def compare_shim(repo: Path, env: dict[str, str], runs: int) -> None:
    """One shim run against an empty shell: the recorder's own work, without git around it."""
    hook = str(repo / ".git" / "hooks" / "post-index-change")
    times_empty, times_shim = interleave(lambda: timed(["sh", "-c", ":"], repo, env),
                                         lambda: timed(["sh", hook, "0", "0"], repo, env), runs)
    empty_us, shim_us = statistics.median(times_empty) / 1e3, statistics.median(times_shim) / 1e3
    print(f"the recorder itself: sh post-index-change 0 0 {shim_us:.0f} us, sh -c : {empty_us:.0f} us,"
          f" difference {shim_us - empty_us:+.0f} us"
          f" (p90 {p90(times_shim) / 1e3:.0f} vs {p90(times_empty) / 1e3:.0f} us)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="timed runs per repository, operation and variant")
    runs = max(2, parser.parse_args().runs)

    with tempfile.TemporaryDirectory(prefix="gitobs-bench-", ignore_cleanup_errors=True) as tmp:
        env = hermetic_env(Path(tmp))
        os.environ.clear()
        os.environ.update(env)  # gitobs's own git calls (locate) run hermetic too
        without, with_ = build_repo(Path(tmp, "without"), env), build_repo(Path(tmp, "with"), env)
        repo = locate(with_.path)
        install(repo)
        version = subprocess.run(["git", "--version"], check=False, capture_output=True, text=True).stdout.strip()
        print(f"{version}; {runs} timed runs (after {WARMUP_RUNS} warm-up) per repository, operation and variant;"
              f" times in ms\n\n{HEADER}")

        compare_git(without, with_, "recorder only", dict(env, GITOBS_NO_BACKGROUND="1"), runs)
        spool_after_recorder = spool_summary(repo.obs.spool)

        queued_scans: set[tuple[int, int]] = set()  # scan.pending markers seen, by inode and mtime

        def note_queued_scan() -> None:
            try:
                marker = repo.obs.scan_pending.stat()
                queued_scans.add((marker.st_ino, marker.st_mtime_ns))
            except FileNotFoundError:
                pass

        compare_git(without, with_, "default", env, runs, note_queued_scan)
        wait_for_background_scans(repo.obs)
        spool_after_default = spool_summary(repo.obs.spool)
        print()
        compare_shim(with_.path, env, runs)
        print(f"\nspool of the WITH repository after the recorder-only runs: {spool_after_recorder}")
        print(f"background scans queued during the default runs: {len(queued_scans)} (at least; seen between runs)")
        print(f"spool after the default runs, once their scans ingested it: {spool_after_default}")
        print(f"\nfailed runs, warm-up included (timed all the same): {sum(FAILED_RUNS.values()) or 'none'}")
        for failure, count in FAILED_RUNS.most_common():
            print(f"  {count:>4} x {failure}")


if __name__ == "__main__":
    main()
