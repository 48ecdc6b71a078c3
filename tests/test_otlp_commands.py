"""git commands as OTLP spans (gitobs/export/otlp/command_spans.py, traces.py): each command a span with its
hooks and editor as children; a commit's command joined with the commit trace its hooks built. Events go
through the real encoder and decoder, as the exporter reads them from the log."""

from __future__ import annotations

from logfactory import at

from gitobs.export.otlp.traces import SETTLE_NS, TraceBuilder
from gitobs.log import schema


def event(kind: str, payload: schema.Payload, when: str, seq: int, src: str = "hook") -> schema.Event:
    whole, _, millis = when.partition(".")
    moment = at(whole) + int(millis or 0) * 10**6
    made = schema.make_event(kind, payload, ts_ns=moment, src=src, wt=".", provenance=f"otlp-test:{seq}")
    made.seq = seq
    return schema.decode(schema.encode(made))  # data as the exporter reads it: a dict


def built(events: list[schema.Event], settle_at: str = "2026-11-21") -> tuple[list[list[dict]], list]:
    builder = TraceBuilder()
    links = [builder.feed(found) for found in events]
    builder.settle(at(settle_at))
    return builder.finished, links


def by_name(trace: list[dict]) -> dict[str, dict]:
    return {span["name"]: span for span in trace}


def test_a_command_is_a_span_with_its_hooks_laid_out_in_order(tmp_path):
    push = schema.GitCommand(command="push", exit=1, duration_s=3.0, actor="agent",
                             hooks=[schema.HookRun("pre-push", 2.5, 1)])
    status = schema.GitCommand(command="status", duration_s=0.2, weight=10)
    traces, links = built([event("git.command", push, "2026-11-20 10:00:00", 1, "trace2"),
                           event("git.command", status, "2026-11-20 10:01:00", 2, "trace2")])
    assert len(traces) == 2
    spans = by_name(traces[0])
    root, hook = spans["git push"], spans["pre-push"]
    assert root["parent_span_id"] == b"" and hook["parent_span_id"] == root["span_id"]
    assert root["end_time_unix_nano"] - root["start_time_unix_nano"] == 3 * 10**9
    assert hook["start_time_unix_nano"] == root["start_time_unix_nano"]
    assert hook["end_time_unix_nano"] - hook["start_time_unix_nano"] == 2_500_000_000
    assert root["status"]["code"] == 2 and hook["status"]["code"] == 2
    assert root["attributes"]["actor"] == "agent" and hook["attributes"]["laid_out"] is True
    assert links[0] == (root["trace_id"], root["span_id"])  # its log record points at its span
    assert by_name(traces[1])["git status"]["attributes"]["weight"] == 10


def commit_command(editor: float = 20.0) -> schema.GitCommand:
    return schema.GitCommand(command="commit", duration_s=23.0, editor_s=editor,
                             hooks=[schema.HookRun("commit-msg", 0.5, 0), schema.HookRun("pre-commit", 1.5, 0)])


def test_a_commit_command_joins_the_commit_trace_its_hooks_built():
    # trace2's command starts first; the shim's attempt (pre-commit starting) comes a moment later
    events = [event("git.command", commit_command(), "2026-11-20 10:00:00", 1, "trace2"),
              event("commit.attempt", schema.CommitAttempt(branch="main"), "2026-11-20 10:00:00.100", 2),
              event("hook.ran", schema.HookRan(hook="pre-commit", seconds=1.4), "2026-11-20 10:00:00.100", 3),
              event("commit.message_edit", schema.CommitMessageEdit(seconds=20.0), "2026-11-20 10:00:21.600", 4),
              event("commit.created", schema.CommitCreated(sha="a" * 40, branch="main"), "2026-11-20 10:00:23", 5,
                    "reflog")]
    traces, links = built(events)
    [trace] = traces
    spans = by_name(trace)
    [root] = [span for span in trace if span["parent_span_id"] == b""]
    [command] = [span for span in trace if span["attributes"].get("command") == "commit"]
    assert root["parent_span_id"] == b"" and command["parent_span_id"] == root["span_id"]
    assert {span["trace_id"] for span in trace} == {links[0][0]}  # the command's log record named this trace
    assert links[0][1] == command["span_id"] and links[1][1] == root["span_id"]
    assert root["start_time_unix_nano"] == command["start_time_unix_nano"]  # the root spans the whole command
    laid_out = [span["name"] for span in trace if span["parent_span_id"] == command["span_id"]]
    assert laid_out == ["pre-commit", "editor", "commit-msg"]  # git's order, whatever trace2's list said
    assert "message editing" in spans  # the hooks' own spans stay


def test_a_commit_command_with_no_trace_near_it_is_its_own_trace():
    failed = schema.GitCommand(command="commit", exit=1, duration_s=0.1)
    events = [event("git.command", failed, "2026-11-20 10:00:00", 1, "trace2"),
              event("commit.attempt", schema.CommitAttempt(branch="main"), "2026-11-20 11:00:00", 2),
              event("commit.created", schema.CommitCreated(sha="b" * 40, branch="main"), "2026-11-20 11:00:05", 3,
                    "reflog")]
    traces, _ = built(events)
    assert len(traces) == 2
    alone = [trace for trace in traces if trace[0]["name"] == "git commit" and "command" in trace[0]["attributes"]]
    assert len(alone) == 1 and len(alone[0]) == 1


def test_a_waiting_commit_command_survives_the_saved_state():
    builder = TraceBuilder()
    builder.feed(event("git.command", commit_command(editor=0.0), "2026-11-20 10:00:00", 1, "trace2"))
    assert builder.finished == []
    resumed = TraceBuilder(builder.state())
    resumed.feed(event("commit.created", schema.CommitCreated(sha="c" * 40), "2026-11-20 10:00:02", 2, "reflog"))
    resumed.settle(at("2026-11-20 10:00:02") + SETTLE_NS + 1)
    [trace] = resumed.finished
    assert len([span for span in trace if span["attributes"].get("command") == "commit"]) == 1
