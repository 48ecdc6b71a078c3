"""`gitobs import`: the history already in the repository, backfilled into the log."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from gitobs.cli.commands import RepoOption, console, open_repo, say
from gitobs.core.timespec import parse_moment
from gitobs.history.importer import ImportProgress, ImportResult, import_history


def import_(
    repo_dir: Path = RepoOption,
    since: str = typer.Option(None, help="Only what happened from then on: a duration ago (90d) or a date.",
                              show_default=False),
    all_authors: bool = typer.Option(False, "--all-authors",
                                     help="Everyone's commits, not only yours (git config user.email and "
                                          "import.identities)."),
    merge_churn: bool = typer.Option(False, "--merge-churn",
                                     help="Count a merge's lines as its diff against its first parent "
                                          "(default: 0, the merged commits carry them)."),
) -> None:
    """Record the history that is already there, never twice.

    A commit.created for each of your commits (author email: git config user.email, plus
    import.identities; everyone's with --all-authors) on the local branches and HEAD not yet recorded,
    with every file under its newest path (renames followed) and its line counts, and what the reflogs
    show that the log lacks. Run it again any time: an interrupted import goes on where it stopped."""
    repo = open_repo(repo_dir)
    moment = parse_moment(since, time.time()) if since else None
    options = {"all_authors": all_authors, "merge_churn": merge_churn}
    if console.is_terminal:
        result = _with_progress_bar(repo.common_dir, moment, options)
    else:
        result = import_history(repo.common_dir, moment, **options)
    say(describe(result))


def _with_progress_bar(common_dir: Path, since: float | None, options: dict[str, bool]) -> ImportResult:
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TextColumn("commits"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("import", total=None)

        def show(progress: ImportProgress) -> None:
            bar.update(task, completed=progress.walked, total=progress.total)

        return import_history(common_dir, since, count=True, on_progress=show, **options)


def describe(result: ImportResult) -> str:
    if result.empty:
        return "nothing to import: the repository has no commits"
    text = (f"imported {result.imported:,} commit(s) and {result.reflog_events:,} reflog event(s) "
            f"in {result.seconds:.1f} s")
    left = [f"{result.recorded:,} already recorded"] if result.recorded else []
    if result.others:
        left.append(f"{result.others:,} by other authors left out (--all-authors takes them)")
    if result.skipped:
        left.append(f"{result.skipped:,} left out (GitButler's own, paused or rolled-up time)")
    whose = "" if result.authors is None else f" by {', '.join(result.authors)}"
    return text.replace(" commit(s)", f" commit(s){whose}", 1) + (f"; {', '.join(left)}" if left else "")
