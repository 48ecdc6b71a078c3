"""Turn spool records into the events only hooks can see: commit attempts and how they end, and pushes.

Ref moves (commits, switches, resets, rebases) come from the reflog alone, which sees them whether or not
a hook ran; a hook record only sharpens their time. So an operation is never reported twice.

The hooks of one `git commit` share a parent process (the git process): its pid ties pre-commit,
prepare-commit-msg, commit-msg and post-commit together, possibly across several scans while an editor
is open. An attempt whose git process has exited without a post-commit was aborted.

With the lean hook set (no prepare-commit-msg, no post-commit: git runs them for every commit a rebase
replays), pre-commit's end opens the editor, commit-msg closes it, and the commit's own reflog line ends
the attempt (take_attempt): the line that leaves the commit HEAD was at when commit-msg ran.
"""

from __future__ import annotations

from collections.abc import Callable

from gitobs.capture.enrich import Enricher
from gitobs.capture.spool import SpoolRecord
from gitobs.capture.state import Attempt, ScanState
from gitobs.core.names import recorded
from gitobs.core.repo import is_null_sha
from gitobs.log import schema
from gitobs.log.schema import Emit

# Operations whose commits are git's replays, not the user's attempts.
REPLAY_OPS = ("rebase", "cherry-pick", "revert")
# Without an editor, prepare-commit-msg and commit-msg are milliseconds apart; a person is not that fast.
MIN_EDIT_S = 0.2
# An attempt still open after this long is closed as aborted whatever its process does.
ATTEMPT_TIMEOUT_NS = 24 * 3600 * 10**9
# How long before its pre-commit a `git commit` may have read the clock its reflog line carries.
LINE_BEFORE_ATTEMPT_S = 30
# A commit line whose branch is not known (no name is this: git allows no NUL in one)
UNKNOWN_BRANCH = "\0unknown"


def provenance(record: SpoolRecord) -> str:
    return f"spool:{record.name}:{record.ts_ns}"


# Hooks that fire many times per git command (every `git status` refreshes the index, every ref update
# runs a transaction): their runs are coalesced per git process, with `runs` as the weight.
COALESCED_HOOKS = frozenset({"post-index-change", "reference-transaction"})


