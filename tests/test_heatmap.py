"""The heatmap analyzer: per-file and per-directory activity, time buckets, calendar, punchcard, file types."""

from __future__ import annotations

import json
import math
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest
from conftest import commit_file, git, gitobs
from gitobs_plugins.heatmap import HeatmapAnalyzer, type_of
from logfactory import LogBuilder, at, block, report

from gitobs.core.repo import GitobsError
from gitobs.log.read import EventFilter
from gitobs.log.schema import CommitCreated, EditDiscarded, FileChange, WorktreeSample
from gitobs.replay.analysis import Context
from gitobs.replay.engine import Consumer, replay
from gitobs.replay.sections import encode_json

COLUMNS = ["commits", "lines", "discards", "discarded lines", "samples"]
UNSAMPLED = "discards never sampled (what they lost is not known)"
IMPORTED = "of them imported (gitobs import)"


class Log:
    """A LogBuilder with one helper per consumed event type; files are (path, added, deleted)."""

    def __init__(self, tmp_path) -> None:
        self.builder = LogBuilder(tmp_path / "log")

    def commit(self, when: str, *files: tuple, merge: bool = False) -> Log:
        parents = ["1" * 40, "2" * 40] if merge else ["1" * 40]
        self.builder.add("commit.created", CommitCreated(sha="a" * 40, branch="main", parents=parents, merge=merge,
                                                         files=[FileChange(*f) for f in files]), when)
        return self

    def discard(self, when: str, *files: tuple) -> Log:
        self.builder.add("edit.discarded", EditDiscarded(how="checkout", files=[FileChange(*f) for f in files]), when)
        return self

    def sample(self, when: str, *files: tuple) -> Log:
        self.builder.add("worktree.sample", WorktreeSample(files=[FileChange(*f) for f in files]), when,
                         src="worktree")
        return self

    def report(self, **context):
        return report(self.builder.write(), only=["heatmap"], **context)


def rows(built, block_id: str) -> list:
    return block(built, "heatmap", block_id).rows


def facts(built) -> dict:
    return {fact.label: fact.value for fact in block(built, "heatmap", "totals").items}


def grid(built, block_id: str) -> tuple[list, list, list]:
    found = block(built, "heatmap", block_id)
    return found.row_labels, found.column_labels, found.cells


def week_of_work(tmp_path) -> Log:
    return (Log(tmp_path)
            .commit("2026-11-02 09:30", ("src/api/handler.py", 10, 2), ("src/api/routes.py", 3, 0), ("README.md", 1, 1))
            .commit("2026-11-03 14:00", ("src/api/handler.py", 4, 4), ("docs/guide.md", 7, 0), merge=True)
            .sample("2026-11-04 09:00", ("src/api/handler.py", 5, 0), ("src/db/models.py", 2, 3))
            .sample("2026-11-04 09:45", ("src/db/models.py", 2, 3))
            .discard("2026-11-04 10:00", ("src/api/handler.py", 5, 0), ("src/db/models.py", 2, 3))
            .sample("2026-11-04 10:05")  # a clean tree: not activity
            .discard("2026-11-05 08:00"))  # `git checkout -- f` on an unmodified file: no files


def test_per_file_and_per_directory_tables_count_each_kind_separately(tmp_path):
    built = week_of_work(tmp_path).report()
    assert block(built, "heatmap", "by_file").columns == ["file", *COLUMNS]
    # Ranked by events (commits + discards + samples), then lines, then name; the merge's files count.
    assert rows(built, "by_file") == [
        ["src/api/handler.py", 2, 20, 1, 5, 1],
        ["src/db/models.py", 0, 0, 1, 5, 2],
        ["docs/guide.md", 1, 7, 0, 0, 0],
        ["src/api/routes.py", 1, 3, 0, 0, 0],
        ["README.md", 1, 2, 0, 0, 0],
    ]
    # A directory counts an event once, however many of its files the event names.
    assert block(built, "heatmap", "by_dir").columns == ["directory", *COLUMNS]
    assert rows(built, "by_dir") == [["src", 2, 23, 1, 10, 2], ["docs", 1, 7, 0, 0, 0], [".", 1, 2, 0, 0, 0]]
    assert facts(built) == {"commits": 2, IMPORTED: 0, "files touched by commits": 5, "lines changed in commits": 32,
                            "discards": 2, "lines discarded": 10, UNSAMPLED: 1, "dirty samples": 2,
                            "distinct files": 5, "time bucket": "day"}  # the discard on 11-05 had no files
    assert block(built, "heatmap", "by_file").total_rows is None


