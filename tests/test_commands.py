"""The commands section (plugins/commands.py): git commands as trace2 tells them, from logs of real
`git.command` events written by the real writer and replayed by the real engine."""

from __future__ import annotations

import pytest
from gitobs_plugins.commands import weighted_add
from logfactory import LogBuilder, block, report

from gitobs.core.repo import GitobsError
from gitobs.log import schema as s
from gitobs.log.read import EventFilter
from gitobs.plugin import QuantileSketch
from gitobs.replay.query import build_query, key_labels, query_log


def command(name: str, seconds: float, mode: str = "", exit: int = 0, **fields) -> s.GitCommand:
    return s.GitCommand(command=name, mode=mode, exit=exit, duration_s=seconds, **fields)


def facts(built, block_id: str) -> dict:
    return {fact.label: fact.value for fact in block(built, "commands", block_id).items}


def table(built, block_id: str) -> list:
    return block(built, "commands", block_id).rows


def test_counts_failures_quantiles_and_weights(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for minute, seconds in enumerate([0.1, 0.2, 0.3, 0.4, 2.0]):
        log.add("git.command", command("status", seconds), f"2026-11-20 10:{minute:02d}", src="trace2")
    log.add("git.command", command("status", 0.5, weight=5), "2026-11-20 10:10", src="trace2")
    log.add("git.command", command("checkout", 0.2, mode="path"), "2026-11-20 10:11", src="trace2")
    log.add("git.command", command("checkout", 0.3, mode="branch"), "2026-11-20 10:12", src="trace2")
    log.add("git.command", command("checkout", 0.1, mode="branch", exit=1), "2026-11-20 10:13", src="trace2")
    log.add("git.command", command("push", 3.0, exit=128), "2026-11-20 10:14", src="trace2")
    # 40 s in the editor is the user's time, not git's: the commit took 0.25 s
    log.add("git.command", command("commit", 40.25, editor_s=40.0), "2026-11-20 10:15", src="trace2")
    log.add("git.command", command("fetch", 9.0, nested=True), "2026-11-20 10:16", src="trace2")
    built = report(log.write(), ["commands"])

    assert facts(built, "totals") == {"commands": 15, "failed": 2, "time in git": 9.35,
                                      "run by git itself (nested, not counted)": 1}
    rows = {(row[0], row[1]): row for row in table(built, "by_command")}
    # the five timed runs and five at 0.5 s: p50 is 0.5, p90 0.5, the slowest 2.0 (within the sketch's 1 %)
    status = rows[("status", "")]
    assert status[2:4] == [10, 0]
    assert abs(status[4] - 0.5) < 0.01 and abs(status[5] - 0.5) < 0.01 and status[7] == 2.0
    assert rows[("checkout", "branch")][2:4] == [2, 1]
    assert abs(rows[("commit", "")][7] - 0.25) < 1e-9
    assert ("fetch", "") not in rows
    assert table(built, "by_command")[0][0] == "status"  # most run first
    assert table(built, "failures") == [["checkout", "branch", 1, 1], ["push", "", 128, 1]]
    slowest = table(built, "slowest")
    assert [row[0] for row in slowest[:2]] == ["push", "status"]
    assert "pre-push" in slowest[0][5] and "core.fsmonitor" in slowest[1][5]


def test_trend_compares_the_last_period_with_the_one_before(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for day in (10, 12):  # two statuses in the period before (Nov 16-22 is "last"; Nov 9-15 "before")
        log.add("git.command", command("status", 1.0), f"2026-11-{day} 09:00", src="trace2")
    for day in (17, 18, 19, 20):
        log.add("git.command", command("status", 0.5, exit=1 if day == 20 else 0), f"2026-11-{day} 09:00",
                src="trace2")
    log.add("git.command", command("status", 0.5), "2026-11-02 09:00", src="trace2")  # older: in neither
    written = log.write()
    built = report(written, ["commands"], now="2026-11-22 12:00")
    assert table(built, "trend") == [["status", "", 4, 2, 100.0, 1, 0, 0.5, 1.0]]
    fortnight = report(written, ["commands"], now="2026-11-22 12:00", options={"commands.period": "14d"})
    assert table(fortnight, "trend")[0][2:4] == [6, 1]


def test_no_commands_says_how_to_turn_trace2_on(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("commit.attempt", s.CommitAttempt(branch="main"), "2026-11-20 10:00")
    built = report(log.write(), ["commands"])
    assert "gitobs trace2 enable" in block(built, "commands", "no_commands").text


def test_a_period_under_a_day_is_a_one_line_error(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("git.command", command("status", 1.0), "2026-11-20 10:00", src="trace2")
    with pytest.raises(GitobsError, match="a day or more"):
        report(log.write(), ["commands"], options={"commands.period": "1h"})


def test_gitobs_query_groups_git_commands_by_actor_and_command(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for actor, name, seconds, weight in [("agent", "commit", 0.5, 1), ("agent", "status", 0.1, 10),
                                         ("terminal", "commit", 1.5, 1), ("agent", "commit", 0.7, 1)]:
        log.add("git.command", command(name, seconds, actor=actor, weight=weight), "2026-11-20 10:00", src="trace2")
    written = log.write()
    counted = query_log(written, build_query(["type=git.command"], ["data.actor", "data.command"], [], 0),
                        EventFilter(), print)
    assert [(*key_labels(counted.query, row.key), row.value) for row in counted.rows] == [
        ("agent", "commit", 2), ("agent", "status", 1), ("terminal", "commit", 1)]
    weighted = query_log(written, build_query(["data.actor=agent"], ["data.command"], ["sum", "data.weight"], 0),
                         EventFilter(), print)
    assert [(*key_labels(weighted.query, row.key), row.value) for row in weighted.rows] == [
        ("commit", 2), ("status", 10)]
    slow = query_log(written, build_query(["data.command=commit"], ["data.actor"], ["max", "data.duration_s"], 0),
                     EventFilter(), print)
    assert [(*key_labels(slow.query, row.key), row.value) for row in slow.rows] == [("agent", 0.7), ("terminal", 1.5)]


def test_a_weighted_add_is_the_same_sketch_as_adding_one_at_a_time():
    one_by_one, at_once = QuantileSketch(), QuantileSketch()
    for value, weight in [(0.25, 10), (0.0, 3), (1e-9, 2), (3.5, 1), (0.25, 4)]:
        for _ in range(weight):
            one_by_one.add(value)
        weighted_add(at_once, value, weight)
    assert at_once.save() == one_by_one.save()
