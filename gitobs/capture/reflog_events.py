"""Turn reflog entries into events: commits, amends, switches, resets, rebases, merges, pulls, stashes.

git writes one update to HEAD's reflog and to the branch's reflog with identical lines; the HEAD line is
reported (it knows the worktree) and the branch line only lends its branch name. Branch lines with no
HEAD twin are operations on branches that were not checked out (created, renamed, `branch -f`, tools);
a line read while git was still writing its twin waits for it, and a move that left its branch where it
was, which git logs to HEAD alone, gets a twin stood in (both in gitobs/capture/reflog_twins.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from gitobs.capture.enrich import Enricher
from gitobs.capture.hook_events import take_attempt
from gitobs.capture.reflog import Kind, ReflogEntry, classify
from gitobs.capture.rework import Rework
from gitobs.capture.staging import Staging
from gitobs.capture.state import Attempt, RebaseProgress, ScanState
from gitobs.core.names import recorded
from gitobs.core.repo import MAIN_WORKTREE, is_null_sha
from gitobs.log import schema
from gitobs.log.schema import Emit

_RETURNING = re.compile(r"returning to refs/heads/(.+)$")
_HEX = re.compile(r"^[0-9a-f]{7,64}$")
COMMITTING = frozenset({"commit", "merge-commit", "revert", "amend"})  # lines a `git commit` may write


def short_branch(ref: str | None) -> str | None:
    return ref[len("refs/heads/"):] if ref and ref.startswith("refs/heads/") else None


class ReflogEvents:
    def __init__(self, state: ScanState, enricher: Enricher | None, emit: Emit, rework: Rework,
                 staging: Staging, logged_commits: set[str] | None = None,
                 on_reset: Callable[[ReflogEntry, str | None, int], None] | None = None,
                 ends_attempts: bool = True) -> None:
        self.state = state
        # The lean hook set has no post-commit: a commit's line ends its attempt. With every hook, post-commit
        # has, and an attempt still open is one that made no commit.
        self.ends_attempts = ends_attempts
        # Without post-index-change and reference-transaction (the lean hook set), HEAD's reset lines are the
        # `reset --hard` discard candidates: called with the line, its branch and its moment.
        self.on_reset = on_reset
        self.logged_commits = logged_commits or set()  # reported in the log, though the state may not know
        self.enricher = enricher
        self.emit = emit
        self.rework = rework
        self.staging = staging
        self.moment: tuple[int, str] = (0, "reflog")  # (ts_ns, src) of the entry being reported
        self.last_ns: dict[tuple[str, str], int] = {}  # per reflog: the moment of its previous entry
        self.commits_from: dict[tuple[str, str, str | None], int] = {}

    def feed(self, heads: list[ReflogEntry], branches: list[ReflogEntry],
             is_stash_reset: Callable[[ReflogEntry], bool], unwritten: Sequence[ReflogEntry] = ()) -> None:
        """`unwritten`: the branch lines git did not write for moves that left the branch where it was, stood
        in by the scan (reflog_twins.py): they lend their branch to a HEAD line, and are never reported."""
        branch_of: dict[tuple, list[ReflogEntry]] = {}  # identical lines (two in one second) pair in order
        for entry in [*branches, *unwritten]:
            branch_of.setdefault(entry.mirror_key, []).append(entry)
        mirrored: set[str] = set()
        paired = []
        for entry in heads:
            twins = branch_of.get(entry.mirror_key)
            twin = twins.pop(0) if twins else None
            if twin is not None:
                mirrored.add(twin.key)
            paired.append((entry, twin))
        # (worktree, old, branch) -> commit lines still to come
        self.commits_from: dict[tuple[str, str, str | None], int] = {}
        for entry, twin in paired:
            if classify(entry.message).op in COMMITTING:
                key = (entry.wt, entry.old, short_branch(twin.ref) if twin else None)
                self.commits_from[key] = self.commits_from.get(key, 0) + 1
        for entry, twin in paired:
            try:
                self._head_line(entry, twin, is_stash_reset)
            except Exception as exc:  # a line no handler foresaw: its cursor has moved on, never retried
                self._failed(entry, exc)
        for entry in branches:
            if entry.key not in mirrored:
                try:
                    self._settle_moment(entry, switch=False)
                    self._branch_entry(entry)
                except Exception as exc:
                    self._failed(entry, exc)

    def _head_line(self, entry: ReflogEntry, twin: ReflogEntry | None,
                   is_stash_reset: Callable[[ReflogEntry], bool]) -> None:
        if twin is not None:
            self.state.take_ref_time(f"{twin.ref} {twin.old} {twin.new}")  # the same move, seen twice
        kind = classify(entry.message)
        rebase_checkout = kind.op == "rebase" and kind.step == "start"
        self._settle_moment(entry, kind.op == "checkout" or rebase_checkout)
        if rebase_checkout:  # its checkout ran post-checkout too (HEAD detached): that record is this line's
            self.state.take_ref_time_at(f"detached {entry.old} {entry.new}", self.moment[0])
        if not self._worktree_added(entry, kind):
            self._head_entry(entry, kind, short_branch(twin.ref) if twin else None, is_stash_reset)
        # Dwell times count from the first moment the worktree's HEAD was seen, at the latest.
        self.state.arrivals.setdefault(entry.wt, self.moment[0])

    def _failed(self, entry: ReflogEntry, exc: Exception) -> None:
        """A gitobs.error in place of what the line would have said, so one odd reflog line cannot stop
        every scan after it."""
        message = recorded(" ".join(f"reflog {entry.ref} line {entry.key}: {type(exc).__name__}: {exc}".split()))
        self.emit("gitobs.error", schema.InternalError(where="scan", message=message), ts_ns=entry.ts * 10**9,
                  src="gitobs", wt=entry.wt, provenance=recorded(f"reflog:{entry.key}:error"))

    def _settle_moment(self, entry: ReflogEntry, switch: bool) -> None:
        """Reflog times are whole seconds: a hook that saw the same move gives the exact moment (taken for
        every entry, hooks and reflog being in the same order). Otherwise, keep the reflog's own order."""
        exact = self.state.take_ref_time(f"{entry.ref} {entry.old} {entry.new}")
        if switch:
            exact = self.state.take_ref_time(f"switch {entry.old} {entry.new}") or exact
        moment = exact or entry.ts * 10**9
        previous = self.last_ns.get((entry.wt, entry.ref), 0)
        if not exact and previous // 10**9 == entry.ts:
            moment = max(moment, previous)
        self.last_ns[(entry.wt, entry.ref)] = moment
        self.moment = (moment, "hook" if exact else "reflog")

    # -- HEAD ------------------------------------------------------------------------------------

    def _worktree_added(self, entry: ReflogEntry, kind: Kind) -> bool:
        """`git worktree add` starts the new worktree's HEAD reflog with an unnamed line from no commit,
        then checks out with a `reset: moving to HEAD` that moves nothing (a scan may come between them).
        The worktree was made; no history moved. A branch it made is the branch reflog's."""
        born = self.state.born.pop(entry.wt, None)
        if entry.wt != MAIN_WORKTREE and kind.op == "empty" and is_null_sha(entry.old):
            self.state.born[entry.wt] = entry.new
            return True
        return kind.op == "reset" and entry.old == entry.new == born

    def _head_entry(self, entry: ReflogEntry, kind: Kind, branch: str | None,
                    is_stash_reset: Callable[[ReflogEntry], bool]) -> None:
        op = kind.op
        if op in ("commit", "merge-commit", "revert"):
            self._commit(entry, branch, kind)
        elif op == "amend":
            self._amend(entry, branch)
        elif op == "checkout":
            self._switch(entry, kind)
        elif op == "reset":
            if not is_stash_reset(entry):
                self._reset(entry, branch)
                if self.on_reset is not None:
                    self.on_reset(entry, branch, self.moment[0])
        elif op == "rebase":
            self._rebase(entry, kind)
        elif op == "merge":
            self._emit(entry, "history.merge", schema.HistoryMerge(
                branch=branch, merged=kind.source, fast_forward=kind.step == "fast-forward", sha=entry.new))
            if kind.step != "fast-forward":
                self._commit(entry, branch, Kind("merge-commit"), via="merge")
        elif op == "pull":
            self._emit(entry, "history.pull", schema.HistoryPull(
                branch=branch, mode=kind.step, from_sha=entry.old, to_sha=entry.new))
        elif op == "cherry-pick":
            self._emit(entry, "history.cherry_pick", schema.HistoryCherryPick(branch=branch, sha=entry.new))
        elif op in ("gitbutler", "empty", "other"):
            self._emit(entry, "ref.update", schema.RefUpdate(
                ref=entry.ref, op=op, from_sha=entry.old, to_sha=entry.new))
        # clone, branch-created/renamed and stash lines on HEAD say nothing the branch logs do not

    def _commit(self, entry: ReflogEntry, branch: str | None, kind: Kind, via: str = "") -> None:
        sha = entry.new
        attempt = self._attempt_of(entry, branch)  # even for a line read again: its attempt did end
        if sha in self.state.recent_commits or sha in self.logged_commits:
            return
        facts = self.enricher.commit(sha) if self.enricher else None
        if facts is not None and facts.synthetic:
            self._emit(entry, "ref.update", schema.RefUpdate(ref=entry.ref, op="gitbutler", from_sha=entry.old,
                                                            to_sha=sha))
            return
        self.state.remember_commit(sha)
        payload = schema.CommitCreated(sha=sha, branch=branch, via=via or kind.step or "commit")
        if facts is not None:
            payload.parents = facts.parents
            payload.files = facts.files
            payload.files_total = facts.files_total
            payload.added, payload.deleted = facts.added, facts.deleted
            payload.merge = len(facts.parents) > 1
            payload.reverts = facts.reverts
        payload.merge = payload.merge or kind.op == "merge-commit"
        payload.revert = kind.op == "revert" or payload.reverts is not None
        payload.staged_s = self.staging.committed(entry.wt, self.moment[0])
        if attempt is not None and self.staging.from_objects:
            payload.staged_s = self.staging.committed_objects(entry.wt, entry.old, sha, self.moment[0], attempt,
                                                              branch)
        self._emit(entry, "commit.created", payload)
        if payload.reverts:
            self._emit(entry, "commit.reverted", self.rework.reverted(sha, payload.reverts, branch))

    def _amend(self, entry: ReflogEntry, branch: str | None) -> None:
        old = self.enricher.commit(entry.old) if self.enricher else None
        since = float(entry.ts - old.commit_time) if old is not None else None
        self.state.remember_commit(entry.new)
        attempt = self._attempt_of(entry, branch)
        self.staging.committed(entry.wt, self.moment[0])  # what was staged went into the amended commit
        if attempt is not None and self.staging.from_objects:
            self.staging.committed_objects(entry.wt, entry.old, entry.new, self.moment[0], attempt, branch)
        self._emit(entry, "commit.amended", schema.CommitAmended(
            old=entry.old, new=entry.new, branch=branch, since_s=since))

    def _attempt_of(self, entry: ReflogEntry, branch: str | None) -> Attempt | None:
        """The `git commit` attempt this HEAD line (on `branch`) ends (lean hook set: no post-commit did). Its
        commit-msg's end is the commit's moment, to the millisecond, where no reference-transaction gave one."""
        if not self.ends_attempts:
            return None
        wt = entry.wt if entry.ref == "HEAD" else self._worktree_gone(entry, branch)
        if wt is None:
            return None
        key = (wt, entry.old, branch)
        left = self.commits_from.get(key, 1)
        self.commits_from[key] = left - 1
        attempt = take_attempt(self.state, wt, entry.old, entry.ts, left, branch)
        if attempt is not None and self.moment[1] != "hook" and attempt.msg_end_ns:
            self.moment = (attempt.msg_end_ns, "hook")
            self.last_ns[(entry.wt, entry.ref)] = attempt.msg_end_ns
        return attempt

    def _worktree_gone(self, entry: ReflogEntry, branch: str | None) -> str | None:
        """A branch's commit line with no HEAD twin: its worktree was removed (`git worktree remove`) with its
        HEAD reflog. The one worktree with open attempts on that branch at that commit is where it was made."""
        found = {attempt.wt for attempt in self.state.attempts.values()
                 if attempt.branch == branch and attempt.head_sha == entry.old}
        return found.pop() if len(found) == 1 else None

    def _reset(self, entry: ReflogEntry, branch: str | None) -> None:
        self._emit(entry, "history.reset", schema.HistoryReset(branch=branch, from_sha=entry.old, to_sha=entry.new))
        undone = self.rework.undone(entry.old, entry.new, self.moment[0] / 1e9, branch)
        if undone is not None:
            self._emit(entry, "commit.undone", undone)
        self._abandoned(entry, entry.old, "reset", branch)

    def _abandoned(self, entry: ReflogEntry, old: str, by: str, branch: str | None,
                   rewritten: set[str] = frozenset(), provenance: str = "") -> None:
        lost = self.rework.abandoned(old, rewritten)
        if lost is not None:
            self._emit(entry, "commit.abandoned", schema.CommitAbandoned(
                shas=lost.shas, count=lost.count, by=by, branch=branch), provenance=provenance)

    def _switch(self, entry: ReflogEntry, kind: Kind) -> None:
        if kind.source == kind.target and entry.old == entry.new:
            return  # `git checkout` of the branch already checked out
        now = self.moment[0]
        arrived = self.state.arrivals.get(entry.wt)
        self.state.arrivals[entry.wt] = now
        detached = self.state.take_ref_time_at(f"detached {entry.old} {entry.new}", now)
        self._emit(entry, "branch.switch", schema.BranchSwitch(
            from_=_branch_name(kind.source, entry.old),
            to=None if detached else _branch_name(kind.target, entry.new),
            from_sha=entry.old, to_sha=entry.new,
            dwell_s=round((now - arrived) / 1e9, 3) if arrived and arrived <= now else None))

    def _rebase(self, entry: ReflogEntry, kind: Kind) -> None:
        rebases = self.state.rebases
        if kind.step == "start" or entry.wt not in rebases:
            rebases[entry.wt] = RebaseProgress(start_ts=entry.ts, from_sha=entry.old, pull=kind.source == "pull",
                                               provenance=entry.key)
        progress = rebases[entry.wt]
        if kind.step not in ("start", "finish", "abort"):
            progress.steps[kind.step] = progress.steps.get(kind.step, 0) + 1
            return
        if kind.step == "start":
            return
        del rebases[entry.wt]
        match = _RETURNING.search(entry.message)
        branch = match.group(1) if match else None
        self._emit(entry, "history.rebase", schema.HistoryRebase(
            branch=branch, outcome=kind.step, steps=progress.steps,
            from_sha=progress.from_sha, to_sha=entry.new, pull=progress.pull), provenance=progress.provenance)
        mapping = self.state.rewritten.pop(entry.wt, {})
        rewritten = {sha for sha, ts_ns in mapping.items() if ts_ns >= (progress.start_ts - 1) * 10**9}
        if kind.step == "finish" and rewritten and progress.from_sha:
            # Without post-rewrite's mapping (of this rebase, not an older one), rewritten and dropped
            # commits look alike: say nothing.
            self._abandoned(entry, progress.from_sha, "rebase", branch, rewritten, progress.provenance)

    # -- branches not checked out ----------------------------------------------------------------

    def _branch_entry(self, entry: ReflogEntry) -> None:
        kind = classify(entry.message)
        branch = short_branch(entry.ref) or entry.ref
        if kind.op == "branch-created":
            self._emit(entry, "branch.created", schema.BranchCreated(branch=branch, sha=entry.new))
        elif kind.op == "branch-renamed":
            self._emit(entry, "branch.renamed", schema.BranchRenamed(from_=kind.source, to=kind.target))
        elif kind.op == "reset":
            self._reset(entry, branch)
        elif kind.op in ("commit", "merge-commit", "revert"):
            self._commit(entry, branch, kind)  # its HEAD line was missed: a worktree gone, a race
        elif kind.op in ("gitbutler", "empty", "other"):
            self._emit(entry, "ref.update", schema.RefUpdate(ref=entry.ref, op=kind.op, from_sha=entry.old,
                                                            to_sha=entry.new))
        # rebase (finish) on the branch, amend/merge/cherry-pick twins: reported from HEAD

    def _emit(self, entry: ReflogEntry, event_type: str, payload: schema.Payload, provenance: str = "") -> None:
        ts_ns, src = self.moment
        self.emit(event_type, payload, ts_ns=ts_ns, src=src, wt=entry.wt, provenance=provenance or entry.key)


def _branch_name(name: str, sha: str) -> str | None:
    """A checkout names a branch, or a commit (or HEAD itself) when HEAD is detached."""
    if name == "HEAD" or (_HEX.match(name) and sha.startswith(name)):
        return None
    return name
