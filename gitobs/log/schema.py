"""The public event schema: one envelope, one typed payload per event type.

This module is what a privacy review audits: a payload can only hold the fields declared here, and none
of them holds file contents, diffs or commit-message text. docs/events.md documents every type.
"""

from __future__ import annotations

import calendar
import hashlib
import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Annotated, Any

import msgspec

from gitobs.core.names import recorded

SCHEMA_VERSION = 1
IMPORTED = "import"  # the src of the events gitobs import makes: history backfilled, not work recorded live
SOURCES = ("hook", "reflog", "worktree", "gitbutler", IMPORTED, "gitobs", "trace2")
Emit = Callable[..., None]  # emit(type, payload, *, ts_ns, src, wt, provenance): how producers hand events on


# A hostile log or bundle can hold any number: past these bounds a line is malformed (skipped and counted)
# rather than a time no analyzer can work with (1e308 seconds overflows once rounded). About 317 years.
MAX_SECONDS = 1e10
Seconds = Annotated[float, msgspec.Meta(ge=-MAX_SECONDS, le=MAX_SECONDS)]


class Payload(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


class FileChange(msgspec.Struct, array_like=True):
    """A file touched by a commit, stored compactly as [path, lines added, lines deleted]."""

    path: str
    added: int
    deleted: int


class Rename(msgspec.Struct, array_like=True):
    """A file a commit renamed (git's similarity detection), stored compactly as [old path, new path]."""

    old: str
    new: str


class BranchSwitch(Payload):
    from_: str | None = msgspec.field(default=None, name="from")  # branch left; None when detached
    to: str | None = None  # branch entered; None when detached
    from_sha: str = ""
    to_sha: str = ""
    dwell_s: Seconds | None = None  # seconds spent on the branch left, when its arrival was seen


class CommitCreated(Payload):
    sha: str
    branch: str | None = None
    parents: list[str] = []
    files: list[FileChange] = []
    files_total: int = 0  # may exceed len(files): the list is capped
    added: int = 0
    deleted: int = 0
    merge: bool = False
    revert: bool = False
    reverts: str | None = None  # the sha named by "This reverts commit <sha>"
    via: str = "commit"  # commit | am | merge
    staged_s: Seconds | None = None  # seconds from the first staging after the previous commit to this one
    renames: list[Rename] = []  # gitobs import: [old, new] renamed here; `files` holds newest paths


class CommitAmended(Payload):
    old: str
    new: str
    branch: str | None = None
    since_s: Seconds | None = None  # seconds between the amended commit and its amendment


class CommitAttempt(Payload):
    branch: str | None = None
    verify: bool = True  # False when pre-commit did not run: --no-verify, or a merge or revert commit


class CommitAborted(Payload):
    branch: str | None = None
    stage: str = "unknown"  # nothing-to-commit | editor | empty-message | unknown: where it stopped


class CommitBlocked(Payload):
    hook: str  # pre-commit | commit-msg
    exit: int
    duration_s: Seconds | None = None
    branch: str | None = None


class CommitUndone(Payload):
    """A reset that moved a branch back off commits made shortly before (`reset --soft HEAD~`)."""

    sha: str  # the tip that was undone
    to_sha: str = ""  # where the branch went
    commits: int = 1  # commits taken off the branch
    age_s: Seconds = 0.0  # seconds between the undone tip's commit time and the reset
    branch: str | None = None


class CommitReverted(Payload):
    sha: str  # the reverting commit
    reverted: str  # the commit it reverts
    age_s: Seconds | None = None  # seconds between the reverted commit and its revert; None when not here
    branch: str | None = None


class CommitAbandoned(Payload):
    """Commits no branch reaches any more after a reset or a rebase (dropped, not rewritten)."""

    shas: list[str] = []  # newest first, capped
    count: int = 0  # may exceed len(shas)
    by: str = "reset"  # reset | rebase
    branch: str | None = None


class CommitMessageEdit(Payload):
    seconds: Seconds
    branch: str | None = None


class EditDiscarded(Payload):
    how: str  # checkout (checkout -- f, restore f) | reset-hard | sample
    branch: str | None = None
    files: list[FileChange] = []  # the paths and lines lost (against HEAD), where they can be known


class WorktreeSample(Payload):
    """The dirty files of a worktree against HEAD (staged and not), taken when they changed."""

    branch: str | None = None
    files: list[FileChange] = []  # capped; untracked files count all their lines as added
    files_total: int = 0
    added: int = 0
    deleted: int = 0


class HistoryReset(Payload):
    branch: str | None = None
    from_sha: str = ""
    to_sha: str = ""


class HistoryRebase(Payload):
    branch: str | None = None
    outcome: str = "finish"  # finish | abort
    steps: dict[str, int] = {}  # pick, squash, fixup, reword, edit, ...: counts
    from_sha: str = ""  # where the branch was before
    to_sha: str = ""  # where it ended
    pull: bool = False


class HistoryMerge(Payload):
    branch: str | None = None
    merged: str = ""  # what was merged, as git named it
    fast_forward: bool = False
    sha: str = ""


class HistoryCherryPick(Payload):
    branch: str | None = None
    sha: str = ""


class HistoryPull(Payload):
    branch: str | None = None
    mode: str = "merge"  # fast-forward | merge
    from_sha: str = ""
    to_sha: str = ""


class BranchCreated(Payload):
    branch: str
    sha: str = ""


class BranchRenamed(Payload):
    from_: str = msgspec.field(name="from")
    to: str


class StashPush(Payload):
    branch: str | None = None
    sha: str = ""


class StashRemoved(Payload):
    sha: str = ""


class Push(Payload):
    remote: str
    refs: list[str] = []
    force: bool = False  # some ref moved to a commit that does not contain the remote's
    blocked: bool = False  # the user's own pre-push hook refused it


class RefUpdate(Payload):
    """A reflog move that is none of the above: GitButler's own, empty messages, other tools."""

    ref: str
    op: str  # gitbutler | empty | other
    from_sha: str = ""
    to_sha: str = ""


class HookRan(Payload):
    """One run of the user's own hook that gitobs chains to (<hook>.gitobs-chained): what it cost them."""

    hook: str
    seconds: Seconds = 0.0  # with runs > 1, their total
    exit: int = 0  # with runs > 1, the last non-zero exit (0 if none)
    runs: int = 1  # the weight: runs of a noisy hook in one git process, coalesced into this one event
    failures: int = 0  # with runs > 1: how many exited non-zero
    max_s: Seconds | None = None  # with runs > 1: the longest of them


class IndexStage(Payload):
    count: int = 1  # index writes in the burst
    seconds: Seconds = 0.0  # from the burst's first write to its last
    branch: str | None = None


class VBranch(Payload):
    """A GitButler branch (one `heads` entry of a stack, or a whole lane before stacking)."""

    stack: str  # the stack's id
    branch: str  # branch name; the lane name for pre-stacking lanes
    tip: str = ""  # live tip: refs/heads/<branch>, else the stored CommitId
    position: int = 0  # 0 = bottom of the stack, nearest the target
    applied: bool = True  # the stack is in the workspace
    by: str = ""  # vbranch.unapplied: "user" (an UnapplyBranch operation), "conflict" (GitButler, on a conflict)


class VBranchMoved(Payload):
    """A branch gone from one stack and come into another (moved, or torn off into a new stack)."""

    branch: str
    from_stack: str
    to_stack: str
    position: int = 0  # in the stack it came to
    tip: str = ""


class VBranchArchived(Payload):
    """A branch GitButler marked archived: integrated into the target."""

    stack: str
    branch: str
    tip: str = ""
    lifetime_s: Seconds | None = None  # seconds since gitobs saw it created; None when it predates gitobs


class VBranchReview(Payload):
    """A branch got a pull request (or another one): its number, never its title or text."""

    stack: str
    branch: str
    number: int
    after_s: Seconds | None = None  # seconds since gitobs saw the branch created; None when it predates gitobs


class VBranchCi(Payload):
    """A branch's CI checks changed state (GitButler's cache of the forge): counts only, never a check's name,
    title, output or link."""

    stack: str
    branch: str
    pending: int = 0  # queued or running
    passed: int = 0  # succeeded, neutral or skipped
    failed: int = 0  # failed, timed out, cancelled or needing action


class VBranchFiles(Payload):
    """The files with uncommitted hunks assigned to a stack (GitButler's hunk_assignments): their number,
    and their paths (capped at 500) as [path, 0, 0]: no lines are read from the assignments."""

    stack: str
    owned_files: int = 0
    files: list[FileChange] = []


class VBranchRenamed(Payload):
    stack: str
    from_: str = msgspec.field(name="from")
    to: str


class VBranchUpdated(Payload):
    stack: str
    branch: str
    from_sha: str = ""
    to_sha: str = ""
    commits: int = 0  # commits added to the branch (reachable from to_sha, not from from_sha)
    conflicted: int = 0  # of those, commits GitButler marked conflicted (the gitbutler-conflicted header)


class GitButlerOp(Payload):
    """One entry of GitButler's operations log: a snapshot commit's Operation and safe trailers."""

    operation: str  # CreateCommit, UndoCommit, ... (Unknown when unparsable)
    sha: str = ""  # the snapshot commit
    trailers: dict[str, str] = {}  # only keys that never carry free text (no message, no error)


class HookRun(msgspec.Struct, array_like=True):
    """The runs of one hook inside a git command, stored compactly as [hook, seconds, exit, runs]: a rebase
    runs prepare-commit-msg once per pick, so its runs are one entry (seconds summed, the first failure's exit)."""

    hook: str
    seconds: Seconds
    exit: int
    runs: int = 1


class GitCommand(Payload):
    """One git process as git's own trace2 told it (`gitobs trace2 enable`). Nothing of argv is kept but the
    command, its mode and the --no-verify flag: no paths, messages, remotes or revisions."""

    command: str  # git's command name (checkout, commit, status, ...), "other" beyond git's own list
    mode: str = ""  # git's cmd_mode where it gives one: checkout "branch" | "path", ...
    exit: int = 0
    duration_s: Seconds = 0.0
    hooks: list[HookRun] = []  # the hooks git ran in it, in order of first run (a gitobs shim's time included)
    editor_s: Seconds | None = None  # seconds in the editor, when git ran one
    no_verify: bool = False  # --no-verify / -n on commit, --no-verify on push and merge
    actor: str = "terminal"  # terminal | ide | agent | gitbutler | ci | script | git (docs/events.md)
    weight: int = 1  # a sampled reading command stands for this many; every other command is kept with 1
    nested: bool = False  # run by another git process (a child of git), not by the actor directly


class GitobsInstalled(Payload):
    hooks_dir: str
    version: str


class GitobsScan(Payload):
    records: int  # spool records consumed
    reflog_entries: int
    events: int
    seconds: Seconds


class GitobsPaused(Payload):
    """Recording paused (`gitobs pause`): nothing is recorded until it ends."""

    until: str | None = None  # when it ends by itself (UTC, ISO 8601); None: at `gitobs resume`


class GitobsResumed(Payload):
    by: str = "command"  # command (gitobs resume) | expiry (the pause's --for ran out)
    paused_s: Seconds | None = None  # how long recording was paused


class Sketch(msgspec.Struct, omit_defaults=True):
    """A QuantileSketch (gitobs/replay/stats.py) as a rollup keeps it: counts of log-spaced buckets."""

    bins: dict[int, int] = {}
    zeros: int = 0
    count: int = 0
    max: Seconds | None = None


ROLLUP = "rollup.day"
# The six counts of hesitation's by-branch and by-hour tables, in their column order: a rollup keeps
# them in this order (BranchCounts, RollupDay.by_hour) and the hesitation section reads them so.
HESITATION_COUNTS = ("commit.attempt", "commit.created", "commit.aborted", "commit.blocked", "commit.undone",
                     "commit.amended")


class BranchCounts(msgspec.Struct, array_like=True):
    branch: str | None
    counts: list[int]  # by HESITATION_COUNTS


class RollupDay(Payload):
    """One UTC day of raw events older than retention.max_age, as `gitobs gc` keeps it: what the heatmap
    and hesitation sections and the event counts need (docs/events.md), names as the raw events had them."""

    day: str  # YYYY-MM-DD, UTC
    events: int = 0  # the raw events it replaces
    counts: dict[str, int] = {}  # by type
    # path, then commits, lines, discards, discarded lines, samples
    files: list[tuple[str, int, int, int, int, int]] = []
    # directory prefix ("." for the top), the five counts for events with a file at or under it, and the
    # five for events with a file directly in it: a directory table at any depth is exact from these
    dirs: list[tuple[str, int, int, int, int, int, int, int, int, int, int]] = []
    heat: list[int] = []  # commit, discard and dirty-sample events
    hours: list[int] = []  # those events by UTC hour of the day (24)
    message_edit: Sketch = msgspec.field(default_factory=Sketch)
    staged: Sketch = msgspec.field(default_factory=Sketch)
    by_branch: list[BranchCounts] = []
    by_hour: list[list[int]] = []  # UTC hour -> counts by HESITATION_COUNTS
    aborted_by_stage: dict[str, int] = {}
    blocked_by_hook: dict[str, int] = {}

    def __post_init__(self) -> None:
        date.fromisoformat(self.day)  # a day that is none (2026-13-45) makes the line malformed: ValueError


class InternalError(Payload):
    """Something went wrong inside gitobs (a background scan, say); git itself was not affected."""

    where: str
    message: str


PAYLOADS: dict[str, type[Payload]] = {
    "branch.switch": BranchSwitch,
    "branch.created": BranchCreated,
    "branch.renamed": BranchRenamed,
    "commit.created": CommitCreated,
    "commit.amended": CommitAmended,
    "commit.attempt": CommitAttempt,
    "commit.aborted": CommitAborted,
    "commit.blocked": CommitBlocked,
    "commit.message_edit": CommitMessageEdit,
    "commit.undone": CommitUndone,
    "commit.reverted": CommitReverted,
    "commit.abandoned": CommitAbandoned,
    "edit.discarded": EditDiscarded,
    "worktree.sample": WorktreeSample,
    "history.reset": HistoryReset,
    "history.rebase": HistoryRebase,
    "history.merge": HistoryMerge,
    "history.cherry_pick": HistoryCherryPick,
    "history.pull": HistoryPull,
    "stash.push": StashPush,
    "stash.pop": StashRemoved,
    "stash.drop": StashRemoved,
    "push": Push,
    "ref.update": RefUpdate,
    "index.stage": IndexStage,
    "hook.ran": HookRan,
    "vbranch.created": VBranch,
    "vbranch.applied": VBranch,
    "vbranch.unapplied": VBranch,
    "vbranch.deleted": VBranch,
    "vbranch.renamed": VBranchRenamed,
    "vbranch.updated": VBranchUpdated,
    "vbranch.moved": VBranchMoved,
    "vbranch.archived": VBranchArchived,
    "vbranch.review": VBranchReview,
    "vbranch.files": VBranchFiles,
    "vbranch.ci": VBranchCi,
    "gitbutler.op": GitButlerOp,
    "git.command": GitCommand,
    "gitobs.installed": GitobsInstalled,
    "gitobs.scan": GitobsScan,
    "gitobs.paused": GitobsPaused,
    "gitobs.resumed": GitobsResumed,
    ROLLUP: RollupDay,
    "gitobs.error": InternalError,
}


class Event(msgspec.Struct, kw_only=True):
    """The envelope. `data` is a Payload when built by ingest, a plain dict when read back."""

    v: int = SCHEMA_VERSION
    seq: int = 0
    id: str
    ts: str  # UTC, ISO 8601 with milliseconds
    type: str
    src: str
    wt: str
    data: Any


# The provenance `gitobs import` gives what it takes from a commit of history: import:<sha>.
IMPORT_PROVENANCE = "import:"
# Which 16 hex digits of that sha are the id of the event import makes of it. The sha is in clear in the
# same line, so the id tells nothing more, and zstd stores it as a back-reference to the sha: 7 bytes
# less per imported event than a hash's 16 random digits (git/git, level 9).
_SHA_DIGITS = {"commit.created": slice(0, 16), "commit.reverted": slice(16, 32)}
_HEX = frozenset("0123456789abcdef")


def event_id(provenance: str, event_type: str) -> str:
    """Stable id: the same raw record or reflog line always yields the same id, so re-ingest dedupes."""
    digits = _SHA_DIGITS.get(event_type)
    if digits is not None and provenance.startswith(IMPORT_PROVENANCE):
        sha = provenance[len(IMPORT_PROVENANCE):]
        if len(sha) >= 40 and _HEX.issuperset(sha):  # SHA-1 or SHA-256, as git writes them
            return sha[digits]
    try:
        seed = f"{event_type}|{provenance}".encode()
    except UnicodeEncodeError:  # a name not in UTF-8 that a producer passed on as it came (gitobs/core/names.py)
        seed = recorded(f"{event_type}|{provenance}").encode()
    return hashlib.blake2b(seed, digest_size=8).hexdigest()


def format_ts(ts_ns: int) -> str:
    moment = datetime.fromtimestamp(ts_ns // 10**6 / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# What decoding a line that is no event raises; RecursionError: nested deeper than the decoder goes (a bundle's
# lines are bounded before that, bundle_open.MAX_DEPTH; a log's line is counted malformed like any other).
UNDECODABLE = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)


def day_start(day: str) -> int:
    """Seconds since the epoch of a rollup's UTC day ("2026-12-06")."""
    return calendar.timegm(time.strptime(day, "%Y-%m-%d"))


def parse_ts(text: str) -> float:
    """Seconds since the epoch of an envelope `ts`."""
    if len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z":  # as format_ts writes it: the C parser
        return datetime.fromisoformat(text[:23]).replace(tzinfo=timezone.utc).timestamp()
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def make_event(event_type: str, payload: Payload, *, ts_ns: int, src: str, wt: str, provenance: str) -> Event:
    expected = PAYLOADS.get(event_type)
    if expected is None or not isinstance(payload, expected):
        raise TypeError(f"{event_type} takes a {expected.__name__ if expected else 'declared'} payload")
    if src not in SOURCES:
        raise ValueError(f"unknown event source {src!r}")
    return Event(id=event_id(provenance, event_type), ts=format_ts(ts_ns), type=event_type, src=src, wt=wt,
                 data=payload)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode(event: Event) -> bytes:
    try:
        return _encoder.encode(event)
    except UnicodeEncodeError:  # a name not in UTF-8 that a producer passed on as it came (gitobs/core/names.py)
        return _encoder.encode(_escaped(msgspec.to_builtins(event)))


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return recorded(value)
    if isinstance(value, dict):
        return {recorded(key): _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def decode(line: bytes) -> Event:
    """Raises msgspec.DecodeError (a ValueError) on a malformed line."""
    return _decoder.decode(line)


def validate(event: Event) -> Event:
    """Check a decoded event's payload against its declared type (unknown `x.*` types pass as dicts)."""
    payload_type = PAYLOADS.get(event.type)
    if payload_type is not None and isinstance(event.data, dict):
        msgspec.convert(event.data, payload_type)
    return event
