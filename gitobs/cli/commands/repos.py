"""`gitobs repos` (the repositories gitobs is installed in) and `gitobs repos prune`."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from gitobs.capture.spool import backlog
from gitobs.capture.state import load_state
from gitobs.cli.commands import console, say, scan_time_text
from gitobs.core.registry import Entry, Registry
from gitobs.core.safe_text import inert

app = typer.Typer(help="The repositories gitobs is installed in (kept by install and uninstall).",
                  invoke_without_command=True, no_args_is_help=False)


@app.callback()
def repos(context: typer.Context) -> None:
    """List them with their last scan and spool backlog; `prune` drops those moved, deleted or uninstalled."""
    if context.invoked_subcommand is not None:
        return
    registry = Registry()
    entries = registry.entries()
    if not entries:
        say(f"no repositories registered in {inert(registry.path)} (gitobs install registers one)")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("repository", overflow="fold")  # whole, however narrow the terminal: it is a path to copy
    for column in ("last scan", "backlog", "state"):
        table.add_column(column)
    for entry in entries:
        problem = entry.problem()
        last, backlog = ("-", "-") if problem else _activity(entry)
        table.add_row(Text(inert(entry.label)), last, backlog, Text(inert(problem or "ok")))
    console.print(table)
    gone = sum(1 for entry in entries if entry.problem())
    if gone:
        say(f"{gone} cannot be scanned: gitobs repos prune drops them")


@app.command()
def prune() -> None:
    """Forget the repositories that were moved, deleted or uninstalled by hand."""
    dropped = Registry().prune()
    for entry, problem in dropped:
        say(Text(f"dropped {inert(entry.label)}: {inert(problem)}"))
    say(f"{len(dropped)} dropped" if dropped else "nothing to drop: every registered repository is there")


def _activity(entry: Entry) -> tuple[str, str]:
    return scan_time_text(load_state(entry.obs.state)), str(backlog(entry.obs.spool))
