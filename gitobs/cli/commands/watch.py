"""`gitobs watch`: scan in a loop, in the foreground, for terminals and service managers."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.text import Text

from gitobs.cli.commands import open_repo, say, warn
from gitobs.core.registry import Registry
from gitobs.core.repo import GitobsError, ObsPaths, Repo
from gitobs.core.safe_text import inert
from gitobs.core.timespec import parse_duration
from gitobs.fleet.scan_all import Outcome
from gitobs.fleet.watch import Tick, Watcher, stopped_by_signals


def watch(
    paths: list[Path] = typer.Argument(None, help="Repositories to watch; default: the current one.",
                                       show_default=False),
    every: bool = typer.Option(False, "--all", help="Every repository gitobs is installed in, as it is "
                                                    "installed (gitobs repos)."),
    interval: str = typer.Option("60s", "--interval", help="Time between two looks: 30s, 5m, ..."),
    notify: bool = typer.Option(True, "--notify/--no-notify",
                                help="Also look at a repository about a second after its files change "
                                     "(file-system notifications); --no-notify: every --interval only."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Say nothing unless something failed."),
    ticks: int = typer.Option(0, "--ticks", hidden=True, help="Stop after this many ticks (tests)."),
) -> None:
    """Scan whatever changed, as files change and every --interval, until Ctrl-C or SIGTERM."""
    interval_s = parse_duration(interval)
    if interval_s <= 0:
        raise GitobsError(f"the interval must be more than zero, not {interval!r}")
    if every and paths:
        raise GitobsError("give repositories or --all, not both")
    sources = _registered if every else _fixed([open_repo(path) for path in paths or [None]])
    watcher = Watcher(sources, notify=notify)
    with stopped_by_signals(watcher.stop, watcher.wake):
        listening = watcher.listen()  # if not, the first tick says why
        if not quiet:  # said once the handlers are in: from here on, Ctrl-C does stop it
            say(f"watching {'every registered repository' if every else _count(len(paths or [None]))} "
                f"{'as files change and ' if listening else ''}every {interval_s:g} s; Ctrl-C stops")
        watcher.run(interval_s, lambda tick: _show(tick, quiet), ticks=ticks or None)
    if not quiet:
        say("stopped")


def _fixed(repos: list[Repo]) -> Callable[[], list[tuple[ObsPaths, str]]]:
    for repo in repos:
        if not repo.obs.is_enabled():
            raise GitobsError(f"gitobs is not installed in {repo.work_tree or repo.common_dir} (run gitobs install)")
    watched = [(repo.obs, str(repo.work_tree or repo.common_dir)) for repo in repos]
    return lambda: watched


def _registered() -> list[tuple[ObsPaths, str]]:
    return [(entry.obs, entry.label) for entry in Registry().entries() if entry.problem() is None]


def _show(tick: Tick, quiet: bool) -> None:
    moment = time.strftime("%H:%M:%S")
    if tick.error is not None:
        warn(f"{moment} {inert(tick.error)}; watching the repositories known before")
    for notice in tick.notices:
        warn(f"{moment} {inert(notice)}")
    for outcome in tick.scanned:
        if outcome.error is not None:
            warn(f"{moment} {inert(outcome.label)}: {inert(outcome.error)}")
        elif not quiet and _news(outcome):
            say(Text(f"{moment} {inert(outcome.label)}: {outcome.result.events} new event(s)"))


def _news(outcome: Outcome) -> bool:
    return outcome.result is not None and outcome.result.events > 0


def _count(repos: int) -> str:
    return "1 repository" if repos == 1 else f"{repos} repositories"
