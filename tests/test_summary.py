"""The summary section (plugins/summary.py): the last 7 days against the 7 before, on logs built with known
events, imported history labelled, and the same bytes with and without the report cache."""

from __future__ import annotations

from gitobs_plugins.summary import SummaryAnalyzer
from logfactory import LogBuilder, at, block, report

from gitobs.core.repo import ObsPaths
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.log.schema import (
    BranchSwitch,
    CommitAborted,
    CommitBlocked,
    CommitCreated,
    CommitMessageEdit,
    EditDiscarded,
    FileChange,
)
from gitobs.replay import cache, parallel, plugins
from gitobs.replay.analysis import Context
from gitobs.replay.report import build_report
from gitobs.replay.sections import encode_json

NOW = "2026-11-30 23:00"  # a Monday; the last 7 days are 2026-11-24 .. 2026-11-30 (UTC)


def commit(builder: LogBuilder, when: str, *paths: str, src: str = "hook", lines: int = 3) -> None:
    files = [FileChange(path, lines, 0) for path in paths]
    builder.add("commit.created", CommitCreated(sha=f"{len(builder.events):040x}", branch="main", files=files,
                                                files_total=len(files), added=lines * len(files)), when, src=src)


def switch(builder: LogBuilder, when: str, left: str, entered: str, src: str = "hook") -> None:
    builder.add("branch.switch", BranchSwitch(from_=left, to=entered), when, src=src)


def known_weeks(tmp_path) -> LogBuilder:
    builder = LogBuilder(tmp_path / "log")
    # the 7 before (2026-11-17 .. 2026-11-23): 2 commits, 1 switch, 1 aborted, message times 30 s and 50 s
    commit(builder, "2026-11-17 10:00", "a.py")
    commit(builder, "2026-11-23 10:00", "b.py")
    switch(builder, "2026-11-18 10:00", "main", "topic")
    builder.add("commit.aborted", CommitAborted(branch="main", stage="editor"), "2026-11-19 10:00")
    builder.add("commit.message_edit", CommitMessageEdit(seconds=30.0), "2026-11-17 09:59")
    builder.add("commit.message_edit", CommitMessageEdit(seconds=50.0), "2026-11-23 09:59")
    # the last 7 days: 4 live commits and 2 imported, 3 switches (one ping-pong), 1 blocked, 2 discards (one
    # never sampled), message times 10, 20 and 40 s
    commit(builder, "2026-11-24 09:00", "src/app.py", "src/util.py")
    commit(builder, "2026-11-25 09:00", "src/app.py")
    commit(builder, "2026-11-26 09:00", "src/app.py", "README.md")
    commit(builder, "2026-11-30 09:00", "README.md")
    commit(builder, "2026-11-27 09:00", "old.py", src="import")
    commit(builder, "2026-11-28 09:00", "old.py", src="import")
    switch(builder, "2026-11-25 10:00", "main", "fix")
    switch(builder, "2026-11-25 10:04", "fix", "main")  # back within 10 minutes: a ping-pong
    switch(builder, "2026-11-29 10:00", "main", "topic", src="import")
    builder.add("commit.blocked", CommitBlocked(hook="pre-commit", exit=1), "2026-11-26 08:00")
    builder.add("commit.blocked", CommitBlocked(hook="pre-commit", exit=1), "2026-11-26 08:00", src="import")
    builder.add("edit.discarded", EditDiscarded(how="checkout", files=[FileChange("src/app.py", 5, 2)]),
                "2026-11-27 12:00")
    builder.add("edit.discarded", EditDiscarded(how="reset-hard"), "2026-11-28 12:00")
    for seconds, when in ((10.0, "2026-11-24 08:59"), (20.0, "2026-11-25 08:59"), (40.0, "2026-11-26 08:59")):
        builder.add("commit.message_edit", CommitMessageEdit(seconds=seconds), when)
    # three weeks back: outside both weeks
    commit(builder, "2026-11-10 10:00", "ancient.py")
    return builder


