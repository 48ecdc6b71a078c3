"""How soon a command answers: `python benchmarks/cli.py [--runs N]` (default 20).

Builds a small scratch repository (a dozen commits, two branches), installs gitobs and scans once. Then, by
turns in this process (so machine noise falls on all alike), it times with `time.perf_counter_ns` around
`subprocess.run`:

- a bare interpreter (`python -c pass`): the floor every command pays;
- `gitobs --version`, `gitobs status --no-scan`, `gitobs events --no-scan --limit 5` and `gitobs --help`,
  through the installed `gitobs` script beside this interpreter.

It prints each command's median and p90, its median above the floor, and PASS/FAIL against the design's
targets (above the floor: --version 120 ms, status and events 200 ms; --help has none). Always exits 0:
this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS_MS = {"--version": 120, "status --no-scan": 200, "events --no-scan --limit 5": 200, "--help": None}


def hermetic_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n")
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1",
               GITOBS_NO_BACKGROUND="1", GITOBS_DATA_HOME=str(home / "data"),
               GITOBS_CONFIG_HOME=str(home / "config"))
    return env


def build_repo(path: Path, env: dict[str, str], gitobs: str) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)

    path.mkdir()
    git("init", "-q")
    subprocess.run([gitobs, "install"], cwd=path, env=env, check=True, capture_output=True)
    for n in range(12):
        (path / f"file{n % 4}.txt").write_text(f"line {n}\n")
        git("add", "-A")
        git("commit", "-q", "-m", f"change {n}")
        if n == 6:
            git("switch", "-q", "-c", "topic")
    subprocess.run([gitobs, "scan"], cwd=path, env=env, check=True, capture_output=True)


def timed_ms(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter_ns()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter_ns() - started) / 1e6


def p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    gitobs = str(Path(sys.executable).with_name("gitobs"))
    with tempfile.TemporaryDirectory(prefix="gitobs-cli-bench-") as scratch:
        env = hermetic_env(Path(scratch))
        repo = Path(scratch) / "repo"
        build_repo(repo, env, gitobs)
        commands = {"python -c pass": [sys.executable, "-c", "pass"]}
        commands.update({name: [gitobs, *name.split()] for name in TARGETS_MS})
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(3):  # warm the page cache and the byte-code caches
            for argv in commands.values():
                timed_ms(argv, repo, env)
        for _ in range(runs):
            for name, argv in commands.items():
                samples[name].append(timed_ms(argv, repo, env))
    floor = statistics.median(samples["python -c pass"])
    print(f"{runs} runs each, by turns; floor (python -c pass): median {floor:.1f} ms")
    print(f"{'command':32} {'median':>8} {'p90':>8} {'above floor':>12}  target")
    for name in TARGETS_MS:
        median = statistics.median(samples[name])
        above = median - floor
        target = TARGETS_MS[name]
        verdict = "" if target is None else f"{'PASS' if above <= target else 'FAIL'} (<= {target} ms)"
        print(f"gitobs {name:25} {median:7.1f}  {p90(samples[name]):7.1f}  {above:10.1f}  {verdict}")


if __name__ == "__main__":
    main()
