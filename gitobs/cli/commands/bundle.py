"""`gitobs bundle` (make a bug-report bundle) and `gitobs replay BUNDLE` (on a maintainer's machine)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import typer
from rich.text import Text

from gitobs.cli.commands import (
    NoScanOption,
    RepoOption,
    open_repo,
    plain_write,
    reading,
    say,
    scan_first,
    warn,
)
from gitobs.cli.commands.events import event_line
from gitobs.cli.commands.report import load_plugins, write_report
from gitobs.core import config
from gitobs.core.repo import GitobsError
from gitobs.core.safe_text import inert
from gitobs.core.timespec import parse_moment
from gitobs.log.memory import MemoryLog
from gitobs.log.schema import Event, parse_ts
from gitobs.replay.analysis import Context
from gitobs.replay.plugins import Provided
from gitobs.replay.report import build_report, local_offset
from gitobs.replay.sections import encode_json
from gitobs.share import bundle as bundles
from gitobs.share.bundle_open import Bundle, open_bundle
from gitobs.share.rebuild import rebuild


def bundle(
    repo_dir: Path = RepoOption,
    output: Path = typer.Option(None, "-o", "--output", help="The zip to write (default: gitobs-bundle-"
                                "<time>.zip here).", show_default=False),
    since: str = typer.Option(None, help="From this time: 2h, 7d, 2026-11-20.", show_default=False),
    until: str = typer.Option(None, help="Up to this time (exclusive).", show_default=False),
    types: list[str] = typer.Option([], "--type", "-t", help="Event type globs (repeatable): 'commit.*'."),
    redact: bool = typer.Option(None, "--redact/--no-redact", help="Hash paths, branch and remote names "
                                "(default: bundle.redact, which is true unless your own config says otherwise).",
                                show_default=False),
    preview: bool = typer.Option(False, "--preview", help="Print exactly what would be shared; write nothing."),
    no_scan: bool = NoScanOption,
) -> None:
    """Make one zip of the window's events and the report they give, for a bug report. Redacted unless
    --no-redact (or bundle.redact = false in your own config); nothing leaves the machine until you send it."""
    repo = open_repo(repo_dir)
    reading(repo)
    if not no_scan and repo.obs.is_enabled():
        scan_first(repo.obs)
    now = time.time()
    context = Context(now=now, utc_offset_s=local_offset(now), since=parse_moment(since, now) if since else None,
                      until=parse_moment(until, now) if until else None)
    if redact is None:
        redact = config.load(repo.common_dir, config.main_work_tree(repo.common_dir))["bundle.redact"]
    contents = bundles.collect(repo, context, types, redact, warn)
    if preview:
        sys.stdout.write(bundles.preview(contents))
        return
    path = output or bundles.default_name()
    bundles.write(contents, path)
    say(Text(inert(f"wrote {path}: {bundles.describe(contents)}")))


def replay(
    path: Path = typer.Argument(..., help="The bundle (.zip)."),
    verify: bool = typer.Option(False, "--verify", help="Compare with the report stored in the bundle; exit 1 "
                                "on any difference."),
    output_format: str = typer.Option("text", "--format", "-f", help="text, json, md or html."),
    output: Path = typer.Option(None, "-o", "--output", help="Write the report to this file.", show_default=False),
    timeline: bool = typer.Option(False, "--timeline", help="Play the events back in order instead."),
    speed: float = typer.Option(0.0, "--speed", help="With --timeline: wait the events' gaps divided by this "
                                "(0: do not wait)."),
    step: bool = typer.Option(False, "--step", help="With --timeline: wait for a key before each event (q stops)."),
    start: str = typer.Option(None, "--from", help="With --timeline: from this time.", show_default=False),
    until: str = typer.Option(None, "--until", help="With --timeline: up to this time.", show_default=False),
    into: Path = typer.Option(None, "--into", help="Build a scratch git repository (a new or empty directory) "
                              "that goes through the recorded commits, switches, resets and stacks.",
                              show_default=False),
) -> None:
    """Verify a bundle and replay its events through the analyzers installed here."""
    found = open_bundle(path)
    if into is not None:
        _rebuild(found, into)
        return
    if timeline:
        _timeline(found, speed, step, start, until)
        return
    provided, renderer = load_plugins(output_format)
    context = _context(found)
    if verify:
        raise SystemExit(_verify(found, provided, context))
    write_report(MemoryLog(found.events, found.events_digest), provided, renderer, [], context, output)


def _rebuild(found: Bundle, into: Path) -> None:
    built = rebuild(found.events, into)
    done = ", ".join(f"{count} {kind}" for kind, count in sorted(built.done.items())) or "nothing"
    say(Text(inert(f"built {into}: redid {done}")))
    if built.left_out:
        left = ", ".join(f"{count} {kind}" for kind, count in sorted(built.left_out.items()))
        say(Text(inert(f"left out: {left}")))
    if built.skipped_paths:
        warn(f"{built.skipped_paths} file path(s) could not be written safely and were skipped")
    say("gitobs install there, then gitobs scan, records the same commits, switches and resets")


def _context(found: Bundle) -> Context:
    manifest = found.manifest
    window = manifest["window"]
    since, until = (window.get(key) for key in ("since", "until"))
    now = float(manifest["now"])
    return Context(now=now, utc_offset_s=int(manifest["utc_offset_s"]), since=_utc(since, now),
                   until=_utc(until, now))


def _utc(text: object, now: float) -> float | None:
    """A time of the bundle's window. `gitobs bundle` writes UTC times; one written otherwise ("30d") is taken
    against the bundle's own now, so that a replay is the same on any day (and its report cache is found)."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise GitobsError("the bundle's window is not a pair of times")
    return parse_moment(text, now)


