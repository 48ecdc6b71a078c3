"""What the gitobs hooks cost a git command: `python benchmarks/hooks.py [--runs N] [--heavy-runs N]`.

Two scratch repositories are built in a temporary directory, identical except that one has gitobs
installed (the heavy work below uses one repository per hook set, run by turns with its hooks and with
none: `git -c core.hooksPath=<an empty directory>`). In the same process the script times, with `time.perf_counter_ns` around `subprocess.run`:

- `git commit --allow-empty -q -m x`;
- `git checkout -q <the other branch>` (the two branches differ in one file, so every run switches);
- `git status` (an editor runs it in the background by the thousand: no gitobs hook may run).

Then the work that grows with refs and commits, by turns with and without gitobs, once with the default
(lean) hooks and once with every hook (`capture.all_hooks`, what gitobs installed before the lean set):

- a rebase of 300 commits onto a branch that moved (the branch is put back between runs, untimed);
- a fetch of 4000 new branches (the remote-tracking refs are deleted between runs, untimed);
- `git update-ref --stdin` creating 8000 refs (deleted between runs, untimed).

Background scans are allowed there; a scan one of them queued is waited for (untimed) before the next
pair, so that it weighs on the run that queued it, if it overlaps it, and never on a later one.

Each prints its median ratio with/without (wall time, and the CPU time of git and the hooks it waited for,
which other work on the machine disturbs less), and how many hook runs git's own trace2 counted in one
run of it (the target: at most three gitobs hooks per git command, and none for `git status`).

A third repository with every hook installed (`capture.all_hooks`, as gitobs did before the lean set)
is timed against the same baseline, recorder only ("all hooks").

`--trace2 also|only|skip`: git's trace2 as gitobs enables it (`gitobs trace2 enable`: a directory target,
one file per git process, brief, nesting 1), by turns on and off in the WITH repository: the cost per git
process of `git status` and `git rev-parse HEAD` (target +0.5 ms), then how long a scan takes to drain N
process files (the routing alone, and the whole scan that turns them into events).

Runs alternate between the repositories (without, with, without, with, ...) after a few warm-up runs,
so machine noise falls on both alike. Git runs in a hermetic environment: a scratch global config,
GIT_CONFIG_NOSYSTEM=1 and none of the caller's GIT_* variables. Two variants are measured, each against
its own interleaved baseline:

- "recorder only": GITOBS_NO_BACKGROUND=1, so the shims just write their spool records;
- "same repo": the same, against the WITH repository itself run with no hook (`-c core.hooksPath=<an
  empty directory>`), which rules out two repositories drifting apart;
- "default": post-commit/post-checkout may also start a detached background scan, at most one at a
  time (the `<git dir>/obs/scan.pending` marker throttles it), so most runs do not start one.

How to read it: "diff" is median(with) - median(without), i.e. the hooks' share of the command's wall
time; PASS/FAIL compares it with the design targets (commit +4 ms, checkout +2 ms). The p90 columns
show the tails. "The recorder itself" times one shim run (`sh .git/hooks/pre-commit`)
against an empty `sh -c :`, which isolates the shell work from the cost of starting a process.
Runs that fail are timed all the same and listed at the end (a hook's exit status can fail
`git checkout`). The exit status is always 0: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

from gitobs.capture import trace2_setup, trace2_spool
from gitobs.capture.install import LEAN_HOOKS, RECORDED_HOOKS, install
from gitobs.core.lock import exclusive
from gitobs.core.repo import ObsPaths, locate
from gitobs.upkeep.scan import scan

TARGET_MS = {"commit": 4.0, "checkout": 2.0, "status": 0.0}
TARGET_TRACE2_MS = 0.5  # trace2 on: added per git process
DRAIN_FILES = (100, 1000)
TARGET_RATIO = 1.10  # rebase, fetch, update-ref: with gitobs at most this times the same without
REBASE_COMMITS, FETCH_BRANCHES, UPDATE_REFS = 300, 4000, 8000
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

    def run(self, operation: str, env: dict[str, str], hooks_off: Path | None = None) -> int:
        """One timed command; with `hooks_off` (an empty directory) as core.hooksPath, git runs no hook."""
        git = ["git", "-c", f"core.hooksPath={hooks_off}"] if hooks_off is not None else ["git"]
        if operation == "commit":
            return timed([*git, "commit", "--allow-empty", "-q", "-m", "x"], self.path, env)
        if operation == "status":
            return timed([*git, "status", "--porcelain"], self.path, env)
        self.branch = BRANCHES[1] if self.branch == BRANCHES[0] else BRANCHES[0]
        return timed([*git, "checkout", "-q", self.branch], self.path, env)


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
    # git status runs no gitobs hook: its target is checked by the hook count below, not by timing noise
    verdict = "PASS" if diff <= target else "FAIL"
    if operation == "status":
        verdict = "(hooks counted below)"
    return (f"{'git ' + operation:<13}{variant:<15}{median_without:>9.2f}{median_with:>9.2f}{diff:>+9.2f}"
            f"{median_with / median_without:>7.2f}x{p90(times_without) / 1e6:>9.2f}{p90(times_with) / 1e6:>9.2f}"
            f"{'+' + format(target, 'g'):>8}  {verdict}")


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
                after_each: Callable[[], None] = lambda: None, hooks_off: Path | None = None) -> None:
    """`with_` against `without`; with `hooks_off`, against itself with no hook run."""
    for operation in ("commit", "checkout", "status"):
        first = partial(without.run, operation, env, hooks_off)
        times = interleave(first, partial(with_.run, operation, env), runs, after_each)
        print(row(operation, variant, *times))


def compare_shim(repo: Path, env: dict[str, str], runs: int) -> None:
    """One shim run against an empty shell: the recorder's own work, without git around it."""
    hook = str(repo / ".git" / "hooks" / "pre-commit")
    times_empty, times_shim = interleave(lambda: timed(["sh", "-c", ":"], repo, env),
                                         lambda: timed(["sh", hook, "0", "0"], repo, env), runs)
    empty_us, shim_us = statistics.median(times_empty) / 1e3, statistics.median(times_shim) / 1e3
    print(f"the recorder itself: sh pre-commit {shim_us:.0f} us, sh -c : {empty_us:.0f} us,"
          f" difference {shim_us - empty_us:+.0f} us"
          f" (p90 {p90(times_shim) / 1e3:.0f} vs {p90(times_empty) / 1e3:.0f} us)")


