"""What `gitobs import` costs against `git log --numstat` over the same commits, in the same run.

    python benchmarks/import.py [--commits N] [--seed S] [--repeat R] [--cache DIR]   a generated repository
    python benchmarks/import.py --repo PATH [--repeat R]                            a real one (git/git)
    ... [--author EMAIL]                      only that author's commits, as `gitobs import` takes yours

Target: `gitobs import --all-authors` within 1.0x of `git log --numstat --branches HEAD` (merges count 0
lines in both: git log shows no diff for them without -m), and at most 30 bytes per event in the log.
Generated (for CI-size runs): a seeded repository (benchmarks/repogen.py: many files in nested
directories, hundreds of files in a sweep, hunks of varying size, moves and whole directories renamed,
binaries, several authors, merged feature branches and a few unmerged ones) built once with git
fast-import, checked out and packed, kept under the cache directory, named after its parameters and a
hash of the generator. Real: PATH is cloned bare into a scratch directory (objects hard-linked, PATH left
alone). Then, by turns, `--repeat` times: the baseline (output to /dev/null) and `gitobs import` on a
fresh `.git/obs/` (gitobs installed anew, untimed), both as whole processes. Medians, the ratio, the CPU
seconds of each (gitobs's with its git processes), bytes per event, PASS/FAIL; then `gitobs report --heatmap
--no-scan` on the imported log. Always exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
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
TARGET_RATIO = 1.0
TARGET_BYTES = 30
BASELINE = ["git", "log", "--numstat", "--branches", "HEAD"]
# The installed command, not `python -m gitobs`: run in the measured repository, -m would put it first on the
# import path, and a real repository (--repo) could then shadow gitobs's own modules.
GITOBS = str(Path(sys.executable).with_name("gitobs"))
IMPORT = ["import", "--all-authors"]


def hermetic_env(home: Path, email: str = "bench@example.invalid") -> dict[str, str]:
    """git and gitobs with private settings: neither the user's config nor their registry of repositories."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "GITOBS_"))}
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.write_text(f"[user]\n\tname = Bench\n\temail = {email}\n[init]\n\tdefaultBranch = main\n"
                      "[gc]\n\tauto = 0\n")
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1", GITOBS_NO_BACKGROUND="1",
               GITOBS_CONFIG_HOME=str(home / "gitobs-config"), GITOBS_DATA_HOME=str(home / "gitobs-data"))
    return env


def repo_directory(cache: Path, commits: int, seed: int) -> Path:
    digest = hashlib.sha256((HERE / "repogen.py").read_bytes()).hexdigest()[:10]
    return cache / f"import-{commits}-{seed}-{digest}" / "repo"


def ensure_repo(path: Path, commits: int, seed: int, env: dict[str, str]) -> None:
    """Build the repository unless a complete one is cached (built aside, then renamed into place)."""
    if path.is_dir():
        return
    sys.path.insert(0, str(HERE))
    import repogen

    partial = path.parent.with_name(path.parent.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    work = partial / "repo"
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=env)
    importer = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=work, stdin=subprocess.PIPE, env=env)
    for chunk in repogen.stream(commits, seed):
        importer.stdin.write(chunk)
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    for args in (["reset", "-q", "--hard", "main"], ["gc", "-q"]):
        subprocess.run(["git", *args], cwd=work, check=True, env=env)
    os.replace(partial, path.parent)
    print(f"built the repository in {time.perf_counter() - started:.0f} s: {path}", file=sys.stderr)


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, float]:
    """Wall seconds, the output, and the CPU seconds (user + sys) of the process and every process it waited
    for (gitobs's git processes): on a busy machine the CPU figures move less than the wall."""
    started, used = time.perf_counter(), _children_cpu()
    done = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE if args[0] != "git" else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds, cpu = time.perf_counter() - started, _children_cpu() - used
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return seconds, (done.stdout or "").strip(), cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").is_dir() else repo


def fresh_obs(repo: Path, env: dict[str, str]) -> None:
    shutil.rmtree(git_dir(repo) / "obs", ignore_errors=True)
    subprocess.run([GITOBS, "install"], cwd=repo, env=env, check=True, capture_output=True)


