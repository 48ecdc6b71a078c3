"""Staging: index writes by commands that do nothing else (`add`, `rm`, `mv`, an index refresh).

Bursts of them become one `index.stage` with a count, emitted once the burst has been quiet for
`gap_ns`. Each write's time is also kept until the next commit of its worktree, which takes the
earliest as the start of its stage-to-commit latency (`staged_s` on commit.created).
"""

from __future__ import annotations

from gitobs import schema
from gitobs.processes import GitProcess, key
from gitobs.scanstate import ScanState, StageBurst
from gitobs.schema import Emit
from gitobs.spool import SpoolRecord

MAX_STAGE_TIMES = 256  # per worktree between two commits; the earliest ones are the ones that matter


class Staging:
    def __init__(self, state: ScanState, emit: Emit, gap_s: float) -> None:
        self.state = state
        self.emit = emit
        self.gap_ns = int(gap_s * 1e9)

    def feed(self, records: list[SpoolRecord], processes: dict[tuple[str, int], GitProcess]) -> None:
        for record in records:
            if record.hook == "post-index-change" and processes[key(record)].only_wrote_index():
                self._staged(record)

    def _staged(self, record: SpoolRecord) -> None:
        times = self.state.stage_times.setdefault(record.wt, [])
        if len(times) < MAX_STAGE_TIMES:
            times.append(record.ts_ns)
        burst = self.state.staging.get(record.wt)
        if burst is not None and record.ts_ns - burst.last_ns > self.gap_ns:
            self._close(record.wt, burst)
            burst = None
        if burst is None:
            self.state.staging[record.wt] = StageBurst(start_ns=record.ts_ns, last_ns=record.ts_ns,
                                                       branch=record.branch, provenance=f"stage:{record.name}:{record.ts_ns}")
        else:
            burst.last_ns = max(burst.last_ns, record.ts_ns)
            burst.count += 1

    def close_quiet(self, now_ns: int) -> None:
        """Bursts with no write for a whole gap are over."""
        for wt, burst in list(self.state.staging.items()):
            if now_ns - burst.last_ns > self.gap_ns:
                self._close(wt, burst)

    def committed(self, wt: str, commit_ns: int) -> float | None:
        """A commit of `wt` ends its staging burst; the seconds from the first staging since the previous
        commit to this one (this commit takes every staging moment up to it)."""
        burst = self.state.staging.get(wt)
        if burst is not None and burst.last_ns <= commit_ns:
            self._close(wt, burst)
        times = self.state.stage_times.pop(wt, [])
        before = [t for t in times if t <= commit_ns]
        after = [t for t in times if t > commit_ns]
        if after:
            self.state.stage_times[wt] = after
        return round((commit_ns - min(before)) / 1e9, 3) if before else None

    def _close(self, wt: str, burst: StageBurst) -> None:
        del self.state.staging[wt]
        self.emit("index.stage", schema.IndexStage(
            count=burst.count, seconds=round((burst.last_ns - burst.start_ns) / 1e9, 3), branch=burst.branch),
            ts_ns=burst.start_ns, src="hook", wt=wt, provenance=burst.provenance)
