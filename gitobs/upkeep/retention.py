"""Retention: `gitobs gc` rolls the raw events of whole UTC days older than retention.max_age up into one
`rollup.day` event per day, then keeps the log under retention.max_bytes, oldest first. A scan runs it
when the log is over that budget.

A rollup keeps what long windows need: the heatmap's per-file and per-directory counts (exact at any
depth) and its events by hour, hesitation's distributions (QuantileSketch, within its relative error) and
counts, and the day's events by type. Everything else of those days is gone: the other sections see raw
events only, and a report says how many days came from rollups.

The size cap drops the oldest lines (rollups before raw events, as they are older), as many as the bytes
per line of the rewritten log say, rewriting again until it fits. The rewrite is atomic: the new log is
written to `log.gc/`, the old one renamed to `log.old/`, the new one renamed into place, the old one
deleted; `recover` (at the start of every scan and gc) finishes one that a crash interrupted. Order and
seq are kept: a rollup takes the seq of the last raw event it replaces. A damaged log is not rewritten (the
rewrite would drop the damaged frames, unkept): gc refuses, and a scan leaves retention until a repair.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from gitobs.capture.state import load_state, save_state
from gitobs.core.config import load as load_config
from gitobs.core.config import main_work_tree
from gitobs.core.lock import exclusive
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.export.prometheus import metrics
from gitobs.log import schema
from gitobs.log.eventlog import Corruption, EventLog
from gitobs.log.schema import HESITATION_COUNTS as HESITATION
from gitobs.log.schema import ROLLUP
from gitobs.replay.stats import QuantileSketch

DAY_S = 86400
HEAT = {"commit.created": 0, "edit.discarded": 1, "worktree.sample": 2}  # kind: its place in `heat`
COUNTERS = {0: (0, 1), 1: (2, 3), 2: (4, None)}  # kind -> (events, lines) among the five file counts
_decoder = msgspec.json.Decoder(schema.Event)


class DamagedLog(GitobsError):
    """The log holds damage: it is left as it is for `gitobs doctor --repair`, not rewritten."""


@dataclass
class Collected:
    bytes_before: int
    bytes_after: int
    days_rolled: int
    events_rolled: int
    dropped: int  # lines (raw events or rollups) dropped, oldest first, for the size cap


class _Day:
    def __init__(self, day: str) -> None:
        self.payload = schema.RollupDay(day=day, heat=[0, 0, 0], hours=[0] * 24,
                                        by_hour=[[0] * len(HESITATION) for _ in range(24)])
        self.files: dict[str, list[int]] = {}
        self.dirs: dict[str, list[int]] = {}  # prefix -> five "at or under" counts, five "directly in"
        self.branches: dict[str | None, list[int]] = {}
        self.edit, self.staged = QuantileSketch(), QuantileSketch()
        self.seq = 0

    def add(self, event: schema.Event, moment: float) -> None:
        payload, data = self.payload, event.data if isinstance(event.data, dict) else {}
        payload.events += 1
        payload.counts[event.type] = payload.counts.get(event.type, 0) + 1
        self.seq = max(self.seq, event.seq)
        hour = int(moment % DAY_S // 3600)
        kind = HEAT.get(event.type)
        if kind is not None:
            self._heat(kind, data.get("files") if isinstance(data.get("files"), list) else [], hour)
        if event.type == "commit.message_edit" and isinstance(data.get("seconds"), (int, float)):
            self.edit.add(float(data["seconds"]))
        elif event.type in HESITATION:
            self._hesitation(event.type, data, hour)

    def _heat(self, kind: int, files: list, hour: int) -> None:
        """As the heatmap counts: a file per entry, a directory once per event, lines per file."""
        if not files and kind == 2:
            return  # a clean tree's sample is no activity
        self.payload.heat[kind] += 1
        self.payload.hours[hour] += 1
        events, lines = COUNTERS[kind]
        under: set[str] = set()
        directly: set[str] = set()
        for item in files:
            if not (isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str)):
                continue
            path, changed = item[0], int(item[1] or 0) + int(item[2] or 0)
            row = self.files.setdefault(path, [0] * 5)
            row[events] += 1
            parts = path.split("/")[:-1]
            prefixes = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
            own = "/".join(parts) or "."
            under.update(prefixes)
            directly.add(own)
            if lines is not None:
                row[lines] += changed
                for prefix in prefixes:
                    self._dir(prefix)[lines] += changed
                self._dir(own)[5 + lines] += changed
        for prefix in under:
            self._dir(prefix)[events] += 1
        for own in directly:
            self._dir(own)[5 + events] += 1

    def _dir(self, prefix: str) -> list[int]:
        found = self.dirs.get(prefix)
        if found is None:
            found = self.dirs[prefix] = [0] * 10
        return found

    def _hesitation(self, kind: str, data: dict, hour: int) -> None:
        column = HESITATION.index(kind)
        self.branches.setdefault(data.get("branch"), [0] * len(HESITATION))[column] += 1
        self.payload.by_hour[hour][column] += 1
        if kind == "commit.created" and isinstance(data.get("staged_s"), (int, float)):
            self.staged.add(float(data["staged_s"]))
        elif kind == "commit.aborted":
            stage = str(data.get("stage", "unknown"))
            self.payload.aborted_by_stage[stage] = self.payload.aborted_by_stage.get(stage, 0) + 1
        elif kind == "commit.blocked":
            hook = str(data.get("hook", ""))
            self.payload.blocked_by_hook[hook] = self.payload.blocked_by_hook.get(hook, 0) + 1

    def line(self) -> bytes:
        payload = self.payload
        payload.files = [(path, *row) for path, row in sorted(self.files.items())]
        payload.dirs = [(prefix, *row) for prefix, row in sorted(self.dirs.items())]
        payload.by_branch = [schema.BranchCounts(branch, counts) for branch, counts in
                             sorted(self.branches.items(), key=lambda item: (item[0] is None, item[0] or ""))]
        payload.message_edit, payload.staged = kept(self.edit), kept(self.staged)
        event = schema.make_event(ROLLUP, payload, ts_ns=schema.day_start(payload.day) * 10**9, src="gitobs", wt=".",
                                  provenance=f"rollup:{payload.day}")
        event.seq = self.seq
        return schema.encode(event)


def kept(sketch: QuantileSketch) -> schema.Sketch:
    return schema.Sketch(bins=dict(sketch.bins), zeros=sketch.zeros, count=sketch.count, max=sketch.max)


def roll_up(lines: Iterable[bytes], cutoff_s: float) -> tuple[list[bytes], int, int]:
    """The lines with the raw events of whole UTC days before `cutoff_s`'s day replaced by their rollups,
    in seq order; and how many days and events were rolled up."""
    kept_lines: list[tuple[int, bytes]] = []
    days: dict[str, _Day] = {}
    first_kept_day = int(cutoff_s // DAY_S) * DAY_S
    rolled = 0
    for line in lines:
        try:
            event = _decoder.decode(line)
            moment = schema.parse_ts(event.ts)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            kept_lines.append((0, line))  # not ours to judge; `gitobs doctor` reports it
            continue
        if event.type == ROLLUP or moment >= first_kept_day:
            kept_lines.append((event.seq, line))
            continue
        day = time.strftime("%Y-%m-%d", time.gmtime(moment))
        days.setdefault(day, _Day(day)).add(event, moment)
        rolled += 1
    kept_lines += [(day.seq, day.line()) for day in days.values()]
    kept_lines.sort(key=lambda item: item[0])
    return [line for _, line in kept_lines], len(days), rolled


def recover(obs: ObsPaths) -> None:
    """Finish a rewrite a crash interrupted: the new log in place, the old one gone."""
    fresh, old = obs.root / "log.gc", obs.root / "log.old"
    if not obs.log.is_dir():
        for candidate in (fresh, old):  # the new log was complete before the old one was moved away
            if candidate.is_dir():
                os.replace(candidate, obs.log)
                break
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(fresh, ignore_errors=True)


def collect(obs: ObsPaths, now_s: float | None = None, wait_s: float = 30.0) -> Collected:
    settings = load_config(obs.common_dir, main_work_tree(obs.common_dir))
    max_age, max_bytes = settings["retention.max_age"], settings["retention.max_bytes"]
    now_s = time.time() if now_s is None else now_s
    with exclusive(obs.lock, wait_s) as held:
        if not held:
            raise GitobsError("a scan is running and kept the lock; try again in a moment")
        return collect_locked(obs, now_s, max_age, max_bytes)


def collect_locked(obs: ObsPaths, now_s: float, max_age: float, max_bytes: int) -> Collected:
    recover(obs)
    metrics.catch_up(obs)  # what is rolled up or dropped is counted first: Prometheus counters never drop
    log = EventLog(obs.log)
    before = log.size_bytes()
    damage: list[Corruption] = []
    lines, days, rolled = roll_up(log.iter_lines(damage.append), now_s - max_age)
    if damage:  # a rewrite would drop the damaged frames unkept, lines repair could salvage with them
        raise DamagedLog(f"the log is damaged ({damage[0].describe()}); run gitobs doctor --repair, then gc")
    after, dropped = before, 0
    if rolled:
        after = _swap(obs, lines)
    while after > max_bytes and lines:  # the oldest first: as many as the bytes per line say, and a little more
        per_line = after / len(lines)
        cut = min(len(lines), max(1, math.ceil((after - 0.95 * max_bytes) / per_line)))
        lines, dropped = lines[cut:], dropped + cut
        after = _swap(obs, lines)
    state = load_state(obs.state)
    state.log_end = EventLog(obs.log).end_mark()
    save_state(obs.state, state)
    # The report cache's states (gitobs/replay/cache.py) go too: they would not match a rewritten log anyway.
    shutil.rmtree(obs.root / "replay-cache", ignore_errors=True)
    return Collected(before, after, days, rolled, dropped)


def _swap(obs: ObsPaths, lines: list[bytes]) -> int:
    fresh, old = obs.root / "log.gc", obs.root / "log.old"
    shutil.rmtree(fresh, ignore_errors=True)
    log = EventLog(fresh)
    for start in range(0, len(lines), 8192):  # sealed as they fill, as the scanner's appends are
        log.append(lines[start:start + 8192])
    fresh.mkdir(parents=True, exist_ok=True)
    os.replace(obs.log, old)
    os.replace(fresh, obs.log)
    shutil.rmtree(old, ignore_errors=True)
    return EventLog(obs.log).size_bytes()


def over_budget(obs: ObsPaths, max_bytes: int) -> bool:
    """Whether a scan should collect: the log is over its cap (a stat per segment)."""
    return EventLog(obs.log).size_bytes() > max_bytes
