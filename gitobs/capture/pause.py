"""`gitobs pause [--for DURATION]` and `gitobs resume`: `.git/obs/paused` exists while recording is paused.

The shim's only test is that the file exists (no clock on the hot path), so an expired pause is ended by
the next scan (any command, `gitobs watch` or the scheduled scan): it drops what the reflogs and GitButler
recorded up to the pause's end, removes the file and records `gitobs.resumed`. The file holds when the
pause began and, with --for, when it ends, as `since <ns>` and `until <ns>` lines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gitobs.capture.spool import write_note
from gitobs.core.files import write_atomic

PAUSE_FILE = "paused"


@dataclass(frozen=True)
class Pause:
    since_ns: int
    until_ns: int | None  # None: until `gitobs resume`

    def active(self, now_s: float) -> bool:
        return self.until_ns is None or now_s * 1e9 < self.until_ns

    def covers(self, ts_ns: int) -> bool:
        return ts_ns >= self.since_ns and (self.until_ns is None or ts_ns <= self.until_ns)


def read_pause(obs_root: Path) -> Pause | None:
    """The pause recorded in `obs_root`, active or expired; None when recording is not paused. A file
    written by hand (or by an older gitobs) with no times pauses from the epoch, until resumed."""
    try:
        text = (obs_root / PAUSE_FILE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return Pause(0, None)
    fields = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
    return Pause(_number(fields.get("since")) or 0, _number(fields.get("until")))


def _number(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def pause(obs_root: Path, now_ns: int, for_s: float | None) -> Pause:
    """Pause from now (again, with a new end, if already paused)."""
    existing = read_pause(obs_root)
    since = existing.since_ns if existing is not None and existing.active(now_ns / 1e9) else now_ns
    until = None if for_s is None else now_ns + int(for_s * 1e9)
    lines = [f"since {since}"] + ([f"until {until}"] if until is not None else [])
    write_atomic(obs_root / PAUSE_FILE, ("\n".join(lines) + "\n").encode())
    write_note(obs_root / "spool", "gitobs-pause", [str(until) if until is not None else ""])
    return Pause(since, until)


def end_pause(obs_root: Path) -> bool:
    """Remove the pause file; False when recording was not paused."""
    try:
        os.unlink(obs_root / PAUSE_FILE)
    except FileNotFoundError:
        return False
    return True
