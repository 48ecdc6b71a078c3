"""The commands, actors and hooks sections end to end from real trace2 output: fixtures/trace2/make-traces.sh
runs real git (an editor, a blocking hook, --no-verify, path checkouts, a rebase, an agent-like environment
with CLAUDECODE=1 under a process named node, an IDE-like one, CI), capture turns each process's trace2
file into events, the real writer logs them, and the real replay makes the sections."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from logfactory import block, report

from gitobs.capture.actors import ACTOR_ENV_VARS
from gitobs.capture.trace2_events import events_of
from gitobs.log import schema
from gitobs.log.eventlog import EventLog

SCRIPT = Path(__file__).resolve().parent.parent / "fixtures" / "trace2" / "make-traces.sh"


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> EventLog:
    out = tmp_path_factory.mktemp("traces")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env["GIT_TRACE2_ENV_VARS"] = ",".join(ACTOR_ENV_VARS)
    env["GIT_TRACE2_EVENT_BRIEF"] = "1"  # as `gitobs trace2 enable` sets it
    subprocess.run([str(SCRIPT), str(out)], check=True, env=env, capture_output=True)
    found = []
    for path in sorted(out.glob("*/*")):
        if path.parent.name == "worktree" or not path.is_file():
            continue
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for kind, payload, ts_ns, origin in events_of(records):
            found.append((ts_ns, origin, kind, payload))
    found.sort(key=lambda item: (item[0], item[1], item[2]))  # a scan writes in time order
    events = []
    for seq, (ts_ns, origin, kind, payload) in enumerate(found, 1):
        made = schema.make_event(kind, payload, ts_ns=ts_ns, src="trace2", wt=".", provenance=origin)
        made.seq = seq
        events.append(schema.encode(made))
    log = EventLog(tmp_path_factory.mktemp("log"))
    log.append(events)
    return log


def rows(built, section: str, block_id: str) -> list:
    return block(built, section, block_id).rows


def test_commands_from_real_git(logged):
    built = report(logged, ["commands"], now="2100-01-01")
    by_command = {(row[0], row[1]): row for row in rows(built, "commands", "by_command")}
    assert by_command[("commit", "")][3] >= 1  # the commit the hook blocked
    assert ("checkout", "path") in by_command and ("checkout", "branch") in by_command
    assert ("reset", "hard") in by_command and any(command == "rebase" for command, _ in by_command)
    failures = rows(built, "commands", "failures")
    assert ["status", "", 129, 1] in failures and ["commit", "", 1, 1] in failures
    # the commit whose editor ran: the editor's time is not git's
    events = [schema.decode(line) for content in logged.iter_contents() for line in content.splitlines()]
    commits = [event.data for event in events if event.type == "git.command"
               and event.data["command"] == "commit" and not event.data.get("nested")]
    assert any(data.get("editor_s") for data in commits)
    git_time = sum(round((data["duration_s"] - (data.get("editor_s") or 0.0)) * 1e6) for data in commits) / 1e6
    assert by_command[("commit", "")][8] == round(git_time, 3)


def test_actors_from_real_git(logged):
    built = report(logged, ["actors"], now="2100-01-01")
    shares = {row[0]: row for row in rows(built, "actors", "counts")}
    for actor in ("agent", "ide", "ci", "terminal", "script"):
        assert shares[actor][1] >= 1, actor  # commands
    columns = block(built, "actors", "counts").columns
    discards = columns.index("discards")
    # the path checkouts, the restore and the reset --hard: each discard paired with the command that made it
    assert sum(row[discards] for row in shares.values()) >= 4
    assert "(unpaired)" not in shares


def test_hooks_from_real_git(logged):
    built = report(logged, ["hooks"], now="2100-01-01")
    hooks = {row[0]: row for row in rows(built, "hooks", "by_hook")}
    assert hooks["pre-commit"][1] >= 2 and hooks["pre-commit"][-1] >= 1  # ran twice, refused once
    bypasses = rows(built, "hooks", "no_verify")
    assert sum(row[2] for row in bypasses) == 3  # commit --no-verify, commit -n, push --no-verify
    assert {row[1] for row in bypasses} == {"commit", "push"}
