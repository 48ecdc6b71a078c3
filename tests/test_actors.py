"""The actors section (plugins/actors.py): who ran git, and commits, amends, undos and discards given the
actor of the command that made them (the pairing rule in the module's docstring)."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
from gitobs_plugins.actors import ActorsAnalyzer
from logfactory import LogBuilder, at, block, report

from gitobs.log import schema as s
from gitobs.replay.analysis import Context

SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40


def command(name: str, actor: str, seconds: float = 0.2, mode: str = "", **fields) -> s.GitCommand:
    return s.GitCommand(command=name, mode=mode, duration_s=seconds, actor=actor, **fields)


def add_at(log: LogBuilder, kind: str, payload: s.Payload, when: str, src: str) -> None:
    """LogBuilder.add with milliseconds ("2026-11-20 10:00:00.300")."""
    whole, _, millis = when.partition(".")
    event = s.make_event(kind, payload, ts_ns=at(whole) + int(millis or 0) * 10**6, src=src, wt=".",
                         provenance=f"test:{len(log.events)}")
    event.seq = len(log.events) + 1
    log.events.append(event)


def shares(built) -> dict:
    """actor -> its counts and, as NAME_pct, its shares."""
    counts, shares = block(built, "actors", "counts"), block(built, "actors", "shares")
    assert [row[0] for row in counts.rows] == [row[0] for row in shares.rows]
    return {row[0]: {**dict(zip(counts.columns[1:], row[1:])),
                     **{f"{name}_pct": value for name, value in zip(shares.columns[1:], share[1:])}}
            for row, share in zip(counts.rows, shares.rows)}


def habits(built) -> dict:
    table = block(built, "actors", "habits")
    return {row[0]: dict(zip(table.columns[1:], row[1:])) for row in table.rows}


def agent_log(tmp_path):
    log = LogBuilder(tmp_path / "log")
    # an agent's session: status, a commit (its reflog line a second after the command's start), another
    log.add("git.command", command("status", "agent"), "2026-11-20 10:00:00", src="trace2")
    log.add("git.command", command("commit", "agent", 0.4), "2026-11-20 10:00:10", src="trace2")
    log.add("commit.created", s.CommitCreated(sha=SHA_A, branch="main"), "2026-11-20 10:00:11", src="reflog")
    log.add("commit.created", s.CommitCreated(sha=SHA_B, branch="main"), "2026-11-20 10:00:30", src="reflog")
    log.add("git.command", command("commit", "agent", 0.4), "2026-11-20 10:00:29", src="trace2")  # after it
    log.add("git.command", command("push", "agent", 3.0, exit=128), "2026-11-20 10:01:00", src="trace2")
    # the human amends the agent's second commit in the terminal; the editor took 50 s
    log.add("git.command", command("commit", "terminal", 51.0, editor_s=50.0), "2026-11-20 10:20:00", src="trace2")
    log.add("commit.amended", s.CommitAmended(old=SHA_B, new=SHA_C, branch="main"), "2026-11-20 10:20:51",
            src="reflog")
    # ... and throws a file's edits away (checkout -- f) from the IDE, then commits with --no-verify
    log.add("git.command", command("checkout", "ide", mode="path"), "2026-11-20 10:25:00", src="trace2")
    log.add("edit.discarded", s.EditDiscarded(how="checkout", branch="main"), "2026-11-20 10:25:00", src="hook")
    log.add("git.command", command("commit", "ide", no_verify=True), "2026-11-20 10:26:00", src="trace2")
    # a commit with no command near it (trace2 off for that one), and a nested git that counts for no one
    log.add("commit.created", s.CommitCreated(sha="d" * 40, branch="main"), "2026-11-20 11:00:00", src="reflog")
    log.add("git.command", command("fetch", "git", nested=True), "2026-11-20 11:30:00", src="trace2")
    # the agent again, the next day: a second session
    log.add("git.command", command("commit", "agent"), "2026-11-21 09:00:00", src="trace2")
    log.add("commit.created", s.CommitCreated(sha="e" * 40, branch="main"), "2026-11-21 09:00:00", src="reflog")
    return log.write()


def test_acts_take_the_actor_of_the_command_that_made_them(tmp_path):
    built = report(agent_log(tmp_path), ["actors"])
    found = shares(built)
    assert list(found) == ["agent", "ide", "terminal", "(unpaired)"]  # most commands first
    assert found["agent"]["commands"] == 5 and found["agent"]["commits"] == 3 and found["agent"]["failures"] == 1
    assert found["agent"]["commits_pct"] == 75.0 and found["agent"]["commands_pct"] == 62.5
    assert found["terminal"]["amends"] == 1 and found["terminal"]["commits"] == 0
    assert found["ide"]["discards"] == 1 and found["ide"]["no_verify"] == 1
    assert found["(unpaired)"]["commits"] == 1 and found["(unpaired)"]["commands"] == 0
    assert "git" not in found  # nested: run by git, not by an actor
    agent = habits(built)["agent"]
    assert agent["sessions"] == 2 and agent["commits_per_session"] == 1.5
    assert agent["reworked_by_human"] == 1 and agent["reworked_pct"] == 33.3
    assert habits(built)["terminal"]["reworked_by_human"] is None


def test_of_the_commands_that_hold_an_act_the_earliest_free_one_takes_it(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("git.command", command("commit", "script", 30.0), "2026-11-20 10:00:00", src="trace2")  # ends 10:00:30
    log.add("git.command", command("commit", "ci", 0.5), "2026-11-20 10:00:29", src="trace2")  # ends 10:00:29.5
    log.add("commit.created", s.CommitCreated(sha=SHA_A), "2026-11-20 10:00:30", src="reflog")
    # a status holds no commit, however near, and neither does a commit that failed
    log.add("git.command", command("status", "agent"), "2026-11-20 11:00:00", src="trace2")
    log.add("git.command", command("commit", "agent", exit=1), "2026-11-20 11:00:00", src="trace2")
    log.add("commit.created", s.CommitCreated(sha=SHA_B), "2026-11-20 11:00:00", src="reflog")
    found = shares(report(log.write(), ["actors"]))
    assert found["script"]["commits"] == 1 and found["ci"]["commits"] == 0
    assert found["(unpaired)"]["commits"] == 1


def test_commits_in_one_second_are_matched_one_to_one_in_order(tmp_path):
    # as a real scan writes them: the reflog's whole second sorts a commit before a later command's start
    log = LogBuilder(tmp_path / "log")
    add_at(log, "git.command", command("commit", "terminal", 0.09), "2026-11-20 10:00:00.100", src="trace2")
    add_at(log, "commit.created", s.CommitCreated(sha=SHA_A), "2026-11-20 10:00:00", src="reflog")
    add_at(log, "git.command", command("commit", "agent", 0.08), "2026-11-20 10:00:00.300", src="trace2")
    add_at(log, "commit.created", s.CommitCreated(sha=SHA_B), "2026-11-20 10:00:00", src="reflog")
    add_at(log, "commit.created", s.CommitCreated(sha=SHA_C), "2026-11-20 10:00:00", src="reflog")
    add_at(log, "git.command", command("commit", "agent", 0.02, exit=1), "2026-11-20 10:00:00.600", src="trace2")
    add_at(log, "git.command", command("commit", "ide", 0.04), "2026-11-20 10:00:00.900", src="trace2")
    found = shares(report(log.write(), ["actors"]))
    assert [found[actor]["commits"] for actor in ("terminal", "agent", "ide")] == [1, 1, 1]


def test_without_git_commands_a_note_says_how_to_get_them(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("commit.created", s.CommitCreated(sha=SHA_A), "2026-11-20 10:00", src="reflog")
    built = report(log.write(), ["actors"])
    assert "gitobs trace2 enable" in block(built, "actors", "no_actors").text


def test_imported_history_is_no_ones_act(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for n in range(50):  # gitobs import of a project's history: years of commits, nobody's live act
        log.add("commit.created", s.CommitCreated(sha=f"{n:040x}", branch="main"), f"2024-03-{n % 28 + 1:02d} 10:00",
                src="import")
    log.add("git.command", command("commit", "agent"), "2026-11-20 10:00:00", src="trace2")
    log.add("commit.created", s.CommitCreated(sha=SHA_A, branch="main"), "2026-11-20 10:00:00", src="reflog")
    # an imported commit written in the same second as the agent's next one does not take its command
    log.add("git.command", command("commit", "agent"), "2026-11-20 11:00:00", src="trace2")
    log.add("commit.created", s.CommitCreated(sha=SHA_B, branch="main"), "2026-11-20 11:00:00", src="import")
    log.add("commit.created", s.CommitCreated(sha=SHA_C, branch="main"), "2026-11-20 11:00:00", src="reflog")
    # an imported amend of the agent's commit, at a terminal's command, is no human's rework
    log.add("git.command", command("commit", "terminal"), "2026-11-20 12:00:00", src="trace2")
    log.add("commit.amended", s.CommitAmended(old=SHA_A, new="f" * 40), "2026-11-20 12:00:00", src="import")
    built = report(log.write(), ["actors"])
    found = shares(built)
    assert list(found) == ["agent", "terminal"]  # no "(unpaired)" row: the 52 imported acts are not counted
    assert found["agent"]["commits"] == 2 and found["terminal"]["amends"] == 0
    assert habits(built)["agent"]["reworked_by_human"] == 0


class Fed:
    """An event as replay hands it to an analyzer: type, ts, t, src and the typed payload."""

    def __init__(self, kind: str, payload: s.Payload, when: str, src: str = "trace2") -> None:
        self.type, self.data, self.src = kind, payload, src
        self.t = at(when) / 1e9
        self.ts = datetime.fromtimestamp(self.t, timezone.utc)


def test_two_parts_merged_are_one_instance_fed_everything_reworks_across_the_night_included():
    day_one, day_two = [], []
    for n in range(6):  # the agent commits in the evening ...
        day_one.append(Fed("git.command", command("commit", "agent"), f"2026-11-20 18:{n:02d}:00"))
        day_one.append(Fed("commit.created", s.CommitCreated(sha=f"{n:040x}"), f"2026-11-20 18:{n:02d}:00"))
    day_one.append(Fed("git.command", command("checkout", "agent", mode="path"), "2026-11-20 18:30:00"))
    day_one.append(Fed("edit.discarded", s.EditDiscarded(how="checkout"), "2026-11-20 18:30:00"))  # waits
    for n in (1, 4):  # ... and the human amends two of those commits the next morning
        day_two.append(Fed("git.command", command("commit", "terminal"), f"2026-11-21 09:0{n}:00"))
        day_two.append(Fed("commit.amended", s.CommitAmended(old=f"{n:040x}", new="f" * 40),
                           f"2026-11-21 09:0{n}:00"))
    day_two.append(Fed("git.command", command("reset", "ide"), "2026-11-21 09:10:00"))
    day_two.append(Fed("commit.undone", s.CommitUndone(sha=f"{5:040x}"), "2026-11-21 09:10:00"))
    context = Context(now=at("2026-11-30") / 1e9)
    whole = ActorsAnalyzer(context)
    whole.feed(day_one + day_two)
    first, later = ActorsAnalyzer(context), ActorsAnalyzer(context)
    first.feed(day_one)
    later.feed(day_two)
    assert day_two[0].t - day_one[-1].t > first.horizon()
    first.merge(later)
    assert encode_json_blocks(first.result()) == encode_json_blocks(whole.result())
    assert reworked_of(first) == reworked_of(whole) == 3  # two amends and an undo
    more = [Fed("git.command", command("commit", "terminal"), "2026-11-21 10:00:00"),
            Fed("commit.amended", s.CommitAmended(old=f"{2:040x}", new="e" * 40), "2026-11-21 10:00:00")]
    first.feed(more)  # the merged instance goes on as the whole one does
    whole.feed(more)
    assert reworked_of(first) == reworked_of(whole) == 4
    assert encode_json_blocks(first.result()) == encode_json_blocks(whole.result())


def reworked_of(analyzer: ActorsAnalyzer) -> int:
    [habits] = [found for found in analyzer.result() if found.id == "habits"]
    [agent] = [row for row in habits.rows if row[0] == "agent"]
    return agent[4]


def encode_json_blocks(blocks: list) -> bytes:
    return msgspec.json.encode(blocks)


def test_commits_are_remembered_for_the_rework_week_and_waiting_acts_are_bounded():
    from gitobs_plugins.actors import COMMITS, MAX_WAITING, REWORK_WINDOW_S

    analyzer = ActorsAnalyzer(Context(now=at("2026-12-31") / 1e9))
    start = at("2026-10-01") / 1e9
    for hour in range(60 * 24):  # a commit an hour for 60 days, no git command at all
        when = datetime.fromtimestamp(start + hour * 3600, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        analyzer.feed([Fed("commit.created", s.CommitCreated(sha=f"{hour:040x}"), when)])
    kept = [t for _, t in analyzer.made_by.values()]
    assert 7 * 24 <= len(kept) <= 9 * 24  # a week of commits (plus at most a day), not 1,440
    assert min(kept) >= analyzer.clock - REWORK_WINDOW_S - 86400
    burst = [Fed("commit.created", s.CommitCreated(sha=f"{n:040x}"), "2026-12-01 10:00:00")
             for n in range(3 * MAX_WAITING)]  # thousands of commits within one second (a script)
    analyzer.feed(burst)
    assert len(analyzer.waiting) <= MAX_WAITING
    assert sum(row[COMMITS] for row in analyzer.counts.values()) + len(analyzer.waiting) == 60 * 24 + 3 * MAX_WAITING
