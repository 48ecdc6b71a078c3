"""`gitobs bundle`: one zip for a bug report, redacted by default.

Members (BUNDLE_MEMBERS, nothing else):
- `manifest.json`: format version, gitobs and plugin versions, creation time, the report's now and UTC
  offset, the time window and type globs, event counts by type, the redaction policy, and the sha256 of
  every other member;
- `events.jsonl.zst`: the events of the window, as the log holds them, names redacted (zstd, one frame);
- `report.json`: the JSON report every installed analyzer made of exactly those events;
- `config.json`: the effective settings and where each came from, export settings masked (and, redacted, the
  settings holding your own names: PERSONAL_SETTINGS);
- `environment.json`: git, Python, OS, gitobs, hook health, recent gitobs errors.
Redaction (gitobs/core/redact.py, a random salt per bundle, never stored): file paths keep their depth and
extension, branch, lane, remote and ref names become tokens equal wherever the name is, free text is
dropped. The report is made from the redacted events, so a maintainer's replay can match it exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import secrets
import subprocess
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import zstandard

from gitobs import __version__
from gitobs.capture.install import inspect
from gitobs.core import config
from gitobs.core.files import open_fresh
from gitobs.core.redact import Redactor
from gitobs.core.repo import GitobsError, Repo
from gitobs.log.memory import MemoryLog
from gitobs.log.read import EventFilter, read_events
from gitobs.replay import plugins
from gitobs.replay.analysis import Context, utc_text
from gitobs.replay.report import build_report, offset_text
from gitobs.replay.sections import encode_json

FORMAT = 1
EVENTS, REPORT, CONFIG, ENVIRONMENT, MANIFEST = (
    "events.jsonl.zst", "report.json", "config.json", "environment.json", "manifest.json")
BUNDLE_MEMBERS = (MANIFEST, EVENTS, REPORT, CONFIG, ENVIRONMENT)
REDACTED_NAMES = ["file paths (depth and extension kept)", "branch, lane and remote names", "ref names",
                  "linked worktree names",
                  "GitButler trailer values", "the hooks directory", "error messages (dropped)"]
Warn = Callable[[str], None]
PERSONAL_SETTINGS = frozenset({"import.identities"})  # your other author emails: shown only as (set) when redacted


@dataclass
class Contents:
    """A bundle's members, before they are zipped."""

    manifest: dict
    events: list[bytes]  # JSON lines
    report: bytes
    config: dict
    environment: dict

    def members(self) -> dict[str, bytes]:
        """The bytes of every member, the manifest last (it holds the others' checksums)."""
        data = {EVENTS: zstandard.ZstdCompressor(level=19).compress(b"".join(line + b"\n" for line in self.events)),
                REPORT: self.report, CONFIG: _json(self.config), ENVIRONMENT: _json(self.environment)}
        self.manifest["members"] = {name: hashlib.sha256(blob).hexdigest() for name, blob in data.items()}
        data[MANIFEST] = _json(self.manifest)
        return data


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode()


def collect(repo: Repo, context: Context, types: list[str], redact: bool, warn: Warn) -> Contents:
    event_filter = EventFilter(types=types, since=context.since, until=context.until)
    redactor = Redactor() if redact else None
    lines = []
    for event in read_events(repo.obs, warn):
        if event_filter.accepts(event):
            item = msgspec.to_builtins(event)
            lines.append(msgspec.json.encode(redactor.event(item) if redactor else item))
    provided = plugins.load()
    report = build_report(MemoryLog(lines), provided, [], context, warn)
    counts = Counter(msgspec.json.decode(line)["type"] for line in lines)
    manifest = {
        "format": FORMAT, "gitobs": __version__, "created": utc_text(time.time()),
        "plugins": {info.name: info.version for info in provided.plugins},
        "now": context.now, "utc_offset_s": context.utc_offset_s,
        "window": {"since": _moment(context.since), "until": _moment(context.until), "types": types},
        "events": len(lines), "counts": dict(sorted(counts.items())),
        "redaction": {"redacted": redact, "names": REDACTED_NAMES if redact else []},
    }
    return Contents(manifest, lines, encode_json(report), _settings(repo, redact), _environment(repo, redact, lines))


def _moment(seconds: float | None) -> str | None:
    return None if seconds is None else utc_text(seconds)


def _settings(repo: Repo, redact: bool) -> dict:
    found = config.load(repo.common_dir, repo.work_tree)
    shown = {}
    for name, value in found.values.items():
        secret = (name.startswith("export.") or (redact and name in PERSONAL_SETTINGS)) and value.value
        shown[name] = {"value": "(set)" if secret else value.value, "origin": value.origin}
    return shown


def _environment(repo: Repo, redact: bool, lines: list[bytes]) -> dict:
    hooks = [{"hook": status.name, "healthy": not status.problem,
              **({} if redact or not status.problem else {"problem": status.problem})}
             for status in inspect(repo.hooks_dir)]
    errors = [event for event in map(msgspec.json.decode, lines) if event.get("type") == "gitobs.error"]
    return {"gitobs": __version__, "python": platform.python_version(), "os": f"{platform.system()} "
            f"{platform.release()}", "machine": platform.machine(), "git": _git_version(), "hooks": hooks,
            "recent_errors": [{"ts": error.get("ts"), "where": (error.get("data") or {}).get("where")}
                              for error in errors[-10:]]}


def _git_version() -> str:
    try:
        done = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "not found"
    return done.stdout.strip()


def preview(contents: Contents) -> str:
    """Exactly what would be shared, member by member."""
    members = contents.members()
    parts = []
    for name in (MANIFEST, CONFIG, ENVIRONMENT, REPORT):
        parts.append(f"=== {name}\n{members[name].decode()}")
    parts.append(f"=== {EVENTS} ({len(contents.events)} events)\n"
                 + "".join(line.decode() + "\n" for line in contents.events))
    return "\n".join(parts)


def write(contents: Contents, path: Path) -> None:
    """The zip, written to a new file of a random name beside `path` and linked into place: never over an
    existing name, nor through a symlink a repository commits where the temporary file goes."""
    if os.path.lexists(path):
        raise GitobsError(f"{path} exists: name another file with -o")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in contents.members().items():
            method = zipfile.ZIP_STORED if name == EVENTS else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))  # no local time in the zip
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, blob)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        with open(open_fresh(temp), "wb") as handle:
            handle.write(buffer.getvalue())
        _link_new(temp, path)
    except FileExistsError:
        raise GitobsError(f"{path} exists: name another file with -o") from None
    except OSError as exc:
        raise GitobsError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def _link_new(temp: Path, path: Path) -> None:
    """`temp` under the name `path`, which must not exist (a link fails on any name there, a dangling symlink
    too); where the file system has no hard links, renamed after a last look."""
    try:
        os.link(temp, path, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(path) from None
        os.rename(temp, path)


def default_name() -> Path:
    return Path(f"gitobs-bundle-{time.strftime('%Y%m%d-%H%M%S')}.zip")


def describe(contents: Contents) -> str:
    manifest = contents.manifest
    redaction = "names redacted" if manifest["redaction"]["redacted"] else "NOT redacted (--no-redact)"
    return (f"{manifest['events']} events, {len(manifest['counts'])} types, {redaction}; report of "
            f"{len(json.loads(contents.report)['sections'])} sections, as of {utc_text(manifest['now'])} "
            f"(UTC{offset_text(manifest['utc_offset_s'])})")

