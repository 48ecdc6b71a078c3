"""Stash pushes, pops and drops.

The hooks see every update of refs/stash (reference-transaction) with its time, and whether the same git
process rewrote the work tree (post-index-change "1": a pop applies the stash, a drop does not). The stash
reflog is the fallback for what the hooks missed; it is rewritten by pop and drop and vanishes with the
last entry, so it is compared whole with the list of entries known so far.
"""

from __future__ import annotations

import re

from gitobs.capture.hook_events import provenance
from gitobs.capture.reflog import ReflogEntry
from gitobs.capture.spool import SpoolRecord
from gitobs.capture.state import ScanState
from gitobs.core.repo import MAIN_WORKTREE, is_null_sha
from gitobs.log import schema
from gitobs.log.schema import Emit

STASH_REF = "refs/stash"
_STASH_BRANCH = re.compile(r"^(?:WIP on|On) (.+?): ")


class StashEvents:
    def __init__(self, state: ScanState, emit: Emit) -> None:
        self.state = state
        self.emit = emit
        # When stashes were pushed: each `git stash` also logs one reset, taken by the first that fits.
        self.push_seconds: list[int] = []

    def from_hooks(self, records: list[SpoolRecord]) -> None:
        tree_writers = {r.ppid for r in records if r.hook == "post-index-change" and r.args[:1] == ["1"]}
        for record in records:
            if record.hook != "reference-transaction":
                continue
            for old, new, ref in record.ref_updates():
                if ref == STASH_REF and old != new:
                    self._moved(record, old, new, applied=record.ppid in tree_writers)

    def _moved(self, record: SpoolRecord, old: str, new: str, applied: bool) -> None:
        stash = self.state.stash
        if not is_null_sha(new) and new not in stash:
            stash.append(new)
            self.push_seconds.append(record.ts_ns // 10**9)
            self.emit("stash.push", schema.StashPush(branch=record.branch, sha=new), ts_ns=record.ts_ns,
                      src="hook", wt=record.wt, provenance=f"{provenance(record)}:{new}")
            return
        if old in stash:
            stash.remove(old)
        self.emit("stash.pop" if applied else "stash.drop", schema.StashRemoved(sha=old), ts_ns=record.ts_ns,
                  src="hook", wt=record.wt, provenance=f"{provenance(record)}:{old}")

    def from_reflog(self, entries: list[ReflogEntry], changed_ns: int) -> None:
        """Entries the hooks did not report: pushed ones appear, removed ones disappear."""
        known = self.state.stash
        for number, entry in enumerate(entries, start=1):
            if entry.new not in known:
                match = _STASH_BRANCH.match(entry.message)
                self.push_seconds.append(entry.ts)
                ts_ns = entry.ts * 10**9
                if number == len(entries) and 0 <= changed_ns - ts_ns < 10**9:
                    ts_ns = changed_ns  # the newest line, written in the second the file last changed: then
                self.emit("stash.push", schema.StashPush(branch=match.group(1) if match else None, sha=entry.new),
                          ts_ns=ts_ns, src="reflog", wt=MAIN_WORKTREE, provenance=entry.key)
        present = {entry.new for entry in entries}
        for sha in reversed(known):
            if sha not in present:  # pop or drop without hooks: which one cannot be told
                self.emit("stash.drop", schema.StashRemoved(sha=sha), ts_ns=changed_ns, src="reflog",
                          wt=MAIN_WORKTREE, provenance=f"stash-removed:{sha}")
        self.state.stash = [entry.new for entry in entries]

    def is_stash_reset(self, entry: ReflogEntry) -> bool:
        """`git stash` resets the tree to HEAD as it saves it: that reset is the stash, not the user's. One
        reset per push: a `git reset` of the user's in the same second is theirs."""
        if entry.old != entry.new:
            return False
        for second in self.push_seconds:
            if abs(entry.ts - second) <= 1:
                self.push_seconds.remove(second)
                return True
        return False
