"""What a scan costs: `python benchmarks/scan.py [--small N] [--large N] [--runs R]`.

DESIGN: "cost grows with new work only: a scan with nothing new is O(1) in the size of the history".
Builds two repositories that differ only in history length (N commits made with fast-import, each on
its own reflog line), installs gitobs in both, scans each once, then times by turns a scan with nothing
new in each (medians) and prints the ratio large/small: near 1 means the history's size costs nothing.
Also times the first scan (the whole reflog read and enriched) and a scan after one new commit.
Both sizes default to more than the 4,096 commits the state remembers (to report each once), so the
state file is at its cap in both: below that, the state, and the idle scan, grow with the history.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from gitobs.capture.install import install
from gitobs.core.repo import locate
from gitobs.upkeep.scan import scan


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n")
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1", GITOBS_NO_BACKGROUND="1")
    return env


def build(path: Path, commits: int, env: dict[str, str]) -> None:
    """A history of `commits` commits on main, with a reflog line for each (as if made one by one)."""
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    stream = []
    for i in range(commits):
        stream.append(f"commit refs/heads/main\nmark :{i + 1}\ncommitter Bench <b@x> {1700000000 + i * 60} +0000\n"
                      f"data 8\ncommit {i % 10}\nM 644 inline src/f{i % 200}.txt\ndata 6\nline {i % 10}\n")
    subprocess.run(["git", "fast-import", "--quiet"], input="".join(stream).encode(), cwd=path, check=True, env=env)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=path, check=True, env=env)
    shas = subprocess.run(["git", "rev-list", "--reverse", "main"], cwd=path, check=True, env=env,
                          capture_output=True, text=True).stdout.split()
    log = path / ".git" / "logs" / "HEAD"
    lines = [f"{'0' * 40 if i == 0 else shas[i - 1]} {sha} Bench <b@x> {1700000000 + i * 60} +0000\tcommit: c{i}\n"
             for i, sha in enumerate(shas)]
    log.write_text("".join(lines))
    (path / ".git" / "logs" / "refs" / "heads" / "main").write_text("".join(lines))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--large", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.update(git_env(root))
        repos = {}
        for label, size in (("small", args.small), ("large", args.large)):
            path = root / label
            build(path, size, dict(os.environ))
            install(locate(path))
            first = timed(lambda p=path: scan(locate(p).common_dir))
            print(f"{label}: {size:>6} commits, first scan (whole reflog) {first * 1000:8.1f} ms")
            repos[label] = locate(path).common_dir
        idle = {label: [] for label in repos}
        for _ in range(args.runs):
            for label, common in repos.items():
                idle[label].append(timed(lambda c=common: scan(c)))
        medians = {label: statistics.median(times) * 1000 for label, times in idle.items()}
        for label, ms in medians.items():
            print(f"{label}: scan with nothing new, median of {args.runs}: {ms:6.2f} ms")
        print(f"ratio large/small: {medians['large'] / medians['small']:.2f} (1.00 = history size costs nothing)")
        work = root / "large"
        (work / "new.txt").write_text("new\n")
        subprocess.run(["git", "add", "new.txt"], cwd=work, check=True)
        subprocess.run(["git", "commit", "-q", "-m", "one more"], cwd=work, check=True)
        one = timed(lambda: scan(repos["large"]))
        print(f"large: scan after one new commit: {one * 1000:.2f} ms")


if __name__ == "__main__":
    main()
