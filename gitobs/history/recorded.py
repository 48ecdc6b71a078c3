"""What the log already holds, as far as `gitobs import` must know, read in one pass.

- Commits: the shas of every `commit.created` (whatever its src), and of the commits the scanner reported
  otherwise (an amend's new commit, a cherry-pick): history never adds a second event for them.
- Reflog-derived events, by what they are about (the shas or names of the move) and their second: the
  same reflog line read again gives the same event, but not always the same id, since ids hold the line's
  offset and `git reflog expire` moves lines. A match within a couple of seconds counts (a hook's exact
  time and the reflog's second may fall on either side of a second boundary); each recorded event
  matches once.
- Time not to fill in: the intervals recording was paused (from `gitobs.resumed`), and the days already
  rolled up (`rollup.day`), whose raw events are gone on purpose.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timezone
from typing import Any

import msgspec

from gitobs.log import schema
from gitobs.log.eventlog import EventLog

# An event type -> the payload fields that say which move it is about.
IDENTITY: dict[str, tuple[str, ...]] = {
    "branch.switch": ("from_sha", "to_sha"),
    "branch.created": ("branch", "sha"),
    "branch.renamed": ("from", "to"),
    "history.reset": ("from_sha", "to_sha"),
    "history.rebase": ("from_sha", "to_sha", "outcome"),
    "history.merge": ("sha", "merged"),
    "history.pull": ("from_sha", "to_sha"),
    "history.cherry_pick": ("sha",),
    "ref.update": ("ref", "from_sha", "to_sha"),
    "commit.amended": ("old", "new"),
    "commit.undone": ("sha", "to_sha"),
    "commit.abandoned": ("by", "branch"),
    "commit.reverted": ("sha", "reverted"),
    "stash.push": ("sha",),
}
COMMIT_SHA = {"commit.created": "sha", "commit.amended": "new", "history.cherry_pick": "sha"}
SLACK_S = 2
_READ = set(IDENTITY) | set(COMMIT_SHA) | {"gitobs.resumed", schema.ROLLUP}


class _Line(msgspec.Struct):
    ts: str
    type: str
    data: msgspec.Raw


_lines = msgspec.json.Decoder(_Line)
_data = msgspec.json.Decoder(dict[str, Any])


def identity(event_type: str, data: dict[str, Any]) -> tuple | None:
    """What an event is about, whichever worktree name or id it was given."""
    fields = IDENTITY.get(event_type)
    if fields is None:
        return None
    return (event_type, *(_hashable(data.get(name)) for name in fields))


def _hashable(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else repr(value)


def utc_day(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=timezone.utc).strftime("%Y-%m-%d")


class Recorded:
    def __init__(self) -> None:
        self.commits: set[str] = set()
        self.moments: dict[tuple, list[int]] = {}  # identity -> seconds of the recorded events
        self.paused: list[tuple[float, float]] = []
        self.rolled_days: set[str] = set()

    @classmethod
    def read(cls, log: EventLog) -> Recorded:
        recorded = cls()
        for content in log.iter_contents():
            for line in _decode(content):
                if line.type in _READ:
                    recorded._add(line)
        for seconds in recorded.moments.values():
            seconds.sort()
        return recorded

    def _add(self, line: _Line) -> None:
        """A damaged line still names its commit when it can; one without a valid time has no moment."""
        try:
            data = _data.decode(line.data)
        except msgspec.DecodeError:
            return
        self.add(line.type, data)
        try:
            moment = schema.parse_ts(line.ts)
        except ValueError:
            return
        if line.type == "gitobs.resumed" and isinstance(data.get("paused_s"), (int, float)):
            self.paused.append((moment - data["paused_s"], moment))
        elif line.type == schema.ROLLUP and isinstance(data.get("day"), str):
            self.rolled_days.add(data["day"])
        key = identity(line.type, data)
        if key is not None:
            self.moments.setdefault(key, []).append(int(moment))

    def add(self, event_type: str, data: dict[str, Any]) -> None:
        """An event written now: later ones about the same commit are recorded already."""
        if event_type in COMMIT_SHA and isinstance(data.get(COMMIT_SHA[event_type]), str):
            self.commits.add(data[COMMIT_SHA[event_type]])

    def excluded(self, ts_s: float) -> bool:
        """Time recording was paused, or a day whose raw events were rolled up."""
        if self.rolled_days and utc_day(ts_s) in self.rolled_days:
            return True
        return bool(self.paused) and any(start <= ts_s <= end for start, end in self.paused)

    def claim(self, event_type: str, data: dict[str, Any], ts_s: float) -> bool:
        """Is this event recorded already? A recorded event answers yes once."""
        key = identity(event_type, data)
        seconds = self.moments.get(key) if key is not None else None
        if not seconds:
            return False
        at = bisect.bisect_left(seconds, int(ts_s) - SLACK_S)
        if at < len(seconds) and seconds[at] <= int(ts_s) + SLACK_S:
            del seconds[at]
            return True
        return False


def _decode(content: bytes) -> list[_Line]:
    try:
        return _lines.decode_lines(content)
    except (msgspec.DecodeError, msgspec.ValidationError):  # one bad line: the others, one by one
        found = []
        for raw in content.split(b"\n"):
            try:
                found.append(_lines.decode(raw))
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
        return found
