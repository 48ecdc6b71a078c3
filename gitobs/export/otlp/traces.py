"""Commits and checkouts as OTLP traces, rebuilt from the log's events.

The hooks of one `git commit` leave separate events: `commit.attempt` (when pre-commit or
prepare-commit-msg started), a `hook.ran` for each of the user's chained hooks (its real start and
duration), `commit.message_edit` (the editor's time, ending when commit-msg started), then
`commit.created` or `commit.amended` from the reflog, or `commit.blocked` / `commit.aborted`. In one
worktree they come in that order, so a small state machine per worktree joins them: the root span runs
from the attempt to the commit (or to the end of post-commit), with a child span for each hook that ran
and one for the message editing. A phase no event measured gets no span: nothing is invented. A commit
seen only in the reflog (no hooks: GitButler, or `core.hooksPath` pointing elsewhere) or imported from
history (`gitobs import`) is a one-span trace at its commit time.

Each `git.command` (git's trace2, command_spans.py) is a span with its hooks and editor as children. A
`git commit` command joins the commit trace its span holds: the first commit trace of its worktree to start
within [the command's start - SLACK_NS, its end + SLACK_NS] takes the command's spans under its root (and the
command's trace id, which the command's log record already named); a commit command no trace joins, and every
other command, is a trace of its own.

The state between exports (an editor still open, a post-commit still running, a commit command waiting for
its trace) is plain JSON, kept with the export cursor. Ids are hashes of event ids, so a rebuilt trace has the
same ids.
"""

from __future__ import annotations

import hashlib

from gitobs.export.otlp.command_spans import (
    command_record,
    command_span_id_name,
    make_span,
)
from gitobs.export.otlp.command_spans import spans as command_spans
from gitobs.log import schema

COMMIT_HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit")
# A finished commit waits this long for its post-commit hook's record, a checkout for post-checkout's.
SETTLE_NS = 60 * 10**9
# An attempt still open after this is given up (the scanner closes attempts as aborted after 24 h).
GIVE_UP_NS = 25 * 3600 * 10**9
STATUS_ERROR = 2
SLACK_NS = 2 * 10**9  # a hook's record is taken a moment after git's start; times are whole milliseconds
PENDING = "\x00commands"  # the state's key for commit commands waiting for their trace: no worktree's name


def trace_id(first_event_id: str) -> bytes:
    return hashlib.blake2b(f"trace|{first_event_id}".encode(), digest_size=16).digest()


def span_id(trace: bytes, name: str) -> bytes:
    return hashlib.blake2b(trace + name.encode(), digest_size=8).digest()


def _ns(event: schema.Event) -> int:
    # Times are whole milliseconds: in nanoseconds a float is 256 ns coarse, and two spans that meet would
    # seem to overlap by its rounding.
    return round(schema.parse_ts(event.ts) * 1000) * 10**6


