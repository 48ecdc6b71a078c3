"""The commands, actors and hooks sections on the benchmark's generated log with 30% `git.command` events:
the same bytes from one process or two, and from the report cache cold, warm and fed new events."""

from __future__ import annotations

import json

import pytest
from logfactory import at, eventgen

from gitobs.core.repo import ObsPaths
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.replay import parallel, plugins
from gitobs.replay.analysis import Context
from gitobs.replay.report import build_report
from gitobs.replay.sections import encode_json

NOW = at("2024-02-20") / 1e9
SECTIONS = ["commands", "actors", "hooks"]


LINES = [schema.encode(event) for event in eventgen().events(6000, seed=5, files=300, git_commands=0.3)]


def _append(obs: ObsPaths, lines: list[bytes]) -> None:
    log = EventLog(obs.log, seal_bytes=32 << 10, sealed_level=3)
    for start in range(0, len(lines), 200):
        log.append(lines[start:start + 200])


@pytest.fixture
def obs(tmp_path, monkeypatch) -> ObsPaths:
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    paths = ObsPaths(tmp_path / ".git")
    _append(paths, LINES[:5000])
    return paths


def _report(obs: ObsPaths, use_cache: bool, workers: int, **context) -> bytes:
    context.setdefault("now", NOW)
    built = build_report(EventLog(obs.log), plugins.load(), SECTIONS, Context(**context), lambda _: None,
                         workers=workers, cache=use_cache)
    return encode_json(built)


@pytest.mark.parametrize("context", [{}, {"utc_offset_s": 3600},
                                     {"options": {"hooks.budget.pre-commit": "0.5s", "commands.period": "14d"}}])
def test_one_process_two_processes_cold_and_warm_give_the_same_bytes(obs, context):
    full = _report(obs, False, 1, **context)
    sections = {section["name"]: section for section in json.loads(full)["sections"]}
    assert list(sections) == ["hooks", "commands", "actors"]  # in their order
    assert all("error" not in section for section in sections.values())
    assert {"by_command", "trend", "slowest"} <= {block["id"] for block in sections["commands"]["blocks"]}
    assert {"counts", "shares", "habits"} <= {block["id"] for block in sections["actors"]["blocks"]}
    assert {"budgets", "no_verify"} <= {block["id"] for block in sections["hooks"]["blocks"]}
    assert _report(obs, False, 2, **context) == full
    assert _report(obs, True, 2, **context) == full  # cold
    assert _report(obs, True, 2, **context) == full  # warm
    _append(obs, LINES[5000:])  # new events after the states
    more = _report(obs, False, 1, **context)
    assert more != full
    assert _report(obs, True, 2, **context) == more
    assert _report(obs, True, 1, **context) == more
