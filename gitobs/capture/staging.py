"""Staging: index writes by commands that do nothing else (`add`, `rm`, `mv`, an index refresh).

Writes are kept per worktree until a commit or a quiet gap ends their burst; a burst becomes one
`index.stage` with its count. Commits and writes are read in separate passes of a scan, so bursts are
cut only when both are known: at a commit (the writes up to it) and at the end of the scan (bursts
quiet for a whole gap). The first write since a worktree's previous commit starts the stage-to-commit
latency of its next commit (`staged_s` on commit.created).
"""

from __future__ import annotations

from gitobs.capture.processes import GitProcess, key
from gitobs.capture.spool import SpoolRecord
from gitobs.capture.state import ScanState, StageWrite
from gitobs.log import schema
from gitobs.log.schema import Emit

MAX_WRITES = 256  # kept per worktree; later writes are counted into the last one


class Staging:
    def __init__(self, state: ScanState, emit: Emit, gap_s: float) -> None:
        self.state = state
        self.emit = emit
        self.gap_ns = int(gap_s * 1e9)

    def feed(self, records: list[SpoolRecord], processes: dict[tuple[str, int], GitProcess]) -> None:
        for record in records:
            if record.hook == "post-index-change" and processes[key(record)].only_wrote_index():
                self._add(record)

    def _add(self, record: SpoolRecord) -> None:
        writes = self.state.stage_writes.setdefault(record.wt, [])
        if len(writes) < MAX_WRITES:
            writes.append(StageWrite(ts_ns=record.ts_ns, last_ns=record.ts_ns, branch=record.branch,
                                     provenance=f"stage:{record.name}:{record.ts_ns}"))
        else:
            writes[-1].count += 1
            writes[-1].last_ns = max(writes[-1].last_ns, record.ts_ns)

    def committed(self, wt: str, commit_ns: int) -> float | None:
        """A commit of `wt` ends the bursts before it. Returns its stage-to-commit latency in seconds."""
        writes = self.state.stage_writes.pop(wt, [])
        before = [w for w in writes if w.ts_ns <= commit_ns]
        after = [w for w in writes if w.ts_ns > commit_ns]
        if after:
            self.state.stage_writes[wt] = after
        for burst in self._bursts(before):
            self._emit(wt, burst)
        starts = [w.ts_ns for w in before[:1]]
        first = self.state.first_staged.pop(wt, None)
        if first is not None and first <= commit_ns:
            starts.append(first)
        return round((commit_ns - min(starts)) / 1e9, 3) if starts else None

    def close_quiet(self, now_ns: int) -> None:
        """Bursts with no write for a whole gap are over; the newest may still grow."""
        for wt, writes in list(self.state.stage_writes.items()):
            bursts = self._bursts(writes)
            if now_ns - bursts[-1][-1].last_ns <= self.gap_ns:
                self.state.stage_writes[wt] = bursts.pop()
            else:
                del self.state.stage_writes[wt]
            if bursts:
                self.state.first_staged.setdefault(wt, bursts[0][0].ts_ns)
            for burst in bursts:
                self._emit(wt, burst)

    def _bursts(self, writes: list[StageWrite]) -> list[list[StageWrite]]:
        bursts: list[list[StageWrite]] = []
        for write in writes:
            if bursts and write.ts_ns - bursts[-1][-1].last_ns <= self.gap_ns:
                bursts[-1].append(write)
            else:
                bursts.append([write])
        return bursts

    def _emit(self, wt: str, burst: list[StageWrite]) -> None:
        first = burst[0]
        self.emit("index.stage", schema.IndexStage(
            count=sum(w.count for w in burst), seconds=round((burst[-1].last_ns - first.ts_ns) / 1e9, 3),
            branch=first.branch), ts_ns=first.ts_ns, src="hook", wt=wt, provenance=first.provenance)
