"""Scanning many repositories: each one on its own (a failure is reported and the others go on), and the
record of the last `scan --all` (`<data home>/last-run.json`), which `gitobs status` shows for the
scheduled scan."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gitobs.capture.ingest import ScanResult
from gitobs.capture.spool import write_note
from gitobs.core.files import write_atomic
from gitobs.core.registry import Entry, data_home
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.export.otlp.after_scan import after_scan
from gitobs.export.prometheus import repositories
from gitobs.upkeep.scan import scan

LAST_RUN = "last-run.json"


@dataclass
class Outcome:
    label: str  # the repository, as the user knows it
    result: ScanResult | None = None
    error: str | None = None


def scan_one(obs: ObsPaths, label: str, scanner: Callable[[Path], ScanResult] = scan) -> Outcome:
    """Scan one repository; whatever goes wrong there is returned (and kept in its log when possible)."""
    try:
        outcome = Outcome(label, result=scanner(obs.common_dir))
        after_scan(obs.common_dir)
        return outcome
    except GitobsError as exc:
        error = str(exc)
    except OSError as exc:
        error = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    except Exception as exc:  # noqa: BLE001 - one repository's trouble never stops the others
        error = f"{type(exc).__name__}: {exc}"
    if obs.is_enabled():
        try:
            write_note(obs.spool, "gitobs-error", ["scan --all", error])
        except OSError:
            pass
    return Outcome(label, error=error)


def scan_entries(entries: list[Entry]) -> list[Outcome]:
    outcomes = []
    for entry in entries:
        problem = entry.problem()
        outcomes.append(Outcome(entry.label, error=problem) if problem else scan_one(entry.obs, entry.label,
                                                                                     _scan_for_all))
    repositories.after_scan([entry.obs for entry, outcome in zip(entries, outcomes) if outcome.result])
    return outcomes


def _scan_for_all(common_dir: Path) -> ScanResult:
    return scan(common_dir, export=False)  # the Prometheus textfile is rewritten once, for all of them


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