def figures(built) -> dict[str, tuple]:
    return {label: (this, before) for label, this, before in block(built, "summary", "week_over_week").rows}


def test_week_over_week_figures_from_known_events(tmp_path):
    built = report(known_weeks(tmp_path).write(), ["summary"], now=NOW)
    got = figures(built)
    assert got["commits"] == (6, 2)
    assert got["imported commits"] == (2, 0)
    assert got["branch switches"] == (3, 1)
    assert got["imported switches"] == (1, 0)
    assert got["ping-pongs"] == (1, 0)
    assert got["blocked commits"] == (1, 0)  # the imported one is not the user's live activity
    assert got["aborted commits"] == (0, 1)
    assert got["discards"] == (2, 0)
    assert got["discarded lines"] == (7, 0)
    assert got["discards never sampled"] == (1, 0)
    assert got["median message time (s)"] == (20.0, 30.0)
    busiest = block(built, "summary", "busiest_files").rows
    assert busiest[:2] == [["src/app.py", 3, 9], ["README.md", 2, 6]]
    assert {fact.label: fact.value for fact in block(built, "summary", "period").items} == {
        "last 7 days": "2026-11-24 to 2026-11-30", "the 7 before": "2026-11-17 to 2026-11-23"}


def test_the_brief_reads_as_sentences(tmp_path):
    text = block(report(known_weeks(tmp_path).write(), ["summary"], now=NOW), "summary", "brief").text
    assert text.startswith("This week: 6 commits (last week 2), 2 of them imported; 3 branch switches (1), "
                           "1 of them imported, 1 ping-pong (0).")
    assert "1 commit blocked by a hook (0), 0 aborted (1)." in text
    assert "Median time writing a commit message: 20 s (last week 30 s)." in text
    assert "2 discards of uncommitted work (0): 7 lines in 1 file lost; 1 of them never sampled" in text
    assert "Busiest files: src/app.py (3 commits, 9 lines), README.md (2 commits, 6 lines), old.py" in text


def test_the_summary_is_the_first_section_and_moves_with_now(tmp_path):
    log = known_weeks(tmp_path).write()
    built = report(log, [], now=NOW)
    assert built.sections[0].name == "summary"
    later = figures(report(log, ["summary"], now="2026-12-07 23:00"))
    assert later["commits"] == (0, 6)
    quiet = block(report(log, ["summary"], now="2027-03-01"), "summary", "brief").text
    assert quiet == "Nothing recorded in the last 14 days."
    # a week with commits alone says nothing of blocks, aborts, message times or discards
    alone = LogBuilder(tmp_path / "alone")
    commit(alone, "2026-11-30 10:00", "a.py")
    assert block(report(alone.write(), ["summary"], now=NOW), "summary", "brief").text == (
        "This week: 1 commit (last week 0); 0 branch switches (0), 0 ping-pongs (0).\n"
        "Busiest files: a.py (1 commit, 3 lines).")


def split_log(tmp_path, monkeypatch) -> ObsPaths:
    """The known weeks in a log of many small segments, a report's two processes allowed on it."""
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    events = sorted(known_weeks(tmp_path / "built").events, key=lambda event: event.ts)
    for seq, event in enumerate(events, start=1):
        event.seq = seq
    obs = ObsPaths(tmp_path / ".git")
    log = EventLog(obs.log, seal_bytes=256, sealed_level=3)  # small segments: some sealed ones
    lines = [schema.encode(event) for event in events]
    for start in range(0, len(lines), 4):
        log.append(lines[start:start + 4])
    assert len(EventLog(obs.log).segments()) >= 2
    return obs


def made(obs: ObsPaths, use_cache: bool, workers: int = 2) -> bytes:
    context = Context(now=at(NOW) / 1e9)
    return encode_json(build_report(EventLog(obs.log), plugins.load(), ["summary"], context, [].append,
                                    workers=workers, cache=use_cache))