class TraceBuilder:
    """Feed events in log order: `feed` returns the trace and span an event belongs to (for its log record),
    and `finished` collects the traces ready to send, each a list of span dicts in the otlp_wire form."""

    def __init__(self, state: dict | None = None) -> None:
        self.open: dict[str, dict] = dict(state or {})  # worktree -> its open commit or checkout
        self.finished: list[list[dict]] = []

    def state(self) -> dict:
        return self.open

    def feed(self, event: schema.Event) -> tuple[bytes, bytes] | None:
        data = event.data if isinstance(event.data, dict) else {}
        kind = event.type
        if event.src == schema.IMPORTED:  # history, appended whenever: never part of what is open now
            return self._imported(event, data) if kind == "commit.created" else None
        if kind == "commit.attempt":
            return self._start(event, "commit", {"verify": bool(data.get("verify", True)),
                                                 "branch": data.get("branch")})
        if kind == "branch.switch":
            return self._start(event, "checkout", {"from": data.get("from"), "to": data.get("to"),
                                                   "dwell_s": data.get("dwell_s")})
        if kind == "git.command":
            return self._command(event, data)
        if kind == "hook.ran":
            return self._hook(event, data)
        if kind == "commit.message_edit":
            return self._message_edit(event, data)
        if kind in ("commit.created", "commit.amended", "commit.blocked", "commit.aborted"):
            return self._end(event, data)
        return None

    # -- the state machine -------------------------------------------------------------------------

    def _start(self, event: schema.Event, what: str, attributes: dict) -> tuple[bytes, bytes]:
        self._flush(event.wt)
        trace = trace_id(event.id)
        start = _ns(event)
        command = self._pending().get(event.wt)
        if command is not None and what == "commit" and command["start"] - SLACK_NS <= start <= command["end"] + SLACK_NS:
            del self._pending()[event.wt]
            trace = bytes.fromhex(command.pop("trace"))
        else:
            command = None
            self._flush_command(event.wt, start)
        self.open[event.wt] = {"what": what, "trace": trace.hex(), "start": start, "end": None, "last": start,
                               "attributes": attributes, "hooks": [], "edit": None, "outcome": None,
                               "command": command}
        return trace, span_id(trace, "root")

    def _command(self, event: schema.Event, data: dict) -> tuple[bytes, bytes]:
        record = command_record(data, _ns(event))
        own = span_id(trace_id(event.id), command_span_id_name(record))
        if record["command"] != "commit" or record["nested"]:
            trace = trace_id(event.id)
            self.finished.append(command_spans(record, trace, b"", span_id))
            return trace, own
        current = self.open.get(event.wt)
        if (current is not None and current["what"] == "commit" and current["outcome"] is None
                and current.get("command") is None
                and record["start"] - SLACK_NS <= current["start"] <= record["end"] + SLACK_NS):
            current["command"] = record  # its attempt came first in the log
            current["last"] = max(current["last"], record["end"])
            trace = bytes.fromhex(current["trace"])
            return trace, span_id(trace, command_span_id_name(record))
        self._flush_command(event.wt, None)
        trace = trace_id(event.id)
        self._pending()[event.wt] = {**record, "trace": trace.hex()}
        return trace, own

    def _pending(self) -> dict:
        return self.open.setdefault(PENDING, {})

    def _flush_command(self, wt: str, before_ns: int | None) -> None:
        """A commit command no trace joined, as a trace of its own (all of them, or those ended before_ns)."""
        pending = self.open.get(PENDING, {})
        command = pending.get(wt)
        if command is None or (before_ns is not None and before_ns <= command["end"] + SLACK_NS):
            return
        del pending[wt]
        trace = bytes.fromhex(command.pop("trace"))
        self.finished.append(command_spans(command, trace, b"", span_id))

    def _hook(self, event: schema.Event, data: dict) -> tuple[bytes, bytes] | None:
        current = self.open.get(event.wt)
        hook = data.get("hook")
        wanted = COMMIT_HOOKS if current and current["what"] == "commit" else ("post-checkout",)
        if current is None or hook not in wanted or (hook == "post-commit" and current["outcome"] is None):
            return None
        start = _ns(event)
        seconds = float(data.get("seconds") or 0.0)
        current["hooks"].append([hook, start, round(seconds * 1e9), int(data.get("exit") or 0)])
        current["last"] = max(current["last"], start)
        trace = bytes.fromhex(current["trace"])
        return trace, span_id(trace, f"hook|{hook}|{start}")

    def _message_edit(self, event: schema.Event, data: dict) -> tuple[bytes, bytes] | None:
        current = self.open.get(event.wt)
        if current is None or current["what"] != "commit" or current["outcome"] is not None:
            return None
        end = _ns(event)
        current["edit"] = [end - round(float(data.get("seconds") or 0.0) * 1e9), end]
        current["last"] = max(current["last"], end)
        trace = bytes.fromhex(current["trace"])
        return trace, span_id(trace, "message editing")

    def _end(self, event: schema.Event, data: dict) -> tuple[bytes, bytes] | None:
        current = self.open.get(event.wt)
        if current is None or current["what"] != "commit" or current["outcome"] is not None:
            if event.type not in ("commit.created", "commit.amended"):
                return None  # a block or abort with no attempt seen (hooks added mid-commit): a log record only
            self._flush(event.wt)
            self._start(event, "commit", {"branch": data.get("branch")})
            current = self.open[event.wt]
        current["outcome"] = event.type.split(".", 1)[1]
        current["end"] = _ns(event)
        current["last"] = max(current["last"], current["end"])
        for key in ("sha", "new", "branch", "hook", "exit", "stage", "duration_s", "added", "deleted"):
            if data.get(key) is not None:
                current["attributes"][key] = data[key]
        trace = bytes.fromhex(current["trace"])
        return trace, span_id(trace, "root")

    def _imported(self, event: schema.Event, data: dict) -> tuple[bytes, bytes]:
        trace = trace_id(event.id)
        moment = _ns(event)
        self.finished.append(_spans({"what": "commit", "trace": trace.hex(), "start": moment, "end": moment,
                                     "attributes": {key: data[key] for key in ("sha", "branch", "added", "deleted")
                                                    if data.get(key) is not None},
                                     "hooks": [], "edit": None, "outcome": "created"}))
        return trace, span_id(trace, "root")

    # -- finishing ---------------------------------------------------------------------------------

    def settle(self, now_ns: int) -> None:
        """Finish what can no longer grow: commits and checkouts quiet for SETTLE_NS, attempts given up."""
        for wt, command in list(self.open.get(PENDING, {}).items()):
            if now_ns - command["end"] > SETTLE_NS:
                self._flush_command(wt, None)
        if not self.open.get(PENDING, True):
            del self.open[PENDING]
        for wt in list(self.open):
            if wt == PENDING:
                continue
            current = self.open[wt]
            quiet = now_ns - current["last"]
            done = current["outcome"] is not None or current["what"] == "checkout"
            if (done and quiet > SETTLE_NS) or quiet > GIVE_UP_NS:
                self._flush(wt)

    def _flush(self, wt: str) -> None:
        current = self.open.pop(wt, None)
        if current is not None:
            self.finished.append(_spans(current))


