"""`gitobs query` end to end: a synthetic log in a real repository's .git/obs/log, queried through the CLI
(in process, through the same `main` as `python -m gitobs`; a few runs in a real subprocess)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import commit_file, git, gitobs
from logfactory import LogBuilder

from gitobs.cli.main import main
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.log.read import EventFilter
from gitobs.replay.query import build_query, query_log

FC = schema.FileChange


def build_log(log_dir: Path) -> None:
    """14 events: 5 commits (one detached, one with `added` at its default 0), 2 switches, 4 message edits,
    1 rebase, 1 worktree sample, and an `x.*` event of a type gitobs does not declare."""
    b = LogBuilder(log_dir)
    b.add("commit.created", schema.CommitCreated(sha="a1", branch="main", added=10, deleted=2,
                                                 files=[FC("src/a.py", 10, 2)]), "2026-11-02 09:30")
    b.add("commit.message_edit", schema.CommitMessageEdit(seconds=4, branch="main"), "2026-11-02 09:31")
    b.add("commit.created", schema.CommitCreated(sha="a2", branch="main", added=5,
                                                 files=[FC("src/b.py", 5, 0)]), "2026-11-02 23:30")
    b.add("branch.switch", schema.BranchSwitch(from_="main", to="feature", dwell_s=120.5), "2026-11-03 13:00")
    b.add("commit.created", schema.CommitCreated(sha="a3", branch="feature", added=7,
                                                 files=[FC("docs/x.md", 7, 0)]), "2026-11-03 14:00")
    b.add("commit.message_edit", schema.CommitMessageEdit(seconds=30, branch="feature"), "2026-11-03 14:01")
    b.add("branch.switch", schema.BranchSwitch(from_="feature", to="main"), "2026-11-03 15:00")
    b.add("commit.created", schema.CommitCreated(sha="a4", added=3), "2026-11-04 08:00")
    b.add("commit.message_edit", schema.CommitMessageEdit(seconds=12.5), "2026-11-04 08:01")
    b.add("history.rebase", schema.HistoryRebase(branch="feature", steps={"pick": 3, "squash": 1}),
          "2026-11-04 10:00")
    b.add("commit.message_edit", schema.CommitMessageEdit(seconds=60, branch="main"), "2026-11-05 09:00")
    b.add("commit.created", schema.CommitCreated(sha="a5", branch="main"), "2026-11-05 09:05")
    b.add("worktree.sample", schema.WorktreeSample(branch="main", added=2), "2026-11-05 10:00", src="worktree")
    log = b.write()
    log.append([b'{"v":1,"seq":14,"id":"0000000000000014","ts":"2026-11-05T11:00:00.000Z","type":"x.tool.ran",'
                b'"src":"hook","wt":"wt2","data":{"n":{"k":5},"branch":"main"}}'])


@pytest.fixture
def obs_repo(tmp_path) -> Path:
    """A git repository whose .git/obs/log holds the synthetic log (read with --no-scan)."""
    path = tmp_path / "work"
    git(tmp_path, "init", "-q", str(path))
    build_log(path / ".git" / "obs" / "log")
    return path


@pytest.fixture
def cli(capsys, monkeypatch):
    """cli(*args) -> (exit code, stdout, stderr) of `gitobs *args`, run in this process."""
    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["gitobs", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code or 0
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture
def query(obs_repo, cli):
    """query(*args) -> the --json document of `gitobs query` on the synthetic log, in UTC."""
    def run(*args: str, offset: str = "UTC") -> dict:
        code, out, err = cli("query", "-C", str(obs_repo), "--no-scan", "--json", "--utc-offset", offset, *args)
        assert (code, err) == (0, ""), err
        return json.loads(out)
    return run


def rows(doc: dict) -> list[tuple]:
    return [(*row["key"].values(), row["value"]) for row in doc["rows"]]


def test_count_by_type(query):
    doc = query("-g", "type")
    assert doc["group_by"] == ["type"]
    assert doc["aggregate"] == "count"
    assert doc["field"] is None
    assert rows(doc) == [("branch.switch", 2), ("commit.created", 5), ("commit.message_edit", 4),
                         ("history.rebase", 1), ("worktree.sample", 1), ("x.tool.ran", 1)]
    assert (doc["events"], doc["skipped"]) == (14, 0)


def test_count_without_grouping_is_one_row(query):
    assert rows(query()) == [(14,)]
    assert rows(query("-w", "type=nothing.*")) == [(0,)]
    assert rows(query("-w", "type=nothing.*", "p90", "data.seconds")) == [(None,)]


def test_sum_added_by_branch(query):
    doc = query("-w", "type=commit.created", "-g", "data.branch", "sum", "data.added")
    # a5 wrote no `added` (its default, 0): it counts as 0 and is not skipped; a4 is detached
    assert rows(doc) == [("feature", 7), ("main", 15), (None, 3)]
    assert (doc["aggregate"], doc["field"], doc["events"], doc["skipped"]) == ("sum", "data.added", 5, 0)


def test_sum_skips_events_without_the_field(query):
    doc = query("-g", "type", "sum", "data.added")
    assert rows(doc) == [("commit.created", 25), ("worktree.sample", 2)]
    assert (doc["events"], doc["skipped"]) == (14, 8)
    doc = query("-w", "type=branch.switch", "sum", "data.dwell_s")
    assert rows(doc) == [(120.5,)]
    assert (doc["events"], doc["skipped"]) == (2, 1)


def test_percentiles_and_streaming_aggregates(query):
    # seconds: 4, 30, 12.5, 60 -> nearest rank: p50 is the 2nd (12.5), p90 and p99 the 4th (60)
    edits = ("-w", "type=commit.message_edit")
    assert rows(query(*edits, "p90", "data.seconds")) == [(60.0,)]
    assert rows(query("p50", "data.seconds")) == [(12.5,)]
    assert rows(query("-g", "data.branch", "p90", "data.seconds")) == [
        ("feature", 30.0), ("main", 60.0), (None, 12.5)]
    assert rows(query("min", "data.seconds")) == [(4.0,)]
    assert rows(query("max", "data.added")) == [(10,)]
    assert rows(query("avg", "data.seconds")) == [(26.625,)]
    assert rows(query("p50", "data.added")) == [(3,)]  # 0 2 3 5 7 10: whole numbers stay whole


def test_where_globs_negation_and_case(query):
    assert rows(query("-w", "type=commit.*")) == [(9,)]  # commit.created and message_edit
    assert rows(query("-w", "type=commit.*", "-w", "data.branch=feat*")) == [(2,)]
    assert rows(query("-w", "data.branch=MAIN")) == [(0,)]  # case-sensitive
    assert rows(query("-w", "type!=commit.*", "-g", "type")) == [
        ("branch.switch", 2), ("history.rebase", 1), ("worktree.sample", 1), ("x.tool.ran", 1)]
    # != keeps events without the field: the switches, the detached commit and edit, the rebase's feature
    doc = query("-w", "data.branch!=main", "-g", "type")
    assert rows(doc) == [("branch.switch", 2), ("commit.created", 2), ("commit.message_edit", 2),
                         ("history.rebase", 1)]
    assert rows(query("-w", "data.from=main")) == [(1,)]  # on-disk name, not from_
    assert rows(query("-w", "data.files=*src/*", "-g", "data.sha")) == [("a1", 1), ("a2", 1)]
    assert rows(query("-w", "seq=1?")) == [(5,)]
    assert rows(query("-w", "src=worktree", "-w", "ts=2026-11-05T10:00:*")) == [(1,)]


def test_nested_and_generic_fields(query):
    assert rows(query("sum", "data.steps.pick")) == [(3,)]
    assert rows(query("-g", "wt", "sum", "data.n.k")) == [("wt2", 5)]
    doc = query("-w", "type=x.*", "-g", "data.n")
    assert rows(doc) == [('{"k":5}', 1)]


def table(cli, repo: Path, *args: str) -> list[list[str]]:
    """The words of each line of the table `gitobs query` prints."""
    code, out, err = cli("query", "-C", str(repo), "--no-scan", *args)
    assert (code, err) == (0, "")
    return [line.split() for line in out.splitlines()]


def test_missing_group_shows_none(query, cli, obs_repo):
    assert rows(query("-g", "data.to")) == [("feature", 1), ("main", 1), (None, 12)]
    assert table(cli, obs_repo, "-g", "data.to") == [
        ["data.to", "count"], ["(none)", "12"], ["feature", "1"], ["main", "1"], ["14", "event(s)"]]


def test_day_hour_weekday_follow_utc_offset(query):
    commits = ("-w", "type=commit.created")
    assert rows(query(*commits, "-g", "day")) == [
        ("2026-11-02", 2), ("2026-11-03", 1), ("2026-11-04", 1), ("2026-11-05", 1)]
    # at +01:00 the 23:30 UTC commit falls on Tuesday 00:30
    assert rows(query(*commits, "-g", "day", "-g", "weekday", offset="+01:00")) == [
        ("2026-11-02", "Mon", 1), ("2026-11-03", "Tue", 2), ("2026-11-04", "Wed", 1), ("2026-11-05", "Thu", 1)]
    # hours are numbers, in numeric order
    assert rows(query(*commits, "-g", "hour", offset="-05:30")) == [(2, 1), (3, 1), (4, 1), (8, 1), (18, 1)]
    assert rows(query(*commits, "-w", "hour=1?", "-w", "weekday=Mo?", "-g", "day", offset="-05:30")) == [
        ("2026-11-02", 1)]


def test_since_until_branch_path(query):
    assert rows(query("--since", "2026-11-03", "--until", "2026-11-05")) == [(7,)]
    assert rows(query("--now", "2026-11-05T12:00:00Z", "--since", "1d")) == [(4,)]
    assert rows(query("--branch", "feature", "-g", "type")) == [
        ("branch.switch", 2), ("commit.created", 1), ("commit.message_edit", 1), ("history.rebase", 1)]
    assert rows(query("--path", "src", "sum", "data.added")) == [(15,)]


def test_json_is_stable_across_runs(obs_repo):
    args = ("query", "-C", str(obs_repo), "--no-scan", "--json", "--utc-offset", "+02:00",
            "-g", "data.branch", "-g", "weekday", "p90", "data.seconds")
    first, second = gitobs(*args).stdout, gitobs(*args).stdout  # two separate processes
    assert first == second
    assert json.loads(first) == {
        "group_by": ["data.branch", "weekday"], "aggregate": "p90", "field": "data.seconds",
        "rows": [{"key": {"data.branch": "feature", "weekday": "Tue"}, "value": 30.0},
                 {"key": {"data.branch": "main", "weekday": "Mon"}, "value": 4.0},
                 {"key": {"data.branch": "main", "weekday": "Thu"}, "value": 60.0},
                 {"key": {"data.branch": None, "weekday": "Wed"}, "value": 12.5}],
        "events": 14, "skipped": 10}


def test_table_sorted_by_value_then_key_with_footer(cli, obs_repo):
    assert table(cli, obs_repo, "-g", "type", "sum", "data.added") == [
        ["type", "sum", "data.added"], ["commit.created", "25"], ["worktree.sample", "2"],
        ["14", "event(s),", "8", "skipped", "(no", "number", "in", "data.added)"]]
    assert table(cli, obs_repo, "-g", "data.branch", "-w", "type=commit.*")[1:4] == [
        ["main", "5"], ["feature", "2"], ["(none)", "2"]]  # a tie goes by key: (none) sorts last
    assert table(cli, obs_repo, "p50", "data.seconds") == [
        ["p50", "data.seconds"], ["12.5"], ["14", "event(s),", "10", "skipped", "(no", "number", "in",
                                            "data.seconds)"]]


def test_names_from_the_log_stay_inert(tmp_path, cli):
    path = tmp_path / "work"
    git(tmp_path, "init", "-q", str(path))
    b = LogBuilder(path / ".git" / "obs" / "log")
    b.add("commit.created", schema.CommitCreated(sha="b1", branch="[bold]x\x1b[31m\x9b"), "2026-11-02 09:30")
    b.write()
    out = gitobs("query", "-C", str(path), "--no-scan", "-g", "data.branch").stdout
    assert "\x1b" not in out and "\x9b" not in out
    assert "[bold]x\\x1b[31m\\x9b" in out
    out = gitobs("query", "-C", str(path), "--no-scan", "--json", "-g", "data.branch").stdout
    assert "\x1b" not in out and "\x9b" not in out
    assert json.loads(out)["rows"][0]["key"] == {"data.branch": "[bold]x\x1b[31m\x9b"}


@pytest.mark.parametrize(("args", "message"), [
    (["median", "data.seconds"], "unknown aggregation 'median'"),
    (["p0", "data.seconds"], "unknown aggregation 'p0'"),
    (["sum"], "sum takes one field"),
    (["count", "data.added"], "count takes no field"),
    (["-w", "type"], "not a condition: 'type'"),
    (["-w", "=x"], "not a condition: '=x'"),
    (["-g", "branch"], "unknown field 'branch'"),
    (["-w", "data.=x"], "unknown field 'data.'"),
    (["p90", "data"], "unknown field 'data'"),
    (["--utc-offset", "+25:00"], "not a UTC offset"),
    (["--since", "yesterday"], "not a time"),
])
def test_errors_are_one_line(cli, obs_repo, args, message):
    code, out, err = cli("query", "-C", str(obs_repo), "--no-scan", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"gitobs: error: {message}")
    assert err.count("\n") == 1


def test_error_from_a_real_process(obs_repo):
    done = gitobs("query", "-C", str(obs_repo), "--no-scan", "median", "data.seconds", ok=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("gitobs: error: unknown aggregation 'median' (use count, sum, min, max, avg, p50, p90 "
                           "or p99)\n")


def test_not_recording_here(tmp_path, cli):
    git(tmp_path, "init", "-q", str(tmp_path / "bare"))
    assert cli("query", "-C", str(tmp_path / "bare"), "--no-scan") == (
        2, "", "gitobs: error: nothing recorded here yet (run gitobs install, then work as usual)\n")


def test_type_condition_skips_decoding_other_types(tmp_path):
    build_log(tmp_path / "log")
    built = build_query(["type=commit.message_edit"], [], ["sum", "data.seconds"], 0)
    assert not built.wants_type("commit.created") and built.wants_type("commit.message_edit")
    assert not build_query(["type!=x.*"], [], [], 0).wants_type("x.tool.ran")
    result = query_log(EventLog(tmp_path / "log"), built, EventFilter(), lambda m: None)
    assert (result.rows[0].value, result.events, result.skipped) == (106.5, 4, 0)


def test_through_real_git(watched):
    """Without --no-scan, query scans first: commits just made are counted."""
    commit_file(watched, "src/app.py", "a\nb\nc\n", "add app")
    git(watched, "switch", "-q", "-c", "topic")
    commit_file(watched, "src/app.py", "a\nb\nc\nd\n", "one more")
    done = gitobs("query", "--json", "-w", "type=commit.created", "-w", "data.files=*src/app.py*",
                  "-g", "data.branch", "sum", "data.added", cwd=watched)
    assert rows(json.loads(done.stdout)) == [("main", 3), ("topic", 1)]
