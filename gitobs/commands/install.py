"""`gitobs install` / `gitobs uninstall`."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from gitobs.commands import RepoOption, open_repo, say, warn
from gitobs.hookinstall import InstallReport
from gitobs.hookinstall import install as install_hooks
from gitobs.hookinstall import uninstall as uninstall_hooks
from gitobs.safe_text import inert


def install(repo_dir: Path = RepoOption) -> None:
    """Put the recorder hooks in place (chaining any hooks already there) and start recording."""
    repo = open_repo(repo_dir)
    report = install_hooks(repo)
    state = "installed" if report.changed else "already installed, nothing changed"
    _show(report, f"gitobs {state} in {report.hooks_dir}; recording to {repo.obs.root}")


def uninstall(repo_dir: Path = RepoOption) -> None:
    """Remove the recorder hooks and put back exactly what was there. Recorded data is kept."""
    report = uninstall_hooks(open_repo(repo_dir))
    _show(report, f"gitobs hooks removed from {report.hooks_dir}" if report.changed
          else "gitobs hooks were not installed; nothing changed")


def _show(report: InstallReport, conclusion: str) -> None:
    """One line per hook changed, one warning per problem, the conclusion; exit 1 if anything failed."""
    for name, outcome in report.changed.items():
        say(f"  {name}: {outcome}")
    for problem in report.problems:
        warn(inert(problem))
    say(Text(inert(conclusion)))
    if report.problems:
        raise SystemExit(1)