def imported(repo: Path) -> tuple[int, int]:
    """commit.created events import wrote, and all events in the log."""
    from gitobs.core.repo import ObsPaths
    from gitobs.log.read import read_events

    commits = events = 0
    for event in read_events(ObsPaths(git_dir(repo)), lambda _: None):
        events += 1
        commits += event.type == "commit.created" and event.src == "import"
    return commits, events


def real_repo(source: Path, scratch: Path, env: dict[str, str]) -> Path:
    """A bare clone of `source` (objects hard-linked): the benchmark writes `obs/` there, not in `source`."""
    clone = scratch / "real.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--local", str(source), str(clone)], check=True, env=env)
    return clone


def byte_compile() -> None:
    """As installing a package does, so that the runs time gitobs, not the compiler."""
    import compileall

    import gitobs_plugins

    import gitobs

    for package in (gitobs, gitobs_plugins):
        compileall.compile_dir(str(Path(package.__file__).parent), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", help="a real repository to import (cloned bare first; left as it is)")
    parser.add_argument("--author", help="import only this email's commits (gitobs import's default, as your "
                                         "own) instead of everyone's (--all-authors)")
    parser.add_argument("--commits", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; medians are shown")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "gitobs-bench"),
                        help="where the generated repository is kept for later runs (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = hermetic_env(Path(scratch) / "home", args.author or "bench@example.invalid")
        if args.repo:
            repo = real_repo(Path(args.repo).resolve(), Path(scratch), env)
        else:
            repo = repo_directory(Path(args.cache), args.commits, args.seed)
            ensure_repo(repo, args.commits, args.seed, env)
        byte_compile()
        measure(repo, args.repeat, env, args.author)


def measure(repo: Path, repeat: int, env: dict[str, str], author: str | None) -> None:
    command = ["import"] if author else IMPORT
    def git_count(*options: str) -> int:
        return int(subprocess.run(["git", "rev-list", "--count", *options, "--branches", "HEAD"], cwd=repo, env=env,
                                  check=True, capture_output=True, text=True).stdout)

    count, merges = git_count(), git_count("--merges")
    expected = git_count("--fixed-strings", f"--author=<{author}>") if author else count
    print(f"repository: {count:,} commits ({merges:,} merges), {repo}")
    git_s, import_s, git_cpu, import_cpu, line = [], [], [], [], ""
    for _ in range(repeat):  # by turns: drift in the machine's speed touches all alike
        seconds, _, cpu = timed(BASELINE, repo, env)
        git_s.append(seconds)
        git_cpu.append(cpu)
        fresh_obs(repo, env)
        seconds, line, cpu = timed([GITOBS, *command], repo, env)
        import_s.append(seconds)
        import_cpu.append(cpu)
    heatmap_s, _, _ = timed([GITOBS, "report", "--heatmap", "--no-scan"], repo, env)
    written, events = imported(repo)
    log_bytes = sum(path.stat().st_size for path in (git_dir(repo) / "obs" / "log").iterdir())
    git_median, import_median = statistics.median(git_s), statistics.median(import_s)
    ratio, per_event = import_median / git_median, log_bytes / max(events, 1)
    print(f"git log --numstat --branches HEAD  median {git_median:6.2f} s   runs {_runs(git_s)}")
    print(f"gitobs {' '.join(command):<27} median {import_median:6.2f} s   runs {_runs(import_s)}")
    print(f"  last run said: {line}")
    git_cpu_median, import_cpu_median = statistics.median(git_cpu), statistics.median(import_cpu)
    print(f"  CPU seconds (user + sys, with its git processes), medians: git log {git_cpu_median:.2f}, gitobs "
          f"{import_cpu_median:.2f} (ratio {import_cpu_median / max(git_cpu_median, 1e-9):.2f})")
    print(f"  commit.created src=import: {written:,}; {events:,} events; log {log_bytes / 2**20:.2f} MiB, "
          f"{per_event:.1f} bytes per event (target at most {TARGET_BYTES})")
    print(f"gitobs report --heatmap --no-scan         {heatmap_s:6.2f} s   (one run, on the imported log)")
    verdict = "PASS" if ratio <= TARGET_RATIO and written == expected else "FAIL"
    print(f"ratio import / git log {ratio:.2f} (target at most {TARGET_RATIO}): {verdict}"
          + ("" if written == expected else f" (imported {written:,} of {expected:,} commits)"))


def _runs(values: list[float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


if __name__ == "__main__":
    main()
