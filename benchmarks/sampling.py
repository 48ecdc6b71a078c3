"""What a working-tree sample costs a scan: `python benchmarks/sampling.py [--runs N] [--files N]`.

Builds a scratch repository of N tracked files (default 5,000, in 100 directories, 40 lines each) whose
files are older than the index, so no entry is racily clean and every method can trust stat data. Then,
in one process, each case is timed with `time.perf_counter_ns`, the methods by turns on the same state:

- `sample_worktree` (opening the repository included, as each scan does);
- baselines: pygit2 `repo.status()` on a freshly opened repository, and `git status --porcelain` as a
  subprocess (what a shell-out design would pay);
- the API choice behind the cheap path: `index.diff_to_workdir` (stat-only index against working tree,
  what the signature uses) against `repo.status()` (which also walks HEAD's tree against the index).

Cases: nothing changed (the memory's signature is equal: no line is counted), one file changed, and 50
files changed (each run rewrites them beforehand, outside the timed region, so every sample measures).
Ratios are sample_worktree's median over the baseline's; "measured" counts the samples (warm-up
included) whose signature differed, so that lines were counted. Also prints the bytes of the msgspec-encoded
memory that the scanner state stores per worktree. Standard library, pygit2 and gitobs; always exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pygit2
from pygit2.enums import DiffOption

from gitobs.capture.worktree_sample import WorktreeMemory, sample_worktree

DIRS = 100
LINES_PER_FILE = 40
WARMUP_RUNS = 3
CHANGED_CASES = (("nothing changed", 0), ("1 file changed", 1), ("50 files changed", 50))
UNSTAGED = DiffOption.INCLUDE_UNTRACKED | DiffOption.RECURSE_UNTRACKED_DIRS | DiffOption.IGNORE_SUBMODULES


def hermetic_env(scratch_dir: Path) -> dict[str, str]:
    config = scratch_dir / "gitconfig"
    config.write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1")
    return env


def build_repo(path: Path, files: int) -> list[Path]:
    """`files` tracked files spread over DIRS directories, dated a minute before the commit."""
    paths = [path / f"pkg{number % DIRS:03}" / f"module{number // DIRS:03}.py" for number in range(files)]
    past = time.time() - 60
    for file in paths:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text("".join(f"value_{line} = {line}  # {file.name}\n" for line in range(LINES_PER_FILE)))
        os.utime(file, (past, past))
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return paths


def timed(action: Callable[[], object]) -> int:
    start = time.perf_counter_ns()
    action()
    return time.perf_counter_ns() - start


def edit(paths: list[Path], run: int) -> None:
    """Rewrite the files with a new last line, so every run leaves a different dirty tree."""
    for file in paths:
        lines = file.read_text().splitlines(keepends=True)
        file.write_text("".join(lines[:-1]) + f"edited = {run}\n")


class Methods:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.git_dir = repo / ".git"
        self.memory: WorktreeMemory | None = sample_worktree(self.git_dir, None).memory
        self.measured = 0  # samples whose signature differed, so lines were counted

    def sample(self) -> None:
        result = sample_worktree(self.git_dir, self.memory)
        self.measured += result.memory is not self.memory
        self.memory = result.memory

    def status(self) -> None:
        pygit2.Repository(str(self.git_dir)).status()

    def unstaged_diff(self) -> None:
        pygit2.Repository(str(self.git_dir)).index.diff_to_workdir(UNSTAGED)

    def git_status(self) -> None:
        subprocess.run(["git", "status", "--porcelain"], cwd=self.repo, check=True, capture_output=True)


def measure(methods: dict[str, Callable[[], None]], runs: int, before_each: Callable[[int], None]) -> dict:
    times: dict[str, list[int]] = {name: [] for name in methods}
    for run in range(WARMUP_RUNS + runs):
        for name, method in methods.items():
            before_each(run)  # outside the timed region
            elapsed = timed(method)
            if run >= WARMUP_RUNS:
                times[name].append(elapsed)
    return {name: statistics.median(values) / 1e6 for name, values in times.items()}


def report_case(label: str, medians: dict[str, float], measured: int) -> None:
    sample, status, git = medians["sample"], medians["status"], medians["git status"]
    print(f"{label:<18}{sample:>10.2f}{status:>13.2f}{git:>13.2f}{sample / status:>10.2f}x{sample / git:>10.2f}x"
          f"{measured:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per case and method")
    parser.add_argument("--files", type=int, default=5000, help="tracked files in the scratch repository")
    args = parser.parse_args()
    runs = max(2, args.runs)

    with tempfile.TemporaryDirectory(prefix="gitobs-bench-", ignore_cleanup_errors=True) as tmp:
        env = hermetic_env(Path(tmp))
        os.environ.clear()
        os.environ.update(env)
        repo = Path(tmp, "repo")
        repo.mkdir()
        paths = build_repo(repo, args.files)
        methods = Methods(repo)
        version = subprocess.run(["git", "--version"], check=False, capture_output=True, text=True).stdout.strip()
        print(f"{args.files} tracked files in {DIRS} directories; {version}, pygit2 {pygit2.__version__} "
              f"(libgit2 {pygit2.LIBGIT2_VERSION}); {runs} timed runs (after {WARMUP_RUNS} warm-up); medians in ms\n")
        api = measure({"unstaged": methods.unstaged_diff, "status": methods.status}, runs, lambda run: None)
        print(f"the cheap path's API, clean tree: index.diff_to_workdir {api['unstaged']:.2f} ms, "
              f"repo.status() {api['status']:.2f} ms ({api['unstaged'] / api['status']:.2f}x)\n")
        print(f"{'case':<18}{'sample':>10}{'repo.status':>13}{'git status':>13}{'vs status':>11}{'vs git':>11}{'measured':>10}")
        table = {"sample": methods.sample, "status": methods.status, "git status": methods.git_status}
        memory_sizes = []
        for label, count in CHANGED_CASES:
            changed = paths[:count]
            methods.measured = 0
            medians = measure(table, runs, lambda run, changed=changed: edit(changed, run) if changed else None)
            report_case(label, medians, methods.measured)
            memory_sizes.append((label, len(msgspec.json.encode(methods.memory))))

        print("\nmemory stored per worktree (msgspec JSON): "
              + ", ".join(f"{label} {size} bytes" for label, size in memory_sizes))


if __name__ == "__main__":
    main()
