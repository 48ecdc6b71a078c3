"""`gitobs schedule install|uninstall|status`: the periodic `gitobs scan --all`, by the platform's scheduler."""

from __future__ import annotations

import typer
from rich.text import Text

from gitobs.cli.commands import say, warn
from gitobs.core.registry import Registry
from gitobs.core.safe_text import inert
from gitobs.core.timespec import parse_duration
from gitobs.fleet import schedule as scheduler
from gitobs.fleet.last_run import last_run

app = typer.Typer(help="Scan every registered repository periodically, with systemd, cron or launchd.",
                  no_args_is_help=True)

ViaOption = typer.Option(None, "--via", help="systemd, cron or launchd; default: what this machine has "
                                             "(launchd on macOS, else a systemd user manager, else cron).",
                         show_default=False)


@app.command()
def install(
    interval: str = typer.Option("60s", "--interval", help="Time between two scans (cron: whole minutes)."),
    via: str = ViaOption,
) -> None:
    """Install the periodic scan (again, with new settings, if it is there already)."""
    installed, changed = scheduler.install(via, round(parse_duration(interval)))
    what = f"{installed.backend}, every {installed.interval_s} s"
    say(f"periodic scan installed ({what})" if changed else f"periodic scan already installed ({what})")
    if not Registry().entries():
        say("no repository is registered yet: gitobs install in a repository adds it")


@app.command()
def uninstall() -> None:
    """Remove the periodic scan, exactly as installed."""
    removed = scheduler.uninstall()
    say(f"periodic scan removed ({removed.backend})" if removed else "no periodic scan was installed")


@app.command()
def status() -> None:
    """Which scheduler runs the scan, when it runs next, and how the last run went."""
    for line in describe():
        say(Text(line))


def describe() -> list[str]:
    """Lines for `gitobs schedule status` and `gitobs status`."""
    found = scheduler.status()
    if found is None:
        return ["periodic scan: not installed (gitobs schedule install)"]
    lines = [f"periodic scan: {found.backend}, every {found.interval_s} s"
             + (f"; next run {found.next_run}" if found.next_run else "")]
    for problem in found.problems:
        warn(problem)
    lines += found.details
    run = last_run()
    if run is None:
        lines.append("last run: none yet")
    else:
        outcome = "ok" if run.ok else f"{len(run.failed)} failed"
        lines.append(f"last run: {run.started}, {run.repos} repositor{'y' if run.repos == 1 else 'ies'} in "
                     f"{run.seconds:.2f} s, {outcome}")
        lines += [f"  {inert(failure)}" for failure in run.failed]
    return lines
