"""Uncommitted edits thrown away: `checkout -- f` / `restore f`, `reset --hard` on a dirty tree, and
changes that simply vanished between two working-tree samples.

The hooks (and git's trace2, when on: see from_trace2) say when and how, but not which files: post-checkout gets no paths. The working-tree sample
taken at the end of the same scan says which files went clean since the previous sample without being
committed; those files (with the lines they had) go to the last hook-seen discard of that worktree. A
`reset --hard` is only reported when the samples show it lost something: run on a clean tree it
discards nothing. Without post-index-change and reference-transaction (the lean hook set), a reset is
seen in HEAD's reflog instead (`reset: moving to`), at the line's time: the sample tells a `--hard` that
lost files from a `--soft` or `--mixed`, which lose none.
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
    src: str = "hook"  # reflog: a reset line (whole seconds); trace2: a file discard git's trace2 saw
    pid: int = 0  # the git process (a hook record's parent), to know trace2's view of it


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

    def reset_line(self, wt: str, ts_ns: int, branch: str | None, origin: str) -> None:
        """A reset in HEAD's reflog (lean hook set): a `reset-hard` candidate, reported only if files were lost."""
        self.candidates.setdefault(wt, []).append(Candidate("reset-hard", ts_ns, branch, f"{origin}:discard",
                                                               "reflog"))

    def from_trace2(self, wt: str, discarded: schema.EditDiscarded, ts_ns: int, origin: str, pid: int) -> None:
        """A discard in git's trace2 (gitobs trace2 enable). What the hooks and reflogs saw wins, so that a
        discard counts once and the events are those of the hooks alone: a `reset --hard` is always in
        HEAD's reflog (or post-index-change's record), and a `checkout -- f` that post-checkout recorded
        (the same git process) is the hook's (`restore` runs post-checkout too). A discard no gitobs hook saw
        (hooks bypassed with core.hooksPath) gets trace2's exact time, where hooks alone leave it to the
        sample (`how` sample). Either way the sample gives the files and lines."""
        if discarded.how != "checkout":
            return
        known = self.candidates.setdefault(wt, [])
        if pid and any(candidate.src == "hook" and candidate.pid == pid for candidate in known):
            return
        known.append(Candidate("checkout", ts_ns, discarded.branch, origin, "trace2", pid))

    def _add(self, record: SpoolRecord, how: str) -> None:
        self.candidates.setdefault(record.wt, []).append(
            Candidate(how, record.ts_ns, record.branch, provenance(record), pid=record.ppid))

    def settle(self, wt: str, lost: list[FileChange], sample_ns: int, sample_provenance: str,
               branch: str | None) -> None:
        """Report the hook-seen discards of `wt`, given what its sample found lost since the previous one."""
        candidates = sorted(self.candidates.pop(wt, []), key=lambda candidate: candidate.ts_ns)
        if not candidates:
            if lost:
                self._emit(wt, schema.EditDiscarded(how="sample", branch=branch, files=lost), sample_ns,
                           "worktree", sample_provenance)
            return
        for candidate in candidates[:-1]:
            if candidate.how == "checkout":
                self._emit(wt, schema.EditDiscarded(how="checkout", branch=candidate.branch), candidate.ts_ns,
                           candidate.src, candidate.provenance)
        last = candidates[-1]
        if last.how == "checkout" or lost:
            self._emit(wt, schema.EditDiscarded(how=last.how, branch=last.branch, files=lost), last.ts_ns, last.src,
                       last.provenance)

    def settle_rest(self) -> None:
        """Worktrees that were not sampled (bare, gone): the file checkouts without their files."""
        for wt in list(self.candidates):
            self.settle(wt, [], 0, "", None)

    def _emit(self, wt: str, payload: schema.EditDiscarded, ts_ns: int, src: str, origin: str) -> None:
        self.emit("edit.discarded", payload, ts_ns=ts_ns, src=src, wt=wt, provenance=origin)
