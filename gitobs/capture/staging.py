"""Staging: index writes by commands that do nothing else (`add`, `rm`, `mv`, an index refresh).

Writes are kept per worktree until a commit or a quiet gap ends their burst; a burst becomes one
`index.stage` with its count. Commits and writes are read in separate passes of a scan, so bursts are
cut only when both are known: at a commit (the writes up to it) and at the end of the scan (bursts
quiet for a whole gap). The first write since a worktree's previous commit starts the stage-to-commit
latency of its next commit (`staged_s` on commit.created).

Without post-index-change (the lean hook set), `git add` leaves no record, but it writes what it stages
into the object store as loose objects, each file's mtime the moment it was staged (git refreshes the mtime
when the same content is staged again). When a `git commit` attempt's reflog line comes, the blobs the
commit added or changed, written after the worktree's previous commit and before the attempt began, are
its staging: cut into bursts as above (`count` is then the files staged), and the first gives `staged_s`.
`commit -a` (the attempt's index is `index.lock`) stages its own files just before pre-commit: blobs of
the last second before the attempt are not staging. Packed objects (after `git gc`) have no such time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gitobs.capture.processes import GitProcess, key
from gitobs.capture.spool import SpoolRecord
from gitobs.capture.state import Attempt, ScanState, StageWrite
from gitobs.core.repo import is_null_sha
from gitobs.log import schema
from gitobs.log.schema import Emit

MAX_WRITES = 256  # kept per worktree; later writes are counted into the last one
MAX_BLOBS = 2000  # a commit's changed files looked at for their staging time
COMMIT_STAGES_NS = 10**9  # `commit -a`: the blobs written this long before its pre-commit are its own
# (old commit, new commit) -> (the old one's commit time in ns, the mtimes of the loose blobs the new one
# added or changed)
BlobTimes = Callable[[str, str], tuple[int, list[int]]]


class Staging:
    def __init__(self, state: ScanState, emit: Emit, gap_s: float, from_objects: BlobTimes | None = None) -> None:
        self.state = state
        self.emit = emit
        self.gap_ns = int(gap_s * 1e9)
        self.from_objects = from_objects  # set when no post-index-change is recorded

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

    def committed_objects(self, wt: str, old: str, new: str, commit_ns: int, attempt: Attempt,
                          branch: str | None) -> float | None:
        """A commit of `wt` made by `attempt`: its staging from the object store, as index.stage bursts.
        Returns its stage-to-commit latency in seconds."""
        assert self.from_objects is not None
        old_ns, blobs = self.from_objects(old, new)
        since = self.state.committed_ns.get(wt, old_ns)  # the previous commit's exact moment, once seen
        self.state.committed_ns[wt] = commit_ns
        cut = attempt.start_ns - (COMMIT_STAGES_NS if attempt.index not in ("", "index") else 0)
        times = sorted(t for t in blobs if since < t < cut)
        if not times:
            return None
        writes = [StageWrite(ts_ns=t, last_ns=t, branch=branch, provenance=f"stage:{wt}:{new}:{t}") for t in times]
        for burst in self._bursts(writes):
            self._emit(wt, burst, src="worktree")
        return round((commit_ns - times[0]) / 1e9, 3)

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

    def _emit(self, wt: str, burst: list[StageWrite], src: str = "hook") -> None:
        first = burst[0]
        self.emit("index.stage", schema.IndexStage(
            count=sum(w.count for w in burst), seconds=round((burst[-1].last_ns - first.ts_ns) / 1e9, 3),
            branch=first.branch), ts_ns=first.ts_ns, src=src, wt=wt, provenance=first.provenance)


def loose_blob_times(repo: object, objects_dir: Path) -> BlobTimes:
    """For a pygit2 repository: the mtimes of the loose blobs a commit added or changed against `old`."""
    import pygit2

    def times(old: str, new: str) -> tuple[int, list[int]]:
        old_ns = 0
        try:
            new_tree = repo.get(new).tree  # type: ignore[attr-defined]
            if old and not is_null_sha(old):
                old_commit = repo.get(old)  # type: ignore[attr-defined]
                old_ns = old_commit.commit_time * 10**9
                diff = old_commit.tree.diff_to_tree(new_tree)
            else:
                diff = new_tree.diff_to_tree(swap=True)
        except (AttributeError, ValueError, KeyError, pygit2.GitError):
            return old_ns, []
        found = []
        for delta in list(diff.deltas)[:MAX_BLOBS]:
            if delta.status == pygit2.GIT_DELTA_DELETED:
                continue
            oid = str(delta.new_file.id)
            try:
                found.append(os.stat(objects_dir / oid[:2] / oid[2:]).st_mtime_ns)
            except OSError:
                continue  # packed, or a submodule's commit
        return old_ns, found

    return times
