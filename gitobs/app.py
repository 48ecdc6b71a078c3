"""The typer app: every command of gitobs/commands/ wired in (gitobs.cli runs it)."""

from __future__ import annotations

import sys

import typer

from gitobs import __version__
from gitobs.commands.bundle import bundle, replay
from gitobs.commands.config import app as config_app
from gitobs.commands.demo import demo
from gitobs.commands.events import events
from gitobs.commands.export import app as export_app
from gitobs.commands.import_history import import_
from gitobs.commands.install import install, uninstall
from gitobs.commands.metrics import app as metrics_app
from gitobs.commands.plugins import plugins
from gitobs.commands.privacy import gc, pause, purge, resume
from gitobs.commands.query import query
from gitobs.commands.report import report
from gitobs.commands.repos import app as repos_app
from gitobs.commands.scan import scan
from gitobs.commands.schedule import app as schedule_app
from gitobs.commands.status import doctor, status
from gitobs.commands.watch import watch

app = typer.Typer(
    name="gitobs", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Ambient observability for your own git work: hooks and a reflog scanner record, reports replay.",
)
for command in (install, uninstall, scan, watch, events, report, query, bundle, replay, plugins, status, doctor,
                pause, resume, purge, gc, demo):
    app.command()(command)
app.command("import")(import_)  # a Python keyword: the function is import_
app.add_typer(repos_app, name="repos")
app.add_typer(schedule_app, name="schedule")
app.add_typer(config_app, name="config")
app.add_typer(export_app, name="export")
app.add_typer(metrics_app, name="metrics")


@app.command()
def version() -> None:
    """Print the gitobs version."""
    sys.stdout.write(f"gitobs {__version__}\n")