class HookEvents:
    def __init__(self, state: ScanState, enricher: Enricher | None, emit: Emit, lean: bool = False) -> None:
        self.state = state
        self.lean = lean  # prepare-commit-msg and post-commit are not installed
        self.enricher = enricher
        self.emit = emit
        self.handlers: dict[str, Callable[[SpoolRecord], None]] = {
            "pre-commit": self._pre_commit,
            "prepare-commit-msg": self._prepare_commit_msg,
            "commit-msg": self._commit_msg,
            "post-commit": self._post_commit,
            "post-merge": self._post_merge,
            "pre-push": self._pre_push,
            "reference-transaction": self._ref_times,
            "post-checkout": self._post_checkout,
            "post-rewrite": self._post_rewrite,
            "gitobs-install": self._installed,
            "gitobs-error": self._error,
            "gitobs-pause": self._paused,
            "gitobs-resume": self._resumed,
        }

    def feed(self, records: list[SpoolRecord]) -> None:
        bursts: dict[tuple[str, str, int], list[SpoolRecord]] = {}
        for record in records:
            try:
                self._record(record, bursts)
            except Exception as exc:  # a record no handler foresaw: consumed all the same, never retried
                self._failed(record, exc)
        for runs in bursts.values():
            self._ran(runs)

    def _record(self, record: SpoolRecord, bursts: dict[tuple[str, str, int], list[SpoolRecord]]) -> None:
        handler = self.handlers.get(record.hook)
        if handler is not None:
            handler(record)
        if record.end_ns is None or record.hook.startswith("gitobs-"):
            return
        if record.hook in COALESCED_HOOKS:
            bursts.setdefault((record.wt, record.hook, record.ppid), []).append(record)
        else:
            self._emit(record, "hook.ran", schema.HookRan(
                hook=record.hook, seconds=round(record.duration_s or 0.0, 3), exit=record.status or 0))

    def _failed(self, record: SpoolRecord, exc: Exception) -> None:
        """A gitobs.error in place of what the record would have said, so one bad record cannot stop every
        scan that reads it."""
        message = recorded(" ".join(f"spool record {record.name}: {type(exc).__name__}: {exc}".split()))
        self.emit("gitobs.error", schema.InternalError(where="scan", message=message), ts_ns=record.ts_ns,
                  src="gitobs", wt=recorded(record.wt), provenance=recorded(f"{provenance(record)}:error"))

    def _ran(self, runs: list[SpoolRecord]) -> None:
        """The runs of one noisy hook in one git process (a `git stash` runs post-index-change a dozen
        times): one event, weighted by how many they were, at the first one's time."""
        if len(runs) == 1:
            record = runs[0]
            self._emit(record, "hook.ran", schema.HookRan(
                hook=record.hook, seconds=round(record.duration_s or 0.0, 3), exit=record.status or 0))
            return
        durations = [run.duration_s or 0.0 for run in runs]
        failed = [run.status for run in runs if run.status]
        self._emit(runs[0], "hook.ran", schema.HookRan(
            hook=runs[0].hook, seconds=round(sum(durations), 3), exit=failed[-1] if failed else 0, runs=len(runs),
            failures=len(failed), max_s=round(max(durations), 3)))

    # -- commit attempts -------------------------------------------------------------------------

    def _key(self, record: SpoolRecord) -> str:
        return f"{record.wt}:{record.ppid}"

    def _attempt(self, record: SpoolRecord, verify: bool) -> Attempt:
        key = self._key(record)
        attempt = self.state.attempts.get(key)
        if attempt is None:
            attempt = Attempt(ppid=record.ppid, wt=record.wt, branch=record.branch, start_ns=record.ts_ns,
                              provenance=provenance(record))
            self.state.attempts[key] = attempt
            self._emit(record, "commit.attempt", schema.CommitAttempt(branch=record.branch, verify=verify))
        return attempt

    def _pre_commit(self, record: SpoolRecord) -> None:
        if record.op in REPLAY_OPS:
            return
        attempt = self._attempt(record, verify=True)
        self._commit_facts(attempt, record)
        if self.lean:
            # The editor opens once pre-commit is done: in the whole milliseconds of the events' times and of
            # its hook.ran, so that the editing never seems to start before the pre-commit it follows.
            attempt.edit_from_ns = _whole_ms(record.ts_ns)
            if record.end_ns is not None:
                attempt.edit_from_ns += round(round(record.duration_s or 0.0, 3) * 1e9)
            if record.editor is False:
                attempt.message_source = "message"  # -m, -F, --no-edit: git said no editor would open
        self._blocked_by(record)

    def _commit_facts(self, attempt: Attempt, record: SpoolRecord) -> None:
        attempt.head_sha = record.head_sha or attempt.head_sha
        attempt.index = record.index or attempt.index

    def _prepare_commit_msg(self, record: SpoolRecord) -> None:
        if record.op in REPLAY_OPS:
            return
        attempt = self._attempt(record, verify=False)
        attempt.prepare_ns = record.ts_ns
        attempt.message_source = record.args[1] if len(record.args) > 1 else ""

    def _commit_msg(self, record: SpoolRecord) -> None:
        attempt = self.state.attempts.get(self._key(record))
        if attempt is None:
            return
        attempt.msg_ns = record.ts_ns
        attempt.msg_end_ns = record.end_ns or record.ts_ns
        self._commit_facts(attempt, record)
        self._report_edit(attempt, record.ts_ns)
        self._blocked_by(record)

    def _blocked_by(self, record: SpoolRecord) -> None:
        if not record.status:
            return
        attempt = self.state.attempts.pop(self._key(record), None)
        branch = attempt.branch if attempt else record.branch
        self._emit(record, "commit.blocked", schema.CommitBlocked(
            hook=record.hook, exit=record.status, duration_s=_ms(record.duration_s), branch=branch))

    def _post_commit(self, record: SpoolRecord) -> None:
        if record.op in REPLAY_OPS:
            return
        attempt = self.state.attempts.pop(self._key(record), None)
        if attempt is not None:
            self._report_edit(attempt, record.ts_ns)

    def _post_merge(self, record: SpoolRecord) -> None:
        self.state.attempts.pop(self._key(record), None)  # `git merge` committed without post-commit

    def _report_edit(self, attempt: Attempt, end_ns: int) -> None:
        start_ns = attempt.prepare_ns or attempt.edit_from_ns
        if not start_ns or attempt.edit_reported or attempt.message_source == "message":
            return
        # without prepare-commit-msg, both ends in the milliseconds the events show
        seconds = max(0, (end_ns if attempt.prepare_ns else _whole_ms(end_ns)) - start_ns) / 1e9
        if (attempt.message_source or not attempt.prepare_ns) and seconds < MIN_EDIT_S:
            # amend --no-edit, merge --no-edit: the message was reused, no editor opened; without
            # prepare-commit-msg, an editor that closed at once (`--amend` keeping the message, GIT_EDITOR=true)
            return
        attempt.edit_reported = True
        self.emit("commit.message_edit", schema.CommitMessageEdit(seconds=round(seconds, 3), branch=attempt.branch),
                  ts_ns=end_ns, src="hook", wt=attempt.wt, provenance=attempt.provenance)

    def open_attempts(self, alive: Callable[[int, int], bool], now_ns: int) -> list[str]:
        """Attempts whose git process is gone (or that timed out): they will not see a post-commit."""
        return [key for key, attempt in self.state.attempts.items()
                if now_ns - attempt.start_ns > ATTEMPT_TIMEOUT_NS or not alive(attempt.ppid, attempt.start_ns)]

    def abort(self, keys: list[str]) -> None:
        for key in keys:
            attempt = self.state.attempts.pop(key, None)
            if attempt is None:
                continue  # a record read after the liveness check completed it
            if attempt.msg_ns:
                stage = "empty-message"  # commit-msg passed, yet no commit
            elif attempt.prepare_ns or (attempt.edit_from_ns and attempt.message_source != "message"):
                stage = "editor"  # the editor failed or was interrupted
            else:
                stage = "nothing-to-commit"  # pre-commit passed, git stopped before the message
            last_ns = max(attempt.start_ns, attempt.prepare_ns, attempt.msg_ns)
            self.emit("commit.aborted", schema.CommitAborted(branch=attempt.branch, stage=stage),
                      ts_ns=last_ns, src="hook", wt=attempt.wt, provenance=attempt.provenance)

    def _ref_times(self, record: SpoolRecord) -> None:
        for old, new, ref in record.ref_updates():
            if ref == "HEAD" or ref.startswith("refs/heads/"):
                self.state.saw_ref_move(f"{ref} {old} {new}", record.ts_ns)

    def _post_checkout(self, record: SpoolRecord) -> None:
        """Flag 1: HEAD moved (the reflog reports the switch; this is its exact time). Flag 0, files checked
        out over the work tree, is a discard: see discards.py."""
        if record.args[2:3] == ["1"]:
            self.state.saw_ref_move(f"switch {record.args[0]} {record.args[1]}", record.ts_ns)
            if record.branch is None:  # the reflog names what was typed (`--detach main`): HEAD tells
                self.state.saw_ref_move(f"detached {record.args[0]} {record.args[1]}", record.ts_ns)

    def _post_rewrite(self, record: SpoolRecord) -> None:
        """A rebase's old -> new mapping: the commits it rewrote, as opposed to those it dropped."""
        if record.args[:1] == ["amend"]:
            self._amended_in_place(record)
        if record.args[:1] != ["rebase"]:
            return
        rewritten = self.state.rewritten.setdefault(record.wt, {})
        for line in (record.stdin or "").splitlines():
            if line:
                rewritten[line.split(" ")[0]] = record.ts_ns

    def _amended_in_place(self, record: SpoolRecord) -> None:
        """An amend that made the very same commit on a detached HEAD: git logs no line for a ref that did
        not move, so this pair is all there is of it (on a branch, HEAD's reflog has its `commit (amend)`).
        It ends its attempt (lean hook set; with every hook, post-commit has)."""
        pairs = [line.split(" ") for line in (record.stdin or "").splitlines() if line]
        if record.branch is not None or len(pairs) != 1 or len(pairs[0]) != 2 or pairs[0][0] != pairs[0][1]:
            return
        attempt = self.state.attempts.pop(self._key(record), None)
        ts_ns = attempt.msg_end_ns if attempt is not None and attempt.msg_end_ns else record.ts_ns
        sha = pairs[0][0]
        facts = self.enricher.commit(sha) if self.enricher else None
        since = float(ts_ns // 10**9 - facts.commit_time) if facts is not None else None
        self.emit("commit.amended", schema.CommitAmended(old=sha, new=sha, since_s=since),
                  ts_ns=ts_ns, src="hook", wt=record.wt, provenance=provenance(record))

    # -- pushes and gitobs's own notes -----------------------------------------------------------

    def _pre_push(self, record: SpoolRecord) -> None:
        refs, force = [], False
        for line in (record.stdin or "").splitlines():
            parts = line.split(" ")
            if len(parts) != 4:
                continue
            local_ref, local_sha, remote_ref, remote_sha = parts
            deleting = is_null_sha(local_sha)
            refs.append(f"(delete) {remote_ref}" if deleting else local_ref)
            if not deleting and not is_null_sha(remote_sha) and self.enricher is not None:
                force = force or self.enricher.contains(local_sha, remote_sha) is False
        # Pushing to a URL rather than a named remote passes the URL as both arguments: keep no URL.
        remote = record.args[0] if record.args else ""
        if len(record.args) > 1 and remote == record.args[1]:
            remote = "(url)"
        self._emit(record, "push", schema.Push(remote=remote, refs=refs, force=force,
                                                blocked=bool(record.status)))

    def _installed(self, record: SpoolRecord) -> None:
        self._emit(record, "gitobs.installed", schema.GitobsInstalled(
            hooks_dir=record.args[0] if record.args else "", version=record.args[1] if len(record.args) > 1 else ""),
            src="gitobs")

    def _paused(self, record: SpoolRecord) -> None:
        until = record.args[0] if record.args and record.args[0].isdigit() else None
        self._emit(record, "gitobs.paused", schema.GitobsPaused(
            until=schema.format_ts(int(until)) if until else None), src="gitobs")

    def _resumed(self, record: SpoolRecord) -> None:
        by = record.args[0] if record.args else "command"
        paused = record.args[1] if len(record.args) > 1 and record.args[1].isdigit() else None
        self._emit(record, "gitobs.resumed", schema.GitobsResumed(
            by=by, paused_s=round((record.ts_ns - int(paused)) / 1e9, 3) if paused else None), src="gitobs")

    def _error(self, record: SpoolRecord) -> None:
        where = record.args[0] if record.args else "gitobs"
        message = record.args[1] if len(record.args) > 1 else ""
        self._emit(record, "gitobs.error", schema.InternalError(where=where, message=message), src="gitobs")

    def _emit(self, record: SpoolRecord, event_type: str, payload: schema.Payload, src: str = "hook") -> None:
        self.emit(event_type, payload, ts_ns=record.ts_ns, src=src, wt=record.wt, provenance=provenance(record))


def _whole_ms(ns: int) -> int:
    """A time as an event shows it: whole milliseconds (schema.format_ts)."""
    return ns // 10**6 * 10**6


def take_attempt(state: ScanState, wt: str, old: str, ts_s: int, lines_from_old: int = 1,
                 branch: str | None = UNKNOWN_BRANCH) -> Attempt | None:
    """The open attempt that a commit's reflog line of `wt` (from `old`, at whole second `ts_s`) ends, taken
    out of the open ones: one whose commit-msg ran, with HEAD at `old` (or unknown: an unborn or packed ref).
    The line's time is the git process's clock, read once early (often before the editor opened): at most a
    second after commit-msg, and not long before the attempt began (`commit -a` may refresh a large index
    first). Of several such, in order, with `lines_from_old` commit lines from `old` still to come (this one
    included): the k-th from the end, so that the last k attempts get the k lines, in order. Attempts at the
    same commit are serial (git holds the index lock), and one that made no line (an empty message) is
    followed by the attempt that did; a commit undone by `reset --soft` and made again repeats `old`. Two
    branches at one commit repeat it too: where the line's `branch` is known (None: detached), the attempts
    made on it are taken first, `lines_from_old` then counting its lines from `old` on that branch."""
    found = sorted(((attempt.start_ns, key) for key, attempt in state.attempts.items()
                    if attempt.wt == wt and attempt.msg_ns and (not attempt.head_sha or attempt.head_sha == old)
                    and attempt.start_ns // 10**9 - LINE_BEFORE_ATTEMPT_S <= ts_s <= attempt.msg_end_ns // 10**9 + 1))
    if not found:
        return None
    found = [pair for pair in found if state.attempts[pair[1]].branch == branch] or found
    _, key = found[max(0, len(found) - max(1, lines_from_old))]
    return state.attempts.pop(key)


def _ms(seconds: float | None) -> float | None:
    """A hook's time to the millisecond, the shim's clock being no finer (no 0.119999998 in the log)."""
    return None if seconds is None else round(seconds, 3)