def test_time_grids_per_file_and_directory(tmp_path):
    built = week_of_work(tmp_path).report()
    days = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]  # the file-less discard ends the span
    assert grid(built, "by_file_time") == (
        ["src/api/handler.py", "src/db/models.py", "docs/guide.md", "src/api/routes.py", "README.md"], days,
        [[1, 1, 2, 0], [0, 0, 3, 0], [0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    assert grid(built, "by_dir_time") == (["src", "docs", "."], days, [[1, 1, 3, 0], [0, 1, 0, 0], [1, 0, 0, 0]])


def test_events_going_back_and_forth_in_time_land_in_their_own_buckets(tmp_path):
    # Two worktrees written in turns, around midnight: the log order is not the time order.
    built = (Log(tmp_path).commit("2026-11-02 23:50", ("src/a.py", 1, 0)).sample("2026-11-03 00:10", ("src/a.py", 1, 0))
             .discard("2026-11-02 23:55", ("src/a.py", 1, 0), ("src/b.py", 2, 0))
             .sample("2026-11-03 00:20", ("src/a.py", 1, 0), ("src/b.py", 1, 0)).report())
    assert grid(built, "by_file_time") == (["src/a.py", "src/b.py"], ["2026-11-02", "2026-11-03"],
                                           [[2, 2], [1, 1]])
    assert grid(built, "by_dir_time")[2] == [[2, 2]]
    assert rows(built, "by_file") == [["src/a.py", 1, 1, 1, 1, 2], ["src/b.py", 0, 0, 1, 2, 1]]


def test_same_log_and_now_give_the_same_bytes(tmp_path):
    log = week_of_work(tmp_path).builder.write()
    first, second = (encode_json(report(log, only=["heatmap"], utc_offset_s=3600)) for _ in range(2))
    assert first == second


def drill_down_log(tmp_path) -> Log:
    return (Log(tmp_path)
            .commit("2026-11-02 09:30", ("src/api/v1/users.py", 1, 0), ("src/api/v2/users.py", 2, 0),
                    ("src/main.py", 3, 0), ("docs/a.md", 1, 0))
            .commit("2026-11-03 09:30", ("src/db/models.py", 4, 0), ("src/api/v1/users.py", 1, 1)))


def test_path_drills_down_one_level_below_it_by_default(tmp_path):
    built = drill_down_log(tmp_path).report(path="src")
    # src/main.py is directly in src; docs/a.md is outside --path and left out.
    assert rows(built, "by_dir") == [["src/api", 2, 5, 0, 0, 0], ["src/db", 1, 4, 0, 0, 0], ["src", 1, 3, 0, 0, 0]]
    assert [row[0] for row in rows(built, "by_file")] == [
        "src/api/v1/users.py", "src/db/models.py", "src/main.py", "src/api/v2/users.py"]
    assert facts(built)["lines changed in commits"] == 12


def test_depth_counts_levels_below_the_path(tmp_path):
    log = drill_down_log(tmp_path).builder.write()
    deeper = report(log, only=["heatmap"], path="src", depth=2)
    assert rows(deeper, "by_dir") == [["src/api/v1", 2, 3, 0, 0, 0], ["src/db", 1, 4, 0, 0, 0],
                                      ["src", 1, 3, 0, 0, 0], ["src/api/v2", 1, 2, 0, 0, 0]]
    unscoped = report(log, only=["heatmap"], depth=2)
    assert rows(unscoped, "by_dir") == [["src/api", 2, 5, 0, 0, 0], ["src/db", 1, 4, 0, 0, 0],
                                        ["src", 1, 3, 0, 0, 0], ["docs", 1, 1, 0, 0, 0]]
    top_level = report(log, only=["heatmap"])
    assert rows(top_level, "by_dir") == [["src", 2, 12, 0, 0, 0], ["docs", 1, 1, 0, 0, 0]]


def test_a_span_of_31_days_has_day_buckets(tmp_path):
    built = Log(tmp_path).commit("2026-10-01 12:00", ("a.py", 1, 0)).commit("2026-11-01 12:00", ("a.py", 1, 0)).report()
    _, columns, cells = grid(built, "by_file_time")
    assert (len(columns), columns[0], columns[-1]) == (32, "2026-10-01", "2026-11-01")
    assert cells == [[1] + [0] * 30 + [1]]
    assert facts(built)["time bucket"] == "day"


def test_a_longer_span_has_iso_week_buckets(tmp_path):
    built = Log(tmp_path).commit("2026-10-01 12:00", ("a.py", 1, 0)).commit("2026-11-02 12:00", ("a.py", 1, 0)).report()
    assert grid(built, "by_file_time") == (
        ["a.py"], ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44", "2026-W45"], [[1, 0, 0, 0, 0, 1]])
    assert facts(built)["time bucket"] == "week"


def test_more_than_a_year_has_month_buckets(tmp_path):
    built = (Log(tmp_path).commit("2025-06-30 12:00", ("a.py", 1, 0)).commit("2025-07-01 12:00", ("a.py", 1, 0))
             .commit("2026-07-02 12:00", ("a.py", 1, 0)).report())
    _, columns, cells = grid(built, "by_file_time")
    assert columns == ["2025-06", "2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01",
                       "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07"]
    assert cells == [[1, 1] + [0] * 11 + [1]]


def test_buckets_get_coarser_as_out_of_order_events_widen_the_span(tmp_path):
    # Day buckets first, weeks after 2026-11-15, months after the older event written last. 09-28 and 10-01
    # share an ISO week but not a month: they must still end up in different months.
    built = (Log(tmp_path).commit("2026-09-28 12:00", ("a.py", 1, 0)).commit("2026-10-01 12:00", ("a.py", 1, 0))
             .commit("2026-11-15 12:00", ("a.py", 1, 0)).commit("2025-09-01 12:00", ("b.py", 1, 0)).report())
    labels, columns, cells = grid(built, "by_file_time")
    assert (columns[0], columns[-1], len(columns)) == ("2025-09", "2026-11", 15)
    assert labels == ["a.py", "b.py"]
    assert cells == [[0] * 12 + [1, 1, 1], [1] + [0] * 14]
    assert grid(built, "by_dir_time")[2] == [[1] + [0] * 11 + [1, 1, 1]]


def test_the_bucket_option_overrides_the_choice(tmp_path):
    log = Log(tmp_path).commit("2026-11-02 12:00", ("a.py", 1, 0)).commit("2026-11-09 12:00", ("a.py", 1, 0))
    written = log.builder.write()
    monthly = report(written, only=["heatmap"], options={"heatmap.bucket": "month"})
    assert grid(monthly, "by_file_time") == (["a.py"], ["2026-11"], [[2]])
    assert facts(monthly)["time bucket"] == "month"
    weekly = report(written, only=["heatmap"], options={"heatmap.bucket": "week"})
    assert grid(weekly, "by_file_time") == (["a.py"], ["2026-W45", "2026-W46"], [[1, 1]])


def test_a_bad_bucket_option_is_a_one_line_error(tmp_path):
    log = Log(tmp_path).commit("2026-11-02 12:00", ("a.py", 1, 0)).builder.write()
    with pytest.raises(GitobsError, match=r"^option heatmap.bucket takes auto, day, week or month, not 'hourly'$"):
        report(log, only=["heatmap"], options={"heatmap.bucket": "hourly"})


def test_a_bad_top_option_is_a_one_line_error(tmp_path):
    log = Log(tmp_path).commit("2026-11-02 12:00", ("a.py", 1, 0)).builder.write()
    with pytest.raises(GitobsError, match=r"^option heatmap.top takes a whole number from 1, not 0$"):
        report(log, only=["heatmap"], options={"heatmap.top": "0"})
    with pytest.raises(GitobsError, match=r"^option heatmap.top takes a whole number, not 'many'$"):
        report(log, only=["heatmap"], options={"heatmap.top": "many"})


def test_calendar_is_the_53_weeks_up_to_now_in_local_days(tmp_path):
    built = (Log(tmp_path).commit("2025-11-30 12:00", ("a.py", 1, 0))  # before the calendar's first Monday
             .commit("2026-11-02 09:30", ("a.py", 1, 0)).discard("2026-11-02 10:00", ("a.py", 1, 0))
             .commit("2026-11-29 23:30", ("a.py", 1, 0))  # 00:30 on the 30th at +01:00
             .report(now="2026-11-30 06:00", utc_offset_s=3600))
    calendar = block(built, "heatmap", "calendar")
    assert calendar.first_day == "2025-12-01"  # a Monday; 2026-11-30 is the Monday of the 53rd week
    assert len(calendar.counts) == 52 * 7 + 1
    assert {day: count for day, count in enumerate(calendar.counts) if count} == {336: 2, 364: 1}


def test_calendar_ends_before_until(tmp_path):
    built = (Log(tmp_path).commit("2026-11-02 09:30", ("a.py", 1, 0))
             .report(now="2026-11-30", until=datetime(2026, 11, 16, tzinfo=timezone.utc).timestamp()))
    calendar = block(built, "heatmap", "calendar")
    # until is exclusive: the last day is Sunday 2026-11-15, so the calendar has 53 whole weeks.
    assert (calendar.first_day, len(calendar.counts)) == ("2025-11-10", 53 * 7)
    assert calendar.counts[357] == 1 and sum(calendar.counts) == 1


def test_punchcard_is_in_local_time(tmp_path):
    log = (Log(tmp_path).commit("2026-11-02 03:30", ("a.py", 1, 0))  # Monday UTC, Sunday 22:30 at -05:00
           .sample("2026-11-02 09:30", ("a.py", 1, 0)).sample("2026-11-02 09:40", ("a.py", 1, 0)))
    built = log.report(utc_offset_s=-5 * 3600)
    found = block(built, "heatmap", "punchcard")
    assert found.row_labels == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert found.column_labels[0] == "00" and found.column_labels[23] == "23"
    assert {(day, hour): count for day, line in enumerate(found.cells) for hour, count in enumerate(line) if count} \
        == {(6, 22): 1, (0, 4): 2}
    assert grid(built, "by_file_time") == (["a.py"], ["2026-11-01", "2026-11-02"], [[1, 2]])


def test_punchcard_with_a_half_hour_offset(tmp_path):
    built = Log(tmp_path).commit("2026-11-01 20:00", ("a.py", 1, 0)).report(utc_offset_s=19800)  # +05:30
    cells = block(built, "heatmap", "punchcard").cells
    assert cells[0][1] == 1 and sum(map(sum, cells)) == 1  # Sunday 20:00 UTC is Monday 01:30


def top_k_log(tmp_path) -> Log:
    return (Log(tmp_path)
            .commit("2026-11-02 09:00", ("a.py", 5, 0), ("b.py", 1, 0), ("c.md", 2, 0), ("lib/d.py", 3, 1))
            .commit("2026-11-03 09:00", ("a.py", 1, 0), ("b.py", 1, 0), ("e.txt", 4, 0))
            .discard("2026-11-03 10:00", ("a.py", 2, 2), ("e.txt", 1, 0))
            .sample("2026-11-03 11:00", ("c.md", 9, 0)))


def test_top_k_shows_the_rest_as_other_with_exact_sums(tmp_path):
    built = top_k_log(tmp_path).report(options={"heatmap.top": "2"})
    by_file = block(built, "heatmap", "by_file")
    # a.py has 3 events; e.txt 2 events and 5 lines beats b.py and c.md (2 events, 2 lines each).
    assert by_file.rows == [["a.py", 2, 6, 1, 4, 0], ["e.txt", 1, 4, 1, 1, 0], ["(other)", 4, 8, 0, 0, 1]]
    assert by_file.total_rows == 5
    assert facts(built)["files touched by commits"] == 2 + 1 + 4 == 7
    assert facts(built)["lines changed in commits"] == 6 + 4 + 8 == 18
    assert facts(built)["distinct files"] == 5
    labels, columns, cells = grid(built, "by_file_time")
    assert (labels, columns, cells) == (["a.py", "e.txt", "(other)"], ["2026-11-02", "2026-11-03"],
                                        [[1, 2], [0, 2], [3, 2]])
    assert rows(built, "by_dir") == [[".", 2, 14, 1, 5, 1], ["lib", 1, 4, 0, 0, 0]]


def test_paths_past_capacity_are_folded_into_other_and_totals_stay_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(HeatmapAnalyzer, "capacity", 4)
    monkeypatch.setattr(HeatmapAnalyzer, "distinct_capacity", 3)
    built = top_k_log(tmp_path).report()
    # Five files over a capacity of four: the busiest two are kept, the rest folded.
    assert rows(built, "by_file") == [["a.py", 2, 6, 1, 4, 0], ["e.txt", 1, 4, 1, 1, 0], ["(other)", 4, 8, 0, 0, 1]]
    assert facts(built) == {"commits": 2, IMPORTED: 0, "files touched by commits": 7, "lines changed in commits": 18,
                            "discards": 1, "lines discarded": 5, UNSAMPLED: 0, "dirty samples": 1,
                            "distinct files, at least": 3, "time bucket": "day"}
    # Folded files still count for their types. Only the first three paths were remembered as distinct.
    assert rows(built, "file_types") == [[".py", 2, 5, 12, 1, 4, 0], [".txt", 0, 1, 4, 1, 1, 0],
                                         [".md", 1, 1, 2, 0, 0, 1]]


def test_file_types_by_extension_or_name(tmp_path):
    built = (Log(tmp_path)
             .commit("2026-11-02 09:00", ("Makefile", 1, 0), ("src/App.PY", 1, 0), ("src/x.py", 1, 0),
                     (".gitignore", 1, 0), ("bin/tool", 1, 0), ("dist/archive.tar.gz", 1, 0), ("docs/LICENSE", 1, 0))
             .discard("2026-11-02 10:00", ("src/x.py", 3, 0)).report())
    assert block(built, "heatmap", "file_types").columns == ["type", "files", *COLUMNS]
    assert rows(built, "file_types") == [
        [".py", 2, 2, 2, 1, 3, 0],
        ["(none)", 1, 1, 1, 0, 0, 0],
        [".gitignore", 1, 1, 1, 0, 0, 0],
        [".gz", 1, 1, 1, 0, 0, 0],
        ["LICENSE", 1, 1, 1, 0, 0, 0],
        ["Makefile", 1, 1, 1, 0, 0, 0],
    ]
    assert [type_of(p) for p in ("a/b.c/README", "x.", "a/.env.local")] == ["README", ".", ".local"]


def test_no_activity_gives_totals_and_empty_views(tmp_path):
    built = Log(tmp_path).sample("2026-11-02 09:00").report()
    assert facts(built) == {"commits": 0, IMPORTED: 0, "files touched by commits": 0, "lines changed in commits": 0,
                            "discards": 0, "lines discarded": 0, UNSAMPLED: 0, "dirty samples": 0,
                            "distinct files": 0}
    ids = [b.id for b in built.sections[0].blocks]
    assert ids == ["totals", "by_file", "by_dir", "calendar", "punchcard", "file_types"]
    assert rows(built, "by_file") == [] and sum(block(built, "heatmap", "calendar").counts) == 0


def test_report_through_real_git_shows_a_committed_file(watched):
    commit_file(watched, "src/app.py", "one\ntwo\n", "add app")
    now = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
    done = gitobs("report", "--heatmap", "--format", "json", "--now", now, "--utc-offset", "UTC", cwd=watched)
    [section] = json.loads(done.stdout)["sections"]
    assert section["name"] == "heatmap" and "error" not in section
    by_file = next(b for b in section["blocks"] if b["id"] == "by_file")
    assert ["src/app.py", 1, 2, 0, 0, 0] in by_file["rows"]
    by_dir = next(b for b in section["blocks"] if b["id"] == "by_dir")
    assert ["src", 1, 2, 0, 0, 0] in by_dir["rows"]


def capped_commits(tmp_path) -> Log:
    log = Log(tmp_path).commit("2026-11-02 09:30", ("a.py", 1, 0))
    # 3 files listed of 503, 1,000 lines in all: 500 files and 994 lines are past the cap
    listed = [FileChange("a.py", 2, 0), FileChange("b.py", 2, 0), FileChange("c.py", 2, 0)]
    log.builder.add("commit.created", CommitCreated(sha="b" * 40, branch="main", files=listed, files_total=503,
                                                    added=900, deleted=100), "2026-11-03 10:00")
    return log


def test_commits_past_their_capped_file_list_keep_exact_totals_in_a_remainder_row(tmp_path):
    log = capped_commits(tmp_path)
    log.builder.add("commit.created", CommitCreated(sha="c" * 40, files=[FileChange("old.py", 1, 0)], files_total=1,
                                                    added=1), "2026-11-03 11:00", src="import")
    built = log.report()
    totals = facts(built)
    assert (totals["commits"], totals[IMPORTED]) == (3, 1)  # imported history is counted and said
    totals["files touched by commits"] -= 1
    totals["lines changed in commits"] -= 1
    assert totals["files touched by commits"] == 1 + 503
    assert totals["lines changed in commits"] == 1 + 1000
    by_file = {row[0]: row[1:3] for row in rows(built, "by_file")}
    assert by_file["(files beyond the cap)"] == [500, 994]
    labels, columns, cells = grid(built, "by_file_time")
    assert cells[labels.index("(files beyond the cap)")] == [0, 500]
    assert sum(map(sum, cells)) == 1 + 503 + 1  # every file event of the commits, in some row


def test_with_a_path_no_remainder_is_guessed(tmp_path):
    # --path cuts the file lists to it, but not files_total: the files past the cap may be anywhere
    built = capped_commits(tmp_path).report(path="a.py")
    assert [row[0] for row in rows(built, "by_file")] == ["a.py"]
    assert facts(built)["files touched by commits"] == 2


# ---- the text report of a real repository with seven years of history ----------------------------------

LONG_HISTORY = Path(__file__).parent.parent / "fixtures" / "repos" / "long-history.sh"
NOT_FIT = re.compile(r"by (\w+): (\d+) \w+ do not fit (\d+) columns, summed into (\d+)")


@pytest.fixture
def long_history(tmp_path) -> Path:
    """fixtures/repos/long-history.sh, installed and imported: commits from 2020-01 to 2026-11."""
    repo = tmp_path / "long"
    subprocess.run(["sh", str(LONG_HISTORY), str(repo)], check=True)
    gitobs("install", cwd=repo)
    gitobs("import", cwd=repo)
    return repo


def period_of(month: str, period: str) -> tuple[int, int]:
    """A commit's "YYYY-MM" as the (year, number) of its month, quarter or year."""
    year, number = int(month[:4]), int(month[5:])
    return {"month": (year, number), "quarter": (year, (number - 1) // 3 + 1), "year": (year, 0)}[period]


def periods_between(first: tuple[int, int], last: tuple[int, int], period: str) -> list[tuple[int, int]]:
    per_year = {"month": 12, "quarter": 4, "year": 1}[period]
    start = (first[0], first[1] or 1)
    count = (last[0] - first[0]) * per_year + (last[1] or 1) - start[1] + 1
    return [(start[0] + (start[1] - 1 + i) // per_year, (start[1] - 1 + i) % per_year + 1 if per_year > 1 else 0)
            for i in range(count)]


def file_grid_marks(text: str, labels: list[str]) -> tuple[str, list[list[str]]]:
    """The files' time grid of a text report: its period and, per row, the mark drawn in each column."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Files by "))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("less "))
    body = lines[start + 1:end]
    fitted = next((NOT_FIT.search(line) for line in body if NOT_FIT.search(line)), None)
    width = min(24, max(map(len, labels)))
    rows = [line[width + 1:].rstrip() for line in body if line[:width].rstrip() in labels]
    return (fitted.group(1) if fitted else "month"), rows


def cells_of(row: str, columns: int) -> list[str]:
    step = math.ceil(len(row) / columns)  # cells wider than 2 end in a blank, stripped from the last
    return [row[column * step] for column in range(columns)]


@pytest.mark.parametrize("how", ["--width 80", "--width 200", "COLUMNS=80", "COLUMNS=250", "piped"])
def test_text_heatmap_shows_every_commits_period_at_any_width(long_history, monkeypatch, how):
    monkeypatch.delenv("COLUMNS", raising=False)
    base = ["report", "--heatmap", "--no-scan", "--now", "2026-12-01", "--utc-offset", "UTC"]
    args = list(base)
    if how.startswith("--width"):
        args += how.split()
    elif how.startswith("COLUMNS"):
        monkeypatch.setenv("COLUMNS", how.split("=")[1])
    text = gitobs(*args, cwd=long_history).stdout  # piped: stdout is no terminal
    assert "do not fit this terminal" not in text and "\x1b" not in text
    width = {"--width 80": 80, "--width 200": 200, "COLUMNS=80": 80, "COLUMNS=250": 250, "piped": 100}[how]
    assert max(map(len, text.splitlines())) <= width
    found = json.loads(gitobs(*base, "--format", "json", cwd=long_history).stdout)
    [heatmap] = [s for s in found["sections"] if s["name"] == "heatmap"]
    [files] = [b for b in heatmap["blocks"] if b["id"] == "by_file_time"]
    period, rows = file_grid_marks(text, files["row_labels"])
    months = git(long_history, "log", "--all", "--format=%cd", "--date=format-local:%Y-%m",
                 TZ="UTC").stdout.split()
    wanted = sorted({period_of(month, period) for month in months})
    columns = periods_between(wanted[0], wanted[-1], period)
    assert period == ("quarter" if width == 80 else "month")
    marks = [cells_of(row, len(columns)) for row in rows]
    for key in wanted:  # every period with a commit has a mark above the lowest level in some row
        assert any(row[columns.index(key)] != "·" for row in marks), (period, key)
    for key in set(columns) - set(wanted):  # and the periods without one show none
        assert all(row[columns.index(key)] == "·" for row in marks), (period, key)


def _replayed(log, instance: HeatmapAnalyzer | None = None) -> HeatmapAnalyzer:
    instance = instance or HeatmapAnalyzer(Context(now=at("2026-11-30") / 1e9))
    consumer = Consumer("heatmap", instance, HeatmapAnalyzer.consumes, fields=HeatmapAnalyzer.fields)
    replay(log, [consumer], [], EventFilter(), print)
    assert consumer.error is None, consumer.error
    return instance


def test_the_kept_state_packs_each_bucket_once_and_loads_to_the_same_report(tmp_path):
    """Events back in time meet a file's bucket twice: the kept state has it once (added up, keys as steps),
    the hours likewise, and a report from the loaded state has the same bytes; a packed list cut short is
    refused."""
    log = (Log(tmp_path).sample("2026-11-02 10:00", ("a.py", 0, 0)).sample("2026-11-03 10:00", ("a.py", 0, 0))
           .commit("2026-11-02 10:30", ("a.py", 2, 1)).discard("2026-11-02 10:40", ("a.py", 0, 3)))
    fed = _replayed(log.builder.write())
    whole = msgspec.json.encode(fed.result())
    state = fed.save_state()
    (_, counts, buckets), = state.files.records
    assert counts[:5] == [1, 3, 1, 3, 2]
    assert len(buckets) == 4 and buckets[2:] == [1, 1]  # days 2 Nov (3 events), then 3 Nov (1): a step of 1
    assert buckets[1] == 3
    assert len(state.hours) == 4 and state.hours[1::2] == [3, 1] and state.hours[2] == 24
    loaded = HeatmapAnalyzer(fed.context)
    loaded.load_state(msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=HeatmapAnalyzer.state_type))
    assert msgspec.json.encode(loaded.result()) == whole
    state.hours = state.hours[:-1]
    with pytest.raises(ValueError):
        HeatmapAnalyzer(fed.context).load_state(state)
