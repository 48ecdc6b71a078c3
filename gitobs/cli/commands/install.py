"""`gitobs install` / `gitobs uninstall`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text

from gitobs.capture.install import InstallReport
from gitobs.capture.install import install as install_hooks
from gitobs.capture.install import uninstall as uninstall_hooks
from gitobs.cli.commands import RepoOption, open_repo, say, warn
from gitobs.core.registry import Registry
from gitobs.core.repo import GitobsError
from gitobs.core.safe_text import inert


def install(repo_dir: Path = RepoOption) -> None:
    """Put the recorder hooks in place (chaining any hooks already there) and start recording."""
    repo = open_repo(repo_dir)
    repo.obs.check_own()
    report = install_hooks(repo)
    registered = _registered(lambda registry: registry.add(repo))
    state = "installed" if report.changed or registered else "already installed, nothing changed"
    _show(report, f"gitobs {state} in {report.hooks_dir}; recording to {repo.obs.root}")


def uninstall(repo_dir: Path = RepoOption) -> None:
    """Remove the recorder hooks and put back exactly what was there. Recorded data is kept."""
    repo = open_repo(repo_dir)
    report = uninstall_hooks(repo)
    _registered(lambda registry: registry.remove(repo.common_dir))
    _show(report, f"gitobs hooks removed from {report.hooks_dir}" if report.changed
          else "gitobs hooks were not installed; nothing changed")


def _registered(change: Callable[[Registry], bool]) -> bool:
    """Keep the user's list of repositories (scan --all, watch --all, the schedule) up to date; a list
    that cannot be written is worth a warning, not a failed install."""
    try:
        return change(Registry())
    except GitobsError as exc:
        warn(f"{inert(str(exc))}; scan --all will not see this repository")
        return False


def _show(report: InstallReport, conclusion: str) -> None:
    """One line per hook changed, one warning per problem, the conclusion; exit 1 if anything failed."""
    for name, outcome in report.changed.items():
        say(f"  {name}: {outcome}")
    for problem in report.problems:
        warn(inert(problem))
    say(Text(inert(conclusion)))
    if report.problems:
        raise SystemExit(1)
