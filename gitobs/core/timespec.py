"""`--since 2h`, `--until 2026-11-20`: durations before now, or dates and times (UTC unless an offset is given)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from gitobs.core.repo import GitobsError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
# A century: more than any window or interval needs, and far from where times overflow (datetime's year
# 9999, C timeouts' 292 years); a longer one is a typo or a hostile file (400 nines and a "d" are infinity).
MAX_DURATION_S = 100 * 365 * 86400


def parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise GitobsError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 7d, 2w)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION_S:
        raise GitobsError(f"too long a duration: {text[:40]!r} (at most 100 years)")
    return seconds


def parse_moment(text: str, now: float) -> float:
    """Seconds since the epoch for a duration ago or an ISO date/time."""
    if _DURATION.match(text.strip().lower()):
        return now - parse_duration(text)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise GitobsError(f"not a time: {text!r} (use a duration like 2h or 7d, or a date like 2026-11-20)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:  # 9999-12-31 at -14:00 is in year 10000 in UTC, where no date goes (nor the log's times)
        moment.astimezone(timezone.utc)
    except OverflowError:
        raise GitobsError(f"not a time: {text!r} (out of the range of dates)") from None
    return moment.timestamp()
