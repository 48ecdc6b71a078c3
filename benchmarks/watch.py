"""What `gitobs watch` costs and how soon it sees an edit: `python benchmarks/watch.py [--repos N]
[--files N] [--commits N] [--ticks N] [--interval S] [--idle S] [--saves N]`.

Builds N scratch repositories (default 20) of realistic size (default 2,000 tracked files in 40
directories, a history of 300 commits, a few branches), installs gitobs in each, registers them in a
private data home and scans each once. Then, in this process, by turns on the same idle repositories:

- an idle `Watcher.tick()` over all of them (what `gitobs watch --all` does every interval when nothing
  changed: stat calls and one stat-level look per work tree);
- baselines: a full `gitobs scan` of every repository (a watcher without the cheap stage), and `git status
  --porcelain` in every repository as a subprocess (what a shell-out poller would pay at the least).

CPU time (user + system, this process and its children) per round is the figure: medians over --ticks
rounds, as milliseconds, as a share of one core at --interval, and as ratios to the baselines. The
target (issue 8): under 1% of one core at a 60 s interval with 20 repositories.

Then real `gitobs watch --all` processes (issue 17, part 4):

- idle CPU: the watch process's own CPU time (from /proc, Linux) over --idle seconds (default: --interval,
  so one idle tick falls in it) in which nothing changes, after its first tick; with file-system notifications, and by turns without them
  (`--no-notify`, the polling alone) as the baseline. Target: under 1% of one core.
- busy: the same share while a build writes an ignored file 20 times a second in one repository (taken at
  most once a second; only ignored, untracked files changed, so no look).
- save to sample: with notifications and `--interval 1h` (no tick can do it), --saves times (default 5) a
  file is written and the time until a new `worktree.sample` is in the log is taken (the log polled every
  20 ms from this process). Target: within 2 s.
- a discard by hand: a file is edited, and once sampled put back (no git command); the time until its
  `edit.discarded` is in the log, with notifications, and with polling alone at --interval (default 60 s,
  so that takes a minute or two; `--interval 5` for a quick look). Always exits 0.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_SHARE = 0.01  # of one core
TARGET_INTERVAL_S = 60
TARGET_LATENCY_S = 2.0  # from a save to its sample in the log (issue 17)
# The installed command, not `python -m gitobs`, which puts the current directory (a scratch repository
# here) first on the import path.
GITOBS = str(Path(sys.executable).with_name("gitobs"))


def hermetic_env(scratch: Path) -> dict[str, str]:
    config = scratch / "gitconfig"
    config.write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1", GITOBS_NO_BACKGROUND="1",
               GITOBS_DATA_HOME=str(scratch / "data-home"))
    return env


def fast_import_stream(files: int, commits: int, dirs: int) -> bytes:
    """A history for git fast-import: the tree in the first commit, then commits touching a few files."""
    paths = [f"dir{number % dirs:02}/file{number:05}.py" for number in range(files)]
    out: list[bytes] = []
    stamp = 1_700_000_000
    for number in range(commits):
        message = f"change {number}".encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"committer Bench <bench@example.invalid> {stamp + number * 600} +0000\n".encode())
        out.append(b"data %d\n%s\n" % (len(message), message))
        touched = paths if number == 0 else [paths[(number * 7 + k * 131) % files] for k in range(3)]
        for path in touched:
            body = f"# {path}, version {number}\n" + "".join(f"line_{k} = {k}\n" for k in range(30))
            out.append(f"M 100644 inline {path}\ndata {len(body)}\n{body}\n".encode())
    return b"".join(out)


def build(path: Path, files: int, commits: int, env: dict[str, str]) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=fast_import_stream(files, commits, 40),
                   check=True, env=env)
    for args in (["reset", "-q", "--hard", "main"], ["branch", "feature/a"], ["branch", "fix/b"]):
        subprocess.run(["git", *args], cwd=path, check=True, env=env)
    past = time.time() - 120  # files older than the index: no racily clean entry, stat data is trusted
    for root, _, names in os.walk(path):
        if "/.git" not in root + "/":
            for name in names:
                os.utime(os.path.join(root, name), (past, past))
    subprocess.run(["git", "update-index", "--refresh", "-q"], cwd=path, env=env, check=False)
    subprocess.run([GITOBS, "install"], cwd=path, check=True, env=env,
                   capture_output=True)
    subprocess.run([GITOBS, "scan", "-q"], cwd=path, check=True, env=env)


def cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(rounds: dict[str, callable], ticks: int) -> dict[str, list[float]]:
    spent: dict[str, list[float]] = {name: [] for name in rounds}
    for _ in range(ticks):  # by turns: drift in the machine's speed touches each alike
        for name, run in rounds.items():
            before = cpu_s()
            run()
            spent[name].append(cpu_s() - before)
    return spent


def log_counter(repo: Path):
    from gitobs.core.repo import locate
    from gitobs.log.read import read_events

    obs = locate(repo).obs

    def count(kind: str) -> int:
        return sum(1 for event in read_events(obs, lambda _: None) if event.type == kind)

    return count


def wait_for(count, kind: str, already: int, limit_s: float) -> float | None:
    """The monotonic time the log first held more than `already` events of `kind`; None past `limit_s`."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if count(kind) > already:
            return time.monotonic()
        time.sleep(0.02)
    return None


