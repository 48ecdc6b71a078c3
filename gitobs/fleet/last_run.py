"""The record of the last `scan --all` (`<data home>/last-run.json`), which `gitobs status` and `gitobs
schedule status` show for the scheduled scan. Apart from the scanning (gitobs/fleet/scan_all.py), so that
showing it loads no scanner."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gitobs.core.files import write_atomic
from gitobs.core.homes import data_home

if TYPE_CHECKING:
    from gitobs.fleet.scan_all import Outcome

LAST_RUN = "last-run.json"


@dataclass
class LastRun:
    started: str  # UTC, ISO 8601
    seconds: float
    repos: int
    failed: list[str] = field(default_factory=list)  # "label: error"

    @property
    def ok(self) -> bool:
        return not self.failed


def record_run(started: float, outcomes: list[Outcome], directory: Path | None = None) -> LastRun:
    run = LastRun(started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                  seconds=round(time.time() - started, 3), repos=len(outcomes),
                  failed=[f"{o.label}: {o.error}" for o in outcomes if o.error is not None])
    home = directory or data_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
        write_atomic(home / LAST_RUN, (json.dumps(asdict(run), indent=1) + "\n").encode())
    except OSError:
        pass  # the record is a convenience for `gitobs status`; the scans themselves are done
    return run


def last_run(directory: Path | None = None) -> LastRun | None:
    try:
        data = json.loads(((directory or data_home()) / LAST_RUN).read_bytes())
        return LastRun(started=str(data["started"]), seconds=float(data["seconds"]), repos=int(data["repos"]),
                       failed=[str(item) for item in data.get("failed", [])])
    except (OSError, ValueError, KeyError, TypeError):
        return None
