"""The scanner's tunables, read from the repository's `.git/obs/config.toml` (section `[scan]`).

Only harmless settings live here: they shape how raw records are interpreted, never what is captured or
where it goes. Missing file or keys mean the defaults.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from pathlib import Path

from gitobs.repo import GitobsError
from gitobs.timespec import parse_duration

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class ScanSettings:
    undo_window: float = 30 * 60  # a reset off a commit younger than this undoes it (commit.undone)
    stage_burst_gap: float = 30.0  # index writes closer than this are one index.stage burst

    @classmethod
    def load(cls, config: Path) -> ScanSettings:
        try:
            table = tomllib.loads(config.read_text(encoding="utf-8")).get("scan", {})
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise GitobsError(f"{config}: {exc}") from None
        known = {f.name for f in fields(cls)}
        values = {}
        for key, raw in table.items():
            if key not in known:
                raise GitobsError(f"{config}: unknown key scan.{key} (known: {', '.join(sorted(known))})")
            values[key] = _seconds(config, key, raw)
        return cls(**values)


def _seconds(config: Path, key: str, raw: object) -> float:
    """A duration: a number of seconds, or a string like "30m"."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw >= 0:
        return float(raw)
    if isinstance(raw, str):
        try:
            return parse_duration(raw)
        except GitobsError:
            pass
    raise GitobsError(f"{config}: scan.{key} must be a duration like \"30m\" or a number of seconds")