def _spans(current: dict) -> list[dict]:
    trace = bytes.fromhex(current["trace"])
    root = span_id(trace, "root")
    children = []
    for hook, start, duration, exit_code in current["hooks"]:
        status = {"code": STATUS_ERROR, "message": f"exit {exit_code}"} if exit_code else None
        children.append(make_span(trace, span_id(trace, f"hook|{hook}|{start}"), root, hook, start, start + duration,
                              {"hook": hook, "exit": exit_code}, status))
    if current["edit"]:
        start, end = current["edit"]
        children.append(make_span(trace, span_id(trace, "message editing"), root, "message editing", start, end, {}))
    command = current.get("command")
    if command:
        children += command_spans(command, trace, root, span_id)
    attributes = current["attributes"]
    blocking = attributes.get("hook") if current["outcome"] == "blocked" else None
    if blocking and not any(child["name"] == blocking for child in children):
        duration = round(float(attributes.get("duration_s") or 0.0) * 1e9)
        start = current["end"] or current["start"]
        children.append(make_span(trace, span_id(trace, f"hook|{blocking}|{start}"), root, blocking, start,
                              start + duration, {"hook": blocking, "exit": attributes.get("exit", 1)},
                              {"code": STATUS_ERROR, "message": f"exit {attributes.get('exit', 1)}"}))
    ends = [current["end"] or current["start"], *(child["end_time_unix_nano"] for child in children)]
    status = {"code": STATUS_ERROR, "message": f"blocked by {blocking}"} if blocking else None
    name = "git commit" if current["what"] == "commit" else "git checkout"
    attributes = {**attributes, "outcome": current["outcome"] or ("unfinished" if name == "git commit" else "")}
    first = min([current["start"], *(child["start_time_unix_nano"] for child in children)])
    return [make_span(trace, root, b"", name, first, max(ends), attributes, status), *children]
