"""`gitobs report`: replay the log through the analyzers and render their sections."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import sys
import time
from pathlib import Path

import typer

from gitobs.cli.commands import (
    NoScanOption,
    RepoOption,
    open_repo,
    reading,
    scan_first,
    warn,
)
from gitobs.core import config
from gitobs.core.names import recorded
from gitobs.core.repo import GitobsError
from gitobs.core.safe_text import inert
from gitobs.core.timespec import parse_moment
from gitobs.log.eventlog import EventLog
from gitobs.log.memory import MemoryLog
from gitobs.replay import plugins
from gitobs.replay.analysis import Context, Renderer, utc_text
from gitobs.replay.engine import normalize_path
from gitobs.replay.report import build_report, local_offset, parse_offset

_TS_FIELD = re.compile(rb'"ts":"([^"]*)"')
# The sections the issue names have their own flags; --only takes any analyzer, third-party ones too.
SECTION_FLAGS = ("summary", "heatmap", "branches", "hesitation", "reverts", "vbranches", "patterns", "hooks")


def report(
    repo_dir: Path = RepoOption,
    summary: bool = typer.Option(False, "--summary", help="The last 7 days against the 7 before."),
    heatmap: bool = typer.Option(False, "--heatmap", help="Activity by file, directory, day and hour."),
    branches: bool = typer.Option(False, "--branches", help="Switches, dwell time, ping-pong."),
    hesitation: bool = typer.Option(False, "--hesitation", help="Message editing, staging, aborted commits."),
    reverts: bool = typer.Option(False, "--reverts", help="Reverted, abandoned and discarded work."),
    vbranches: bool = typer.Option(False, "--vbranches", help="GitButler stacks and operations."),
    patterns: bool = typer.Option(False, "--patterns", help="Sessions, focus and recurring sequences."),
    hooks: bool = typer.Option(False, "--hooks", help="What your own hooks and gitobs cost you."),
    only: list[str] = typer.Option([], "--only", help="A section by analyzer name; repeatable."),
    since: str = typer.Option(None, help="Start: a duration before now (30d) or a date.", show_default=False),
    until: str = typer.Option(None, help="End (exclusive): a duration before now or a date.", show_default=False),
    path: str = typer.Option(None, help="Only files under this directory (or this file).", show_default=False),
    depth: int = typer.Option(None, min=1, help="Directory depth of the per-directory heatmap.", show_default=False),
    branch: str = typer.Option(None, help="Only events on this branch.", show_default=False),
    output_format: str = typer.Option("text", "--format", "-f", help="text, json, md or html."),
    output: Path = typer.Option(None, "-o", "--output", help="Write to this file.", show_default=False),
    width: int = typer.Option(None, "--width", min=20, help="Text width in characters (default: COLUMNS, else "
                              "the terminal's, else 100 when piped).", show_default=False),
    now: str = typer.Option(None, help="The report's now (default: the current time).", show_default=False),
    utc_offset: str = typer.Option(None, help="Show local times at this offset, e.g. +01:00 (default: this "
                                   "machine's).", show_default=False),
    options: list[str] = typer.Option([], "-O", "--option", help="ANALYZER.KEY=VALUE, e.g. "
                                      "patterns.idle_gap=45m; repeatable."),
    no_scan: bool = NoScanOption,
    from_bundles: bool = typer.Option(False, "--from", help="Report on the bundles given after it instead of "
                                      "this repository: one view of several people's work."),
    bundles: list[Path] = typer.Argument(None, help="With --from: the bundles (.zip).", show_default=False),
) -> None:
    """Replay the log into a report: all sections, or the ones asked for."""
    provided, renderer = load_plugins(output_format, width)
    flags = dict(zip(SECTION_FLAGS, (summary, heatmap, branches, hesitation, reverts, vbranches, patterns, hooks)))
    chosen = [name for name, on in flags.items() if on] + [name for name in only if not flags.get(name)]
    if from_bundles or bundles:
        if not (from_bundles and bundles):
            raise GitobsError("name the bundles after --from: gitobs report --from A.zip B.zip")
        log, latest = merged_bundles(bundles)
        context = _context(now or utc_text(latest), since, until, path, depth, branch, utc_offset, options)
        write_report(log, provided, renderer, chosen, context, output)
        return
    repo = open_repo(repo_dir)
    settings = config.load(repo.common_dir, repo.work_tree)
    for message in settings.warnings:
        warn(inert(message))
    configured = {**budget_options(settings["budgets.hooks"]), **settings["report.options"]}
    context = _context(now, since, until, path, depth, branch, utc_offset, options, configured)
    reading(repo)
    if not no_scan and repo.obs.is_enabled():
        scan_first(repo.obs)
    write_report(EventLog(repo.obs.log), provided, renderer, chosen, context, output)


def merged_bundles(paths: list[Path]) -> tuple[MemoryLog, float]:
    """Every event of the bundles in time order (each verified as `gitobs replay` does), and the latest of
    their report times. Each bundle has its own salt: one name redacted in two bundles is two tokens."""
    lines: list[tuple[bytes, int, bytes]] = []
    latest = 0.0
    digests = []  # the report cache's key: which bundles, in this order (ties keep it)
    # imported here: only --from needs zipfile and the bundle's checks
    from gitobs.share.bundle_open import open_bundle

    for number, path in enumerate(paths):
        found = open_bundle(path)
        latest = max(latest, float(found.manifest["now"]))
        digests.append(found.events_digest)
        for line in found.events:
            moment = _TS_FIELD.search(line)
            lines.append((moment.group(1) if moment else b"", number, line))
    lines.sort(key=lambda item: (item[0], item[1]))  # ISO times sort as text; a bundle's own order kept
    identity = hashlib.sha256(" ".join(digests).encode()).hexdigest()
    return MemoryLog([line for _, _, line in lines], identity), latest


def load_plugins(output_format: str, width: int | None = None) -> tuple[plugins.Provided, Renderer]:
    """The loaded plugins (those that failed named in warnings) and the renderer of `output_format`, set to
    `width` characters when given (a renderer that draws to a width has a `width` attribute)."""
    provided = plugins.load()
    for failure in provided.failures():
        warn(f"{failure}; left out")
    found = provided.renderers.get(output_format)
    if found is None:
        raise GitobsError(f"unknown format {output_format!r} (available: {', '.join(sorted(provided.renderers))})")
    if width is None:
        return provided, found[0]
    if not hasattr(found[0], "width"):
        raise GitobsError(f"--width is for formats drawn to a width (text), not {output_format!r}")
    renderer = copy.copy(found[0])
    renderer.width = width
    return provided, renderer


def write_report(log: EventLog, provided: plugins.Provided, renderer: Renderer, chosen: list[str],
                 context: Context, output: Path | None) -> None:
    """Build the report and write it to `output`, or to standard output (in colour on a terminal)."""
    built = build_report(log, provided, chosen, context, warn)
    color = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    text = renderer.render(built, color)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _context(now: str | None, since: str | None, until: str | None, path: str | None, depth: int | None,
             branch: str | None, utc_offset: str | None, options: list[str],
             configured: dict[str, str] | None = None) -> Context:
    """The report's context; -O options over `configured` ones (the settings' report.options)."""
    moment = parse_moment(now, time.time()) if now else time.time()
    return Context(
        now=moment, utc_offset_s=parse_offset(utc_offset) if utc_offset else local_offset(moment),
        since=parse_moment(since, moment) if since else None, until=parse_moment(until, moment) if until else None,
        path=normalize_path(path) if path else None, depth=depth, branch=recorded(branch) if branch else None,
        options={**(configured or {}), **parse_options(options)})


def budget_options(budgets: dict[str, float]) -> dict[str, str]:
    """budgets.hooks as the hooks section reads it: -O hooks.budget.<hook>=<seconds> (plugins/hook_cost.py)."""
    return {f"hooks.budget.{hook}": f"{seconds:.3f}".rstrip("0").rstrip(".") + "s" for hook, seconds in budgets.items()}


def parse_options(items: list[str]) -> dict[str, str]:
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key or not key.split(".", 1)[0] or not key.split(".", 1)[1]:
            raise GitobsError(f"not an option: {item!r} (use ANALYZER.KEY=VALUE, e.g. patterns.idle_gap=45m)")
        parsed[key.strip()] = value.strip()
    return parsed
