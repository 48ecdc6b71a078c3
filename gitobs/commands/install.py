"""`gitobs install` / `gitobs uninstall`."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from gitobs.commands import RepoOption, open_repo, say, warn
from gitobs.hookinstall import install as install_hooks
from gitobs.hookinstall import uninstall as uninstall_hooks
from gitobs.safe_text import inert


def install(repo_dir: Path = RepoOption) -> None:
    """Put the recorder hooks in place (chaining any hooks already there) and start recording."""
    repo = open_repo(repo_dir)
    report = install_hooks(repo)
    for name, outcome in report.changed.items():
        say(f"  {name}: {outcome}")
    for problem in report.problems:
        warn(inert(problem))
    state = "installed" if report.changed else "already installed, nothing changed"
    say(Text(f"gitobs {state} in {inert(report.hooks_dir)}; recording to {inert(repo.obs.root)}"))
    if report.problems:
        raise SystemExit(1)


def uninstall(repo_dir: Path = RepoOption) -> None:
    """Remove the recorder hooks and put back exactly what was there. Recorded data is kept."""
    repo = open_repo(repo_dir)
    report = uninstall_hooks(repo)
    for name, outcome in report.changed.items():
        say(f"  {name}: {outcome}")
    for problem in report.problems:
        warn(inert(problem))
    say(Text(f"gitobs hooks removed from {inert(report.hooks_dir)}" if report.changed
             else "gitobs hooks were not installed; nothing changed"))
    if report.problems:
        raise SystemExit(1)
