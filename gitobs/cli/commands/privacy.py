"""`gitobs pause`, `gitobs resume`, `gitobs purge` and `gitobs gc`: stop recording for a while, forget it
all, or keep old days as daily rollups."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from gitobs.capture import pause as pausing
from gitobs.capture.install import uninstall as uninstall_hooks
from gitobs.capture.spool import write_note
from gitobs.cli.commands import RepoOption, open_repo, say, warn
from gitobs.core.registry import Registry
from gitobs.core.repo import GitobsError, Repo
from gitobs.core.timespec import parse_duration, parse_moment
from gitobs.history.cursor import forget_cursor, import_lock
from gitobs.replay.analysis import utc_text
from gitobs.upkeep import retention
from gitobs.upkeep.purge import purge as purge_data
from gitobs.upkeep.scan import scan


def _installed(repo_dir: Path | None) -> Repo:
    repo = open_repo(repo_dir)
    if not repo.obs.is_enabled():
        raise GitobsError("gitobs is not installed in this repository (run gitobs install)")
    return repo


def pause(
    repo_dir: Path = RepoOption,
    for_: str = typer.Option(None, "--for", help="End by itself after this long: 30m, 2h, 1d.", show_default=False),
) -> None:
    """Record nothing until `gitobs resume` (or for a while): the hooks write nothing, scans drop what the
    reflogs and GitButler saw meanwhile and look at no working tree."""
    repo = _installed(repo_dir)
    seconds = None if for_ is None else parse_duration(for_)
    if seconds is not None and seconds <= 0:
        raise GitobsError(f"the pause must last more than zero, not {for_!r}")
    paused = pausing.pause(repo.obs.root, time.time_ns(), seconds)
    end = "until gitobs resume" if paused.until_ns is None else f"until {utc_text(paused.until_ns / 1e9)}"
    say(f"recording paused {end}")


def resume(repo_dir: Path = RepoOption) -> None:
    """Record again. What happened while paused stays unrecorded."""
    repo = _installed(repo_dir)
    paused = pausing.read_pause(repo.obs.root)
    if paused is None:
        say("recording was not paused")
        return
    scan(repo.obs.common_dir)  # while still paused: the paused interval's reflog lines are passed over
    if pausing.end_pause(repo.obs.root):
        write_note(repo.obs.spool, "gitobs-resume", ["command", str(paused.since_ns)])
        say("recording resumed")
    else:  # its --for had run out, and that scan ended it
        say("the pause had run out: recording had resumed")


def purge(
    repo_dir: Path = RepoOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    uninstall: bool = typer.Option(False, "--uninstall", help="Remove the hooks too (as gitobs uninstall)."),
) -> None:
    """Delete every event and remembered detail gitobs recorded here. The hooks stay unless --uninstall."""
    repo = open_repo(repo_dir)
    repo.obs.check_own()
    if not (repo.obs.root).is_dir():
        say("nothing recorded here")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise GitobsError("purge deletes every recorded event here: add --yes to confirm")
        typer.confirm(f"Delete everything gitobs recorded in {repo.obs.root}?", abort=True)
    with import_lock(repo.obs.root, "a gitobs import is running; run gitobs purge once it has finished"):
        # The history it covers leaves the log: the next import brings it back. First, so that a purge killed
        # once the log is gone leaves no cursor hiding that history.
        forget_cursor(repo.obs.root)
        purged = purge_data(repo.obs)
    say(f"purged {purged.segments} log segment(s), {purged.bytes} bytes, {purged.spool_files} spool record(s)")
    if uninstall:
        for problem in uninstall_hooks(repo).problems:
            warn(problem)
        try:
            Registry().remove(repo.common_dir)
        except GitobsError as exc:
            warn(str(exc))
        say("hooks removed; your previous hooks are back")


def gc(
    repo_dir: Path = RepoOption,
    now: str = typer.Option(None, "--now", hidden=True, help="Act as if it were this time (tests)."),
) -> None:
    """Roll days older than retention.max_age up into daily rollups and keep the log under
    retention.max_bytes, oldest first (scans do this when it is due)."""
    repo = _installed(repo_dir)
    moment = parse_moment(now, time.time()) if now else None
    scan(repo.obs.common_dir)  # what is new is in the log first, to be kept or rolled up with the rest
    done = retention.collect(repo.obs, moment)
    say(f"log: {done.bytes_before} -> {done.bytes_after} bytes; {done.events_rolled} events of {done.days_rolled} "
        f"day(s) rolled up" + (f"; {done.dropped} oldest line(s) dropped for the size cap" if done.dropped else ""))
