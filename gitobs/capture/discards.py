"""Uncommitted edits thrown away: `checkout -- f` / `restore f`, `reset --hard` on a dirty tree, and
changes that simply vanished between two working-tree samples.

The hooks say when and how, but not which files: post-checkout gets no paths. The working-tree sample
taken at the end of the same scan says which files went clean since the previous sample without being
committed; those files (with the lines they had) go to the last hook-seen discard of that worktree. A
`reset --hard` is only reported when the samples show it lost something: run on a clean tree it
discards nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitobs.capture.hook_events import provenance
from gitobs.capture.processes import GitProcess, key
from gitobs.capture.spool import SpoolRecord
from gitobs.log import schema
from gitobs.log.schema import Emit, FileChange


@dataclass
class Candidate:
    how: str  # checkout | reset-hard
    ts_ns: int
    branch: str | None
    provenance: str


class Discards:
    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.candidates: dict[str, list[Candidate]] = {}  # worktree -> hook-seen discards, oldest first

    def feed(self, records: list[SpoolRecord], processes: dict[tuple[str, int], GitProcess]) -> None:
        resets_seen: set[tuple[str, int]] = set()
        for record in records:
            if record.hook == "post-checkout" and record.args[2:3] == ["0"]:
                self._add(record, "checkout")
            elif record.hook == "post-index-change" and processes[key(record)].reset_hard():
                if key(record) not in resets_seen:
                    resets_seen.add(key(record))
                    self._add(record, "reset-hard")

    def _add(self, record: SpoolRecord, how: str) -> None:
        self.candidates.setdefault(record.wt, []).append(
            Candidate(how, record.ts_ns, record.branch, provenance(record)))

    def settle(self, wt: str, lost: list[FileChange], sample_ns: int, sample_provenance: str,
               branch: str | None) -> None:
        """Report the hook-seen discards of `wt`, given what its sample found lost since the previous one."""
        candidates = self.candidates.pop(wt, [])
        if not candidates:
            if lost:
                self._emit(wt, schema.EditDiscarded(how="sample", branch=branch, files=lost), sample_ns,
                           "worktree", sample_provenance)
            return
        for candidate in candidates[:-1]:
            if candidate.how == "checkout":
                self._emit(wt, schema.EditDiscarded(how="checkout", branch=candidate.branch), candidate.ts_ns,
                           "hook", candidate.provenance)
        last = candidates[-1]
        if last.how == "checkout" or lost:
            self._emit(wt, schema.EditDiscarded(how=last.how, branch=last.branch, files=lost), last.ts_ns, "hook",
                       last.provenance)

    def settle_rest(self) -> None:
        """Worktrees that were not sampled (bare, gone): the file checkouts without their files."""
        for wt in list(self.candidates):
            self.settle(wt, [], 0, "", None)

    def _emit(self, wt: str, payload: schema.EditDiscarded, ts_ns: int, src: str, origin: str) -> None:
        self.emit("edit.discarded", payload, ts_ns=ts_ns, src=src, wt=wt, provenance=origin)
