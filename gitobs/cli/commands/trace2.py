"""`gitobs trace2 enable|disable|status`: git's own trace2 as a second source (gitobs/capture/trace2_setup.py)."""

from __future__ import annotations

import typer
from rich.text import Text

from gitobs.capture import trace2_setup
from gitobs.cli.commands import say
from gitobs.core.safe_text import inert

app = typer.Typer(help="git's own trace2 as a second source, for your user: on, off, or how it stands.",
                  no_args_is_help=True)


@app.command()
def enable() -> None:
    """Point git's trace2 at gitobs's private directory (in your global git config); when another trace2
    event target is set, change nothing and exit with 2."""
    say(Text(inert(trace2_setup.enable())))


@app.command()
def disable() -> None:
    """Put your global git config back as it was before enable (or remove only gitobs's keys if you changed it)."""
    say(Text(inert(trace2_setup.disable())))


@app.command()
def status() -> None:
    """Whether trace2 is on, where git writes, the files waiting for a scan and anyone else's target."""
    found = trace2_setup.status()
    say(Text(f"trace2: {'on' if found.on else 'off'}, target {inert(found.target)}"))
    say(f"files waiting for a scan: {found.waiting}")
    if found.full:
        say(f"git reached trace2.maxFiles ({trace2_setup.MAX_FILES}) and writes nothing until a scan drains it")
    for other in found.others:
        say(Text(f"another target: {inert(other)}"))