def git_in(path: Path, env: dict[str, str], *args: str, input: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=path, env=env, input=input, capture_output=True, check=True)
    return done.stdout.decode().strip()


def hook_count(argv: list[str], cwd: Path, env: dict[str, str], input: bytes | None, tmp: Path) -> int:
    """How many hooks git ran for one command, from its own trace2 (`child_start` of class hook)."""
    trace = tmp / "trace.json"
    trace.unlink(missing_ok=True)
    subprocess.run(argv, cwd=cwd, env=dict(env, GIT_TRACE2_EVENT=str(trace)), input=input, capture_output=True,
                   check=False)
    return sum(1 for line in trace.read_text().splitlines()
               if '"child_start"' in line and '"child_class":"hook"' in line)


class Heavy:
    """One repository set up for the commands whose work grows with refs and commits; `prepare` puts it
    back before each timed run (untimed), `run` times one command."""

    def __init__(self, path: Path, env: dict[str, str], remote: Path) -> None:
        self.path, self.env = path, env
        path.mkdir()
        git_in(path, env, "init", "-q", "-b", "main")
        (path / "base.txt").write_text("base\n")
        git_in(path, env, "add", "-A")
        git_in(path, env, "commit", "-q", "-m", "base")
        # 300 commits on side, made with fast-import (no hooks), then one commit on main to rebase onto
        base = git_in(path, env, "rev-parse", "HEAD")
        stream = [f"reset refs/heads/side\nfrom {base}\n"]
        for number in range(REBASE_COMMITS):
            data = f"{number}\n"
            stream.append(f"commit refs/heads/side\ncommitter B <b@x> {1700000000 + number} +0000\n"
                          f"data 2\nc\nM 644 inline side{number}.txt\ndata {len(data)}\n{data}\n")
        git_in(path, env, "fast-import", "--quiet", input="".join(stream).encode())
        (path / "main.txt").write_text("main\n")
        git_in(path, env, "add", "-A")
        git_in(path, env, "commit", "-q", "-m", "main moved")
        self.side = git_in(path, env, "rev-parse", "side")
        git_in(path, env, "remote", "add", "origin", str(remote))
        self.creates = "".join(f"create refs/bench/r{number} HEAD\n" for number in range(UPDATE_REFS)).encode()
        self.deletes = "".join(f"delete refs/bench/r{number}\n" for number in range(UPDATE_REFS)).encode()

    def command(self, operation: str) -> tuple[list[str], bytes | None]:
        if operation == "rebase":
            return ["git", "rebase", "-q", "main"], None
        if operation == "fetch":
            return ["git", "fetch", "-q", "origin"], None
        return ["git", "update-ref", "--stdin"], self.creates

    def prepare(self, operation: str) -> None:
        env = dict(self.env, GITOBS_NO_BACKGROUND="1")
        if operation == "rebase":
            git_in(self.path, env, "checkout", "-q", "-f", "main")
            git_in(self.path, env, "update-ref", "refs/heads/side", self.side)
            git_in(self.path, env, "checkout", "-q", "side")
        elif operation == "fetch":
            refs = git_in(self.path, env, "for-each-ref", "--format=delete %(refname)", "refs/remotes")
            if refs:
                git_in(self.path, env, "update-ref", "--stdin", input=(refs + "\n").encode())
        else:
            subprocess.run(["git", "update-ref", "--stdin"], cwd=self.path, env=env, input=self.deletes,
                           capture_output=True, check=False)

    def run(self, operation: str, hooks_off: Path | None = None) -> tuple[int, float]:
        """Wall time in ns and CPU seconds of git and the hooks it waited for (not of a detached scan); with
        `hooks_off`, an empty directory, git runs no hook (`-c core.hooksPath=<it>`)."""
        self.prepare(operation)
        argv, stdin = self.command(operation)
        if hooks_off is not None:
            argv = [argv[0], "-c", f"core.hooksPath={hooks_off}", *argv[1:]]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter_ns()
        subprocess.run(argv, cwd=self.path, env=self.env, input=stdin, capture_output=True, check=False)
        elapsed = time.perf_counter_ns() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return elapsed, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def compare_heavy(tmp: Path, env: dict[str, str], runs: int, variants: list[str]) -> None:
    remote = tmp / "remote.git"
    git_in(tmp, env, "init", "-q", "--bare", str(remote))
    seed = Heavy(tmp / "seed", env, remote)
    git_in(seed.path, env, "push", "-q", str(remote), "main")
    branches = "".join(f"create refs/heads/b{number:04} refs/heads/main\n" for number in range(FETCH_BRANCHES))
    git_in(remote, env, "update-ref", "--stdin", input=branches.encode())
    no_hooks = tmp / "no-hooks"
    no_hooks.mkdir(exist_ok=True)
    print(f"\n{'work':<26}{'hooks':<7}{'without':>9}{'with':>9}{'ratio':>8}{'cpu ratio':>11}{'hook runs':>11}"
          f"{'target':>8}  result")
    for variant, hooks in (("lean", LEAN_HOOKS), ("all", RECORDED_HOOKS)):
        if variant not in variants:
            continue
        # One repository, run with its hooks and without any (core.hooksPath on an empty directory) by turns:
        # two repositories built alike drifted apart here (packs, ref directories) by more than 2x
        with_ = Heavy(tmp / f"heavy-{variant}", env, remote)
        install(locate(with_.path), hooks=hooks)
        for operation, label in (("rebase", f"rebase of {REBASE_COMMITS} commits"),
                                 ("fetch", f"fetch of {FETCH_BRANCHES} branches"),
                                 ("update-ref", f"update-ref --stdin, {UPDATE_REFS}")):
            times_without, times_with = [], []
            for run in range(1 + runs):  # the first pair warms the caches up
                # each goes first in turn: the second of a pair finds the remote's packs and refs cached
                if run % 2:
                    second, first = with_.run(operation), with_.run(operation, no_hooks)
                else:
                    first, second = with_.run(operation, no_hooks), with_.run(operation)
                # a background scan the hooks queued runs with the command that queued it, never into the next
                wait_for_background_scans(locate(with_.path).obs)
                if run:
                    times_without.append(first)
                    times_with.append(second)
            with_.prepare(operation)
            argv, stdin = with_.command(operation)
            hooks_run = hook_count(argv, with_.path, dict(env, GITOBS_NO_BACKGROUND="1"), stdin, tmp)
            wall_without, wall_with = [t for t, _ in times_without], [t for t, _ in times_with]
            ratio = statistics.median(wall_with) / statistics.median(wall_without)
            cpu_ratio = statistics.median(c for _, c in times_with) / statistics.median(c for _, c in times_without)
            print(f"{label:<26}{variant:<7}{statistics.median(wall_without) / 1e6:>9.0f}"
                  f"{statistics.median(wall_with) / 1e6:>9.0f}{ratio:>7.2f}x{cpu_ratio:>10.2f}x{hooks_run:>11}"
                  f"{format(TARGET_RATIO, '.2f') + 'x':>8}  {'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
        wait_for_background_scans(locate(with_.path).obs)


def light_hook_counts(with_: Scratch, env: dict[str, str], tmp: Path) -> None:
    env = dict(env, GITOBS_NO_BACKGROUND="1")
    counts = {"commit": hook_count(["git", "commit", "--allow-empty", "-q", "-m", "x"], with_.path, env, None, tmp),
              "status": hook_count(["git", "status", "--porcelain"], with_.path, env, None, tmp)}
    with_.branch = BRANCHES[1] if with_.branch == BRANCHES[0] else BRANCHES[0]
    counts["checkout"] = hook_count(["git", "checkout", "-q", with_.branch], with_.path, env, None, tmp)
    print("hook runs (trace2) in the WITH repository: "
          + ", ".join(f"git {operation} {count}" for operation, count in counts.items())
          + f"  (git status: {'PASS' if counts['status'] == 0 else 'FAIL'}, no gitobs hook)")


def trace2_env(tmp: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` with gitobs's trace2 keys in a copy of its global config, and a state home of its own."""
    env_on = dict(env, GITOBS_STATE_HOME=str(tmp / "state"))
    config = tmp / "gitconfig-trace2"
    config.write_bytes(Path(env["GIT_CONFIG_GLOBAL"]).read_bytes())
    target = tmp / "state" / "trace2"
    trace2_setup.private_dir(target)
    for key, value in trace2_setup.settings(target).items():
        subprocess.run(["git", "config", "--file", str(config), key, value], check=True, env=env)
    env_on["GIT_CONFIG_GLOBAL"] = str(config)
    return env_on


def cpu_timed(argv: list[str], cwd: Path, env: dict[str, str], cpu: list[int]) -> int:
    """timed(), also appending the CPU time (user + sys, ns) the command took to `cpu`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = timed(argv, cwd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(int((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e9))
    return elapsed


def clear(directory: Path) -> None:
    for name in os.listdir(directory):
        os.unlink(directory / name)


def compare_trace2(tmp: Path, env: dict[str, str], runs: int) -> None:
    """The cost per git process with trace2 on, by turns; then draining N files in a scan."""
    repo = build_repo(tmp / "trace2", env)
    common = locate(repo.path).common_dir
    install(locate(repo.path), hooks=LEAN_HOOKS)
    env_off = dict(env, GITOBS_NO_BACKGROUND="1")
    env_on = dict(trace2_env(tmp, env), GITOBS_NO_BACKGROUND="1")
    target = tmp / "state" / "trace2"
    print(f"\ntrace2 on (a file per git process into {target.name}/) against off, same repository, by turns;"
          f" {runs * 3} runs each; wall and CPU (git's user+sys) medians")
    for argv in (["git", "status"], ["git", "rev-parse", "HEAD"]):
        cpu: dict[str, list[int]] = {"off": [], "on": []}
        off, on = interleave(partial(cpu_timed, argv, repo.path, env_off, cpu["off"]),
                             partial(cpu_timed, argv, repo.path, env_on, cpu["on"]), runs * 3, lambda: clear(target))
        diff = (statistics.median(on) - statistics.median(off)) / 1e6
        cpu_diff = (statistics.median(cpu["on"]) - statistics.median(cpu["off"])) / 1e6
        print(f"  {' '.join(argv):<20} off {statistics.median(off) / 1e6:6.2f} ms  on {statistics.median(on) / 1e6:6.2f}"
              f" ms  diff {diff:+.2f} ms (CPU {cpu_diff:+.2f} ms) per git process, target +{TARGET_TRACE2_MS}"
              f"  {'PASS' if min(diff, cpu_diff) <= TARGET_TRACE2_MS else 'FAIL'}")
    os.environ["GITOBS_STATE_HOME"] = env_on["GITOBS_STATE_HOME"]
    for count in DRAIN_FILES:
        clear(target)
        scan(common)
        for _ in range(count):
            subprocess.run(["git", "status", "--short"], cwd=repo.path, env=env_on, check=False, capture_output=True)
        size = sum(entry.stat().st_size for entry in os.scandir(target))
        started = time.perf_counter_ns()
        drained = trace2_spool.drain()
        routed_ms = (time.perf_counter_ns() - started) / 1e6
        started = time.perf_counter_ns()
        result = scan(common)
        scan_ms = (time.perf_counter_ns() - started) / 1e6
        print(f"  drain {count} files ({size / count / 1024:.1f} KB each): routing {routed_ms:.0f} ms"
              f" ({routed_ms * 1000 / count:.0f} us a file, {drained.routed} routed), then the scan that ingests"
              f" them {scan_ms:.0f} ms ({result.events} events)")
    os.environ.pop("GITOBS_STATE_HOME")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="timed runs per repository, operation and variant")
    parser.add_argument("--heavy-runs", type=int, default=4,
                        help="timed runs of each rebase, fetch, update-ref (0: skip them)")
    parser.add_argument("--heavy-hooks", choices=("lean", "all", "both"), default="both",
                        help="the hook sets the rebase, fetch and update-ref runs compare (all: slow)")
    parser.add_argument("--trace2", choices=("also", "only", "skip"), default="also",
                        help="measure git's trace2 on against off (only: nothing else)")
    arguments = parser.parse_args()
    runs, heavy_runs = max(2, arguments.runs), max(0, arguments.heavy_runs)

    with tempfile.TemporaryDirectory(prefix="gitobs-bench-", ignore_cleanup_errors=True) as tmp:
        env = hermetic_env(Path(tmp))
        os.environ.clear()
        os.environ.update(env)  # gitobs's own git calls (locate) run hermetic too
        if arguments.trace2 == "only":
            compare_trace2(Path(tmp), env, runs)
            return
        without, with_ = build_repo(Path(tmp, "without"), env), build_repo(Path(tmp, "with"), env)
        repo = locate(with_.path)
        install(repo, hooks=LEAN_HOOKS)  # the default, whatever the user running this configured
        version = subprocess.run(["git", "--version"], check=False, capture_output=True, text=True).stdout.strip()
        print(f"{version}; {runs} timed runs (after {WARMUP_RUNS} warm-up) per repository, operation and variant;"
              f" times in ms\n\n{HEADER}")

        compare_git(without, with_, "recorder only", dict(env, GITOBS_NO_BACKGROUND="1"), runs)
        no_hooks = Path(tmp, "no-hooks")
        no_hooks.mkdir()
        compare_git(with_, with_, "same repo", dict(env, GITOBS_NO_BACKGROUND="1"), runs, hooks_off=no_hooks)
        every = build_repo(Path(tmp, "every"), env)  # what an install before the lean set put in place
        install(locate(every.path), hooks=RECORDED_HOOKS)
        compare_git(without, every, "all hooks", dict(env, GITOBS_NO_BACKGROUND="1"), runs)
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
        light_hook_counts(with_, env, Path(tmp))
        if heavy_runs:
            chosen = arguments.heavy_hooks
            compare_heavy(Path(tmp), env, heavy_runs, ["lean", "all"] if chosen == "both" else [chosen])
        if arguments.trace2 == "also":
            compare_trace2(Path(tmp), env, runs)
        print(f"\nfailed runs, warm-up included (timed all the same): {sum(FAILED_RUNS.values()) or 'none'}")
        for failure, count in FAILED_RUNS.most_common():
            print(f"  {count:>4} x {failure}")


if __name__ == "__main__":
    main()