def test_two_processes_make_the_same_summary_as_one(tmp_path, monkeypatch):
    obs = split_log(tmp_path, monkeypatch)
    merged: list[int] = []
    original = SummaryAnalyzer.merge
    monkeypatch.setattr(SummaryAnalyzer, "merge", lambda self, later: merged.append(1) or original(self, later))
    assert made(obs, False, workers=2) == made(obs, False, workers=1)
    assert merged  # the log was cut in two and the halves merged


def test_cached_and_uncached_summaries_are_the_same_bytes(tmp_path, monkeypatch):
    obs = split_log(tmp_path, monkeypatch)
    loaded: list[int] = []
    original = SummaryAnalyzer.load_state
    monkeypatch.setattr(SummaryAnalyzer, "load_state", lambda self, state: loaded.append(1) or original(self, state))
    full = made(obs, False)
    assert made(obs, True) == full  # cold: states made and kept
    assert list((obs.root / cache.DIRECTORY).glob(f"*{cache.SUFFIX}"))
    assert made(obs, True) == full  # warm: loaded
    assert loaded and b"of them imported" in full


def test_the_json_schema_is_the_one_report_md_documents(tmp_path):
    import json
    import re
    from pathlib import Path

    found = json.loads(encode_json(report(known_weeks(tmp_path).write(), [], now=NOW)))
    summary = found["sections"][0]
    assert (summary["name"], summary["plugin"]) == ("summary", "summary")
    blocks = {b["id"]: b for b in summary["blocks"]}
    assert [(b["kind"], b["id"]) for b in summary["blocks"]] == [
        ("note", "brief"), ("facts", "period"), ("table", "week_over_week"), ("table", "busiest_files")]
    assert blocks["week_over_week"]["columns"] == ["figure", "last 7 days", "the 7 before"]
    assert blocks["busiest_files"]["columns"] == ["file", "commits", "lines"]
    docs = (Path(__file__).parent.parent / "docs" / "report.md").read_text()
    section = docs[docs.index("### summary:"):docs.index("### heatmap:")]
    assert re.findall(r"^\| `(\w+)` \| (\w+) \|", section, re.M) == [(b["id"], b["kind"]) for b in summary["blocks"]]
    documented = re.findall(r"`([^`]+)`", section[section.index("in this order:"):].split("|")[0])
    assert documented == [row[0] for row in blocks["week_over_week"]["rows"]]


def test_busiest_files_of_a_week_long_before_the_newest_commit_are_not_guessed(tmp_path):
    builder = known_weeks(tmp_path)
    commit(builder, "2027-01-20 10:00", "later.py")  # the newest commit: per-file counts kept from 12-24 on
    built = report(builder.write(), ["summary"], now=NOW)
    assert figures(built)["commits"] == (6, 2)  # the counts are kept for every day
    assert "Busiest files: not known for this week" in block(built, "summary", "brief").text
    assert block(built, "summary", "busiest_files").rows == []


def test_files_held_uncounted_stay_bounded_and_count_the_same(tmp_path, monkeypatch):
    import gitobs_plugins.summary as summary

    builder = known_weeks(tmp_path)
    for n in range(60):  # a busy week: 60 commits of 3 files, some paths again and again
        commit(builder, f"2026-11-{24 + n % 7} 1{n % 10}:00", f"busy/{n % 5}.py", f"busy/{n}.py", "README.md")
    log = builder.write()
    unbounded = report(log, ["summary"], now=NOW)
    monkeypatch.setattr(summary, "HELD_CHANGES", 10)  # counted every few commits: the same tables
    seen: list[int] = []
    feed = SummaryAnalyzer.feed

    def watched(self, events):
        feed(self, events)
        seen.append(self.unfolded_changes)

    monkeypatch.setattr(SummaryAnalyzer, "feed", watched)
    bounded = report(log, ["summary"], now=NOW)
    assert seen and max(seen) <= 10
    assert encode_json(bounded) == encode_json(unbounded)
    assert block(bounded, "summary", "busiest_files").rows[0] == ["README.md", 62, 186]  # 2 + 60 commits