def start_watch(env: dict[str, str], interval: str, notify: bool) -> subprocess.Popen:
    process = subprocess.Popen([GITOBS, "watch", "--all", "--interval", interval,
                                "--notify" if notify else "--no-notify"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    process.stdout.readline()  # "watching ...": its handlers are in, its first tick starts
    return process


def stop_watch(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=60)


def wait_quiet(pid: int, limit_s: float = 300) -> None:
    """Until the process has used no CPU for a second: its first tick (a scan of every repository) is done."""
    deadline, last, still = time.monotonic() + limit_s, process_cpu_s(pid), 0
    while still < 4 and time.monotonic() < deadline:
        time.sleep(0.25)
        now = process_cpu_s(pid)
        still = still + 1 if now == last else 0
        last = now
    if last is None:  # no /proc: give it time
        time.sleep(10)


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(env: dict[str, str], interval_s: float, idle_s: float, notify: bool) -> float | None:
    """The watch process's CPU share of one core over `idle_s` seconds after its first tick."""
    process = start_watch(env, f"{interval_s}s", notify)
    try:
        wait_quiet(process.pid)
        before = process_cpu_s(process.pid)
        time.sleep(idle_s)
        after = process_cpu_s(process.pid)
    finally:
        stop_watch(process)
    return None if before is None or after is None else (after - before) / idle_s


def busy_cpu(repo: Path, env: dict[str, str], seconds: float) -> float | None:
    """The watch process's CPU share while a build writes an ignored file 20 times a second: each write is
    a notification, taken at most once a second (the rate cap), and no look follows (only ignored files)."""
    exclude = repo / ".git" / "info" / "exclude"
    exclude.parent.mkdir(exist_ok=True)
    exclude.write_text("build/\n")  # ignored without a .gitignore, which would itself be a change
    (repo / "build").mkdir(exist_ok=True)
    process = start_watch(env, "1h", True)
    try:
        wait_quiet(process.pid)
        before, started = process_cpu_s(process.pid), time.monotonic()
        number = 0
        while time.monotonic() - started < seconds:
            (repo / "build" / "out.o").write_bytes(b"%d" % number)
            number += 1
            time.sleep(0.05)
        after = process_cpu_s(process.pid)
    finally:
        stop_watch(process)
    return None if before is None or after is None else (after - before) / seconds


def save_latencies(repo: Path, env: dict[str, str], saves: int) -> list[float | None]:
    """Seconds from a file written to its worktree.sample in the log, with notifications and no tick."""
    count = log_counter(repo)
    process = start_watch(env, "1h", True)
    seen: list[float | None] = []
    try:
        wait_quiet(process.pid)
        target = repo / "dir02" / "file00002.py"
        original = target.read_bytes()
        for number in range(saves):
            time.sleep(1.5)  # apart: the rate cap is not what is measured
            samples = count("worktree.sample")
            started = time.monotonic()
            # One line more each time: a sample is written only when the counts changed.
            target.write_bytes(original + b"".join(f"save {k}\n".encode() for k in range(number + 1)))
            done = wait_for(count, "worktree.sample", samples, 30)
            seen.append(None if done is None else done - started)
        discards = count("edit.discarded")
        target.write_bytes(original)
        wait_for(count, "edit.discarded", discards, 30)  # seen by this watcher, not left to the next one
    finally:
        stop_watch(process)
    return seen


def latency(repo: Path, interval_s: float, env: dict[str, str], notify: bool) -> float | None:
    """Seconds from a sampled edit put back by hand to its edit.discarded in the log."""
    count = log_counter(repo)
    process = start_watch(env, f"{interval_s}s", notify)
    try:
        target = repo / "dir00" / "file00000.py"
        original = target.read_bytes()
        wait_quiet(process.pid)  # its first tick has scanned
        samples, discards = count("worktree.sample"), count("edit.discarded")
        target.write_bytes(original + b"an idea\n")
        if wait_for(count, "worktree.sample", samples, 3 * interval_s + 30) is None:
            return None
        target.write_bytes(original)  # thrown away by hand: no git command
        started = time.monotonic()
        seen = wait_for(count, "edit.discarded", discards, 3 * interval_s + 30)
        return None if seen is None else seen - started
    finally:
        stop_watch(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--ticks", type=int, default=15)
    parser.add_argument("--interval", type=float, default=TARGET_INTERVAL_S)
    parser.add_argument("--idle", type=float, default=None,
                        help="seconds of idle watch process measured (default: --interval, so one tick is in)")
    parser.add_argument("--saves", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch repositories")
    args = parser.parse_args()
    args.idle = args.idle or args.interval

    scratch = Path(tempfile.mkdtemp(prefix="gitobs-watch-bench-"))
    try:
        run(args, scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, scratch: Path) -> None:
    env = hermetic_env(scratch)
    os.environ.update({key: env[key] for key in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GITOBS_NO_BACKGROUND",
                                                 "GITOBS_DATA_HOME")})
    started = time.perf_counter()
    repos = [scratch / f"repo{number:02}" for number in range(args.repos)]
    for repo in repos:
        build(repo, args.files, args.commits, env)
    print(f"built {args.repos} repositories of {args.files:,} files and {args.commits} commits, gitobs installed "
          f"and registered, in {time.perf_counter() - started:.0f} s ({scratch}{', kept' if args.keep else ''})")

    from gitobs.core.registry import Registry
    from gitobs.fleet.watch import Watcher
    from gitobs.upkeep.scan import scan

    registry = Registry()
    watcher = Watcher(lambda: [(entry.obs, entry.label) for entry in registry.entries()])
    first = watcher.tick()  # the first look at each scans it and takes its stamps
    assert len(first.scanned) == args.repos, first

    def idle_tick() -> None:
        tick = watcher.tick()
        assert not tick.scanned, [outcome.label for outcome in tick.scanned]  # idle means idle

    rounds = {
        "watch tick (idle)": idle_tick,
        "full scan of each": lambda: [scan(repo / ".git") for repo in repos],
        "git status of each": lambda: [subprocess.run(["git", "status", "--porcelain"], cwd=repo, env=env,
                                                      capture_output=True, check=True) for repo in repos],
    }
    spent = measure(rounds, args.ticks)
    medians = {name: statistics.median(values) for name, values in spent.items()}
    tick = medians["watch tick (idle)"]
    print(f"\nCPU per round over {args.repos} idle repositories, median of {args.ticks} (this process and its "
          "children, user + system):")
    for name, value in medians.items():
        ratio = "" if name.startswith("watch") else f"   watch tick = {tick / value:.2f} of this"
        print(f"  {name:22} {value * 1000:8.1f} ms{ratio}")
    share = tick / args.interval
    print(f"\nidle tick at a {args.interval:g} s interval: {share * 100:.3f}% of one core "
          f"(target < {TARGET_SHARE * 100:g}% at {TARGET_INTERVAL_S} s: "
          f"{'PASS' if tick / TARGET_INTERVAL_S < TARGET_SHARE else 'FAIL'}); "
          f"{tick / args.repos * 1000:.2f} ms per repository")

    repo = repos[len(repos) // 2]
    print(f"\ngitobs watch --all --interval {args.interval:g}s over {args.repos} repositories, CPU of the watch "
          f"process over {args.idle:g} idle seconds after its first tick (share of one core):")
    shares = {}
    for notify in (True, False, True, False):  # by turns
        share = idle_cpu(env, args.interval, args.idle, notify)
        shares.setdefault(notify, []).append(share)
    if None in shares[True] + shares[False]:
        print("  needs /proc (Linux): not measured")
    else:
        with_, without = statistics.mean(shares[True]), statistics.mean(shares[False])
        print(f"  with notifications   {with_ * 100:7.3f}%   (target < {TARGET_SHARE * 100:g}%: "
              f"{'PASS' if with_ < TARGET_SHARE else 'FAIL'})")
        print(f"  polling alone        {without * 100:7.3f}%   notifications cost "
              f"{(with_ - without) * 100:+.3f} points of a core over it")

    busy = busy_cpu(repo, env, args.idle)
    if busy is not None:
        print(f"  while a build writes an ignored file 20 times a second in one repository: {busy * 100:.3f}% "
              "(only ignored, untracked files: no look at all)")

    print(f"\nsave to worktree.sample in the log, notifications only (--interval 1h), {args.saves} saves:")
    seen = save_latencies(repo, env, args.saves)
    measured = [value for value in seen if value is not None]
    if len(measured) < len(seen):
        print(f"  {len(seen) - len(measured)} save(s) not sampled within 30 s: FAIL")
    if measured:
        print(f"  median {statistics.median(measured):.2f} s, worst {max(measured):.2f} s "
              f"({', '.join(f'{value:.2f}' for value in measured)}); target within {TARGET_LATENCY_S:g} s: "
              f"{'PASS' if max(measured) <= TARGET_LATENCY_S else 'FAIL'}")

    print(f"\nlatency of a discard made by hand (file put back right after it was sampled), gitobs watch --all "
          f"--interval {args.interval:g}s over {args.repos} repositories:")
    for notify in (True, False):
        seen = latency(repo, args.interval, env, notify)
        how = "with notifications" if notify else "polling alone     "
        if seen is None:
            print(f"  {how}: not seen within three intervals: FAIL")
        else:
            bound = TARGET_LATENCY_S if notify else args.interval + 5
            print(f"  {how}: {seen:.2f} s to its edit.discarded in the log (bound {bound:g} s: "
                  f"{'PASS' if seen <= bound else 'FAIL'})")


if __name__ == "__main__":
    main()
