"""A `git.command` event (git's trace2) as OTLP spans: the command, with a child span for each hook it ran and
one for the editor.

trace2 measures each hook's and the editor's duration, not when within the command they began (gitobs keeps
the durations only), so the children are laid out back to back from the command's start in the order git
runs them: for a commit pre-commit, prepare-commit-msg, the editor, commit-msg, post-commit; for any other
command the hooks in the order they first ran. Their lengths are git's measurements; their starts are that
layout's, and the span's attributes say so (`gitobs.laid_out`).
"""

from __future__ import annotations

from typing import Any

COMMIT_ORDER = ("pre-commit", "prepare-commit-msg", "editor", "commit-msg", "post-commit")
SPAN_INTERNAL = 1
STATUS_ERROR = 2


def command_record(data: dict, start_ns: int) -> dict:
    """What the spans need of a git.command payload (as read back: a dict), kept in JSON-able form."""
    hooks = []
    for run in data.get("hooks") or []:
        if isinstance(run, list) and len(run) >= 3 and isinstance(run[0], str):
            hooks.append([run[0], _seconds(run[1]), run[2] if isinstance(run[2], int) else 0,
                          run[3] if len(run) > 3 and isinstance(run[3], int) else 1])
    editor = data.get("editor_s")
    return {"command": str(data.get("command") or "other"), "mode": str(data.get("mode") or ""),
            "exit": data.get("exit") if isinstance(data.get("exit"), int) else 0,
            "actor": str(data.get("actor") or "terminal"), "weight": data.get("weight") or 1,
            "no_verify": bool(data.get("no_verify")), "nested": bool(data.get("nested")),
            "start": start_ns, "end": start_ns + round(_seconds(data.get("duration_s")) * 1e9),
            "hooks": hooks, "editor": None if editor is None else _seconds(editor)}


def command_span_id_name(record: dict) -> str:
    return f"command|{record['start']}"


def spans(record: dict, trace: bytes, parent: bytes, span_id) -> list[dict]:
    """The command's span (under `parent`, b"" for a root) and its children; `span_id(trace, name)` names them."""
    own = span_id(trace, command_span_id_name(record))
    attributes = {key: record[key] for key in ("command", "mode", "exit", "actor", "weight", "no_verify", "nested")
                  if record[key] not in ("", None, False)}
    status = {"code": STATUS_ERROR, "message": f"exit {record['exit']}"} if record["exit"] else None
    children, cursor = [], record["start"]
    for name, seconds, exit_code, runs in _phases(record):
        end = cursor + round(seconds * 1e9)
        child_attributes: dict[str, Any] = {"laid_out": True}
        if name != "editor":
            child_attributes.update({"hook": name, "exit": exit_code, "runs": runs})
        child_status = {"code": STATUS_ERROR, "message": f"exit {exit_code}"} if exit_code else None
        children.append(make_span(trace, span_id(trace, f"{command_span_id_name(record)}|{name}"), own,
                              "editor" if name == "editor" else name, cursor, end, child_attributes, child_status))
        cursor = end
    end = max(record["end"], cursor)
    return [make_span(trace, own, parent, f"git {record['command']}", record["start"], end, attributes, status),
            *children]


def _phases(record: dict) -> list[tuple[str, float, int, int]]:
    phases = [(hook, seconds, exit_code, runs) for hook, seconds, exit_code, runs in record["hooks"]]
    if record["editor"] is not None:
        phases.append(("editor", record["editor"], 0, 1))
    if record["command"] == "commit":
        rank = {name: index for index, name in enumerate(COMMIT_ORDER)}
        phases.sort(key=lambda phase: rank.get(phase[0], len(COMMIT_ORDER)))  # stable: the rest as they ran
    return phases


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return 0.0
    return float(min(value, 1e7))


def make_span(trace: bytes, span: bytes, parent: bytes, name: str, start: int, end: int, attributes: dict,
              status: dict | None = None) -> dict:
    """One OTLP span (commit traces use it too)."""
    out: dict[str, Any] = {"trace_id": trace, "span_id": span, "parent_span_id": parent, "name": name,
                           "kind": SPAN_INTERNAL, "start_time_unix_nano": start,
                           "end_time_unix_nano": max(start, end), "attributes": attributes}
    if status:
        out["status"] = status
    return out
