"""The typer app, loaded lazily: the root group knows each command's name, module and one-line help, and
imports a command's module (with typer's own machinery for it, and pygit2 or rich tables where the command
needs them) only when that command runs or its --help is asked for. `gitobs --help` lists them all from the
table below; tests/test_cli.py checks the table against the commands' own help."""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass

import typer
import typer.core
import typer.main

from gitobs.cli.main import version

HELP = "Ambient observability for your own git work: hooks and a reflog scanner record, reports replay."


@dataclass(frozen=True)
class Entry:
    module: str  # under gitobs.cli.commands
    attr: str  # a command function, or a typer app of subcommands
    help: str  # the command's first help line, as `gitobs --help` lists it


COMMANDS = {
    "install": Entry("install", "install",
                     "Put the recorder hooks in place (chaining any hooks already there) and start recording."),
    "uninstall": Entry("install", "uninstall",
                       "Remove the recorder hooks and put back exactly what was there. Recorded data is kept."),
    "scan": Entry("scan", "scan", "Turn new hook records and reflog entries into events in the log."),
    "watch": Entry("watch", "watch", "Scan whatever changed, as files change and every --interval, until Ctrl-C or SIGTERM."),
    "events": Entry("events", "events", "Print recorded events, oldest first."),
    "report": Entry("report", "report", "Replay the log into a report: all sections, or the ones asked for."),
    "query": Entry("query", "query", "Count events, or sum, min, max, avg or pNN a field, filtered with --where "
                                     "and grouped with --group-by."),
    "bundle": Entry("bundle", "bundle", "Make one zip of the window's events and the report they give, for a bug "
                                        "report. Redacted unless --no-redact (or bundle.redact = false in your own "
                                        "config); nothing leaves the machine until you send it."),
    "replay": Entry("bundle", "replay", "Verify a bundle and replay its events through the analyzers installed here."),
    "plugins": Entry("plugins", "plugins", "List the plugins of the gitobs entry-point group: what each provides, "
                                           "its package, version and file."),
    "status": Entry("status", "status", "Show whether the hooks are installed and healthy, what the log holds, "
                                        "and the last scan."),
    "doctor": Entry("status", "doctor", "Check the hooks and the log for damage; with --repair, take it out of the "
                                        "log, keeping the damaged bytes. Exits with 1 whenever the log was damaged."),
    "pause": Entry("privacy", "pause", "Record nothing until `gitobs resume` (or for a while): the hooks write "
                                       "nothing, scans drop what the reflogs and GitButler saw meanwhile and look at "
                                       "no working tree."),
    "resume": Entry("privacy", "resume", "Record again. What happened while paused stays unrecorded."),
    "purge": Entry("privacy", "purge", "Delete every event and remembered detail gitobs recorded here. The hooks "
                                       "stay unless --uninstall."),
    "gc": Entry("privacy", "gc", "Roll days older than retention.max_age up into daily rollups and keep the log "
                                 "under retention.max_bytes, oldest first (scans do this when it is due)."),
    "demo": Entry("demo", "demo", "Play a realistic git session in a scratch repository and show what gitobs "
                                  "recorded."),
    "import": Entry("import_history", "import_", "Record the history that is already there, never twice."),
    "repos": Entry("repos", "app", "The repositories gitobs is installed in (kept by install and uninstall)."),
    "schedule": Entry("schedule", "app", "Scan every registered repository periodically, with systemd, cron or "
                                         "launchd."),
    "config": Entry("config", "app", "Settings: defaults < your own (--user) < this repository's < the committed "
                                     ".gitobs.toml."),
    "export": Entry("export", "app", "Export events and metrics to OpenTelemetry or Prometheus."),
    "trace2": Entry("trace2", "app", "git's own trace2 as a second source, for your user: on, off, or how it stands."),
    "metrics": Entry("metrics", "app", "Prometheus metrics of the log, served over HTTP on 127.0.0.1."),
    "version": Entry("", "", "Print the gitobs version."),
}


class LazyGroup(typer.core.TyperGroup):
    """The root: commands from COMMANDS, each module imported when its command is wanted."""

    listing = False  # while the root's help is written: the table's entries, nothing imported

    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, name: str):
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        if self.listing:
            return typer.core.TyperCommand(name, help=entry.help)
        return load_command(name, entry)

    def format_help(self, ctx, formatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def load_command(name: str, entry: Entry):
    """The click command typer makes of one command function or typer app."""
    if not entry.module:
        target = version
    else:
        target = getattr(importlib.import_module(f"gitobs.cli.commands.{entry.module}"), entry.attr)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)  # a group even with one subcommand, as `metrics serve`
        group.name = name
        return group
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    holder.command(name=name)(target)
    return typer.main.get_group(holder).commands[name]


def root() -> LazyGroup:
    return LazyGroup(name="gitobs", help=HELP, no_args_is_help=True)


def suggestion(message: str) -> str:
    """The close match of a mistyped command (" Did you mean 'report'?"), where click did not name one."""
    if "No such command" not in message or "Did you mean" in message:
        return ""
    typed = message.split("'")[1] if message.count("'") >= 2 else ""
    close = difflib.get_close_matches(typed, list(COMMANDS), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""