def _verify(found: Bundle, provided: Provided, context: Context) -> int:
    replayed = json.loads(encode_json(build_report(MemoryLog(found.events), provided, [], context, warn,
                                                   cache=False)))  # replayed, never a kept report
    stored = json.loads(found.report)
    differences = _differences(stored, replayed)
    if not differences:
        say(f"verify: clean ({replayed['events']} events, {len(replayed['sections'])} sections match the bundle)")
        return 0
    for line in differences:
        say(Text(inert(line)))
    say(f"verify: {len(differences)} difference(s) between the bundle's report and this machine's")
    return 1


def _differences(stored: dict, replayed: dict) -> list[str]:
    lines = [f"{key}: bundle {stored.get(key)!r}, here {replayed.get(key)!r}"
             for key in ("now", "utc_offset", "window", "events") if stored.get(key) != replayed.get(key)]
    sections = stored.get("sections") if isinstance(stored.get("sections"), list) else []
    theirs = {str(section.get("name")): section for section in sections if isinstance(section, dict)}
    mine = {section["name"]: section for section in replayed["sections"]}
    for name in sorted(set(theirs) | set(mine)):
        if name not in mine:
            lines.append(f"section {name}: in the bundle, no such analyzer here")
        elif name not in theirs:
            lines.append(f"section {name}: only here (an analyzer the bundle's maker did not have)")
        else:
            lines += _block_differences(name, theirs[name], mine[name])
    return lines


def _block_differences(name: str, theirs: dict, mine: dict) -> list[str]:
    if theirs.get("error") != mine.get("error"):
        return [f"section {name}: error {theirs.get('error')!r} there, {mine.get('error')!r} here"]
    listed = theirs.get("blocks") if isinstance(theirs.get("blocks"), list) else []
    blocks = {block.get("id"): block for block in listed if isinstance(block, dict)}
    lines = []
    for block in mine.get("blocks", []):
        other = blocks.pop(block["id"], None)
        if other is None:
            lines.append(f"section {name}: block {block['id']} only here")
        elif other != block:
            changed = sorted(key for key in set(block) | set(other) if block.get(key) != other.get(key))
            lines.append(f"section {name}: block {block['id']} differs in {', '.join(changed)}")
    lines += [f"section {name}: block {block_id} only in the bundle" for block_id in blocks]
    return lines


def _timeline(found: Bundle, speed: float, step: bool, start: str | None, until: str | None) -> None:
    now = float(found.manifest["now"])
    since = parse_moment(start, now) if start else None
    end = parse_moment(until, now) if until else None
    origin = previous = None
    with _keys(step) as next_key:
        for moment, event in _decoded(found.events):
            if (since is not None and moment < since) or (end is not None and moment >= end):
                continue
            origin = moment if origin is None else origin
            if previous is not None and speed > 0:
                time.sleep(min(max(0.0, moment - previous) / speed, 5.0))  # long quiet stretches kept short
            if step and next_key() in ("q", ""):
                break
            previous = moment
            plain_write(inert(f"+{_elapsed(moment - origin)}  {event_line(event)}"))
            sys.stdout.flush()


def _decoded(lines: list[bytes]) -> Iterator[tuple[float, Event]]:
    """(time, event) of each line, decoded one at a time: decoded all at once, a bundle's events may take
    twenty times their bytes."""
    decoder = msgspec.json.Decoder(Event)
    for line in lines:
        try:
            event = decoder.decode(line)
            moment = parse_ts(event.ts)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, OverflowError):
            warn("a malformed event line in the bundle was skipped")
            continue
        yield moment, event


@contextmanager
def _keys(wanted: bool) -> Iterator[Callable[[], str]]:
    """A reader of one key at a time: on a terminal without waiting for Enter (cbreak, restored after);
    otherwise one line of stdin. "" at the end of the input."""
    if not wanted:
        yield lambda: " "
        return
    if not sys.stdin.isatty():
        yield lambda: sys.stdin.readline()[:1] or ""
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)  # keys typed ahead are kept (TCSAFLUSH would drop them)
        yield lambda: os.read(fd, 1).decode(errors="replace")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _elapsed(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
