"""The heatmap split by GitButler lane: file rows credited to the stack owning the path then (vbranch.files),
commits to the stack of their branch, the rest "(unassigned)"; the same in one process or two, cached or not."""

from __future__ import annotations

import json
import pickle
import subprocess
from datetime import datetime
from pathlib import Path

import msgspec
import pytest
from conftest import gitobs
from gitobs_plugins.heatmap import HeatmapAnalyzer
from logfactory import LogBuilder, at, block, eventgen, report

from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.log.read import EventFilter
from gitobs.log.schema import (
    CommitCreated,
    EditDiscarded,
    FileChange,
    VBranch,
    VBranchFiles,
    VBranchMoved,
    VBranchRenamed,
    WorktreeSample,
)
from gitobs.replay import parallel, plugins
from gitobs.replay.analysis import Context
from gitobs.replay.engine import Consumer, replay
from gitobs.replay.report import build_report
from gitobs.replay.sections import encode_json

A, B = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
NOW = "2026-11-30"


class Log:
    """A LogBuilder with one helper per event the lanes read; files are paths (or (path, added, deleted))."""

    def __init__(self, directory: Path) -> None:
        self.builder = LogBuilder(directory)

    @staticmethod
    def _files(files) -> list[FileChange]:
        return [FileChange(*f) if isinstance(f, tuple) else FileChange(f, 1, 0) for f in files]

    def created(self, when: str, stack: str, branch: str) -> Log:
        self.builder.add("vbranch.created", VBranch(stack=stack, branch=branch), when, src="gitbutler")
        return self

    def deleted(self, when: str, stack: str, branch: str) -> Log:
        self.builder.add("vbranch.deleted", VBranch(stack=stack, branch=branch), when, src="gitbutler")
        return self

    def owns(self, when: str, stack: str, *paths: str) -> Log:
        self.builder.add("vbranch.files", VBranchFiles(stack=stack, owned_files=len(paths),
                                                       files=[FileChange(p, 0, 0) for p in paths]), when,
                         src="gitbutler")
        return self

    def commit(self, when: str, branch: str, *files) -> Log:
        changes = self._files(files)
        self.builder.add("commit.created", CommitCreated(
            sha="c" * 40, branch=branch, files=changes, files_total=len(changes),
            added=sum(c.added for c in changes), deleted=sum(c.deleted for c in changes)), when)
        return self

    def sample(self, when: str, *files) -> Log:
        self.builder.add("worktree.sample", WorktreeSample(files=self._files(files)), when, src="worktree")
        return self

    def discard(self, when: str, *files) -> Log:
        self.builder.add("edit.discarded", EditDiscarded(how="checkout", files=self._files(files)), when)
        return self

    def write(self) -> EventLog:
        return self.builder.write()


def lane_rows(built) -> list:
    return block(built, "heatmap", "by_lane").rows


def two_lanes(directory: Path) -> Log:
    return (Log(directory)
            .created("2026-11-02 08:00", A, "feat-a").created("2026-11-02 08:00", B, "feat-b")
            .owns("2026-11-02 08:01", A, "src/a.py").owns("2026-11-02 08:01", B, "src/b.py", "docs/b.md")
            .sample("2026-11-02 09:00", "src/a.py", "src/b.py", "src/c.py")
            .sample("2026-11-02 09:10", "src/a.py", "docs/b.md")
            .discard("2026-11-02 10:00", "src/b.py")
            .commit("2026-11-02 11:00", "feat-a", ("src/a.py", 5, 2))
            .commit("2026-11-03 11:00", "feat-b", ("src/b.py", 1, 1), ("docs/b.md", 3, 0))
            .commit("2026-11-03 12:00", "main", ("README", 4, 0))
            .sample("2026-11-03 13:00", "src/b.py"))


def test_two_lanes_owning_different_files_get_their_own_figures(tmp_path):
    built = report(two_lanes(tmp_path / "log").write(), only=["heatmap"], now=NOW)
    assert block(built, "heatmap", "by_lane").columns == [
        "lane", "stack", "commits", "lines", "dirty samples", "discards", "files"]
    assert lane_rows(built) == [
        ["feat-b", B[:8], 1, 5, 3, 1, 2],  # samples of src/b.py (2) and docs/b.md; the discard; its commit
        ["feat-a", A[:8], 1, 7, 2, 0, 1],
        ["(unassigned)", None, 1, 4, 1, 0, None],  # src/c.py's sample, the commit on main
    ]
    grid = block(built, "heatmap", "by_lane_time")
    assert grid.column_labels == ["2026-11-02", "2026-11-03"] and grid.unit == "events"
    # events on the files each lane owned: sample and discard rows, and commits' file rows, by path
    assert dict(zip(grid.row_labels, grid.cells)) == {
        "feat-b": [3, 3], "feat-a": [3, 0], "(unassigned)": [1, 1]}
    # vbranch.files' [path, 0, 0] rows are no activity: docs/b.md has one sample and one commit, no more
    facts = {fact.label: fact.value for fact in block(built, "heatmap", "totals").items}
    assert facts["dirty samples"] == 3 and facts["distinct files"] == 5
    [docs] = [row for row in block(built, "heatmap", "by_file").rows if row[0] == "docs/b.md"]
    assert docs == ["docs/b.md", 1, 3, 0, 0, 1]


def test_a_file_moving_to_another_lane_is_credited_by_time(tmp_path):
    log = (Log(tmp_path / "log").created("2026-11-02 08:00", A, "feat-a").created("2026-11-02 08:00", B, "feat-b")
           .owns("2026-11-02 08:01", A, "x.py")
           .sample("2026-11-02 09:00", "x.py").sample("2026-11-02 09:10", "x.py")
           .owns("2026-11-02 10:00", A).owns("2026-11-02 10:00", B, "x.py")  # its hunks went to lane B
           .sample("2026-11-02 11:00", "x.py").discard("2026-11-02 11:05", "x.py").sample("2026-11-02 11:10", "x.py")
           .owns("2026-11-02 12:00", B)  # nobody's now
           .sample("2026-11-02 13:00", "x.py"))
    rows = lane_rows(report(log.write(), only=["heatmap"], now=NOW))
    assert rows == [["feat-b", B[:8], 0, 0, 2, 1, 1], ["feat-a", A[:8], 0, 0, 2, 0, 1],
                    ["(unassigned)", None, 0, 0, 1, 0, None]]


def test_names_follow_renames_moves_and_a_deleted_stack_owns_nothing(tmp_path):
    log = (Log(tmp_path / "log").created("2026-11-02 08:00", A, "wip").created("2026-11-02 08:00", B, "other")
           .owns("2026-11-02 08:01", A, "a.py").owns("2026-11-02 08:01", B, "b.py")
           .sample("2026-11-02 09:00", "a.py", "b.py")
           .commit("2026-11-02 09:30", "wip", ("a.py", 1, 0)))
    log.builder.add("vbranch.renamed", VBranchRenamed(stack=A, from_="wip", to="feature"), "2026-11-02 10:00",
                    src="gitbutler")
    log.builder.add("vbranch.moved", VBranchMoved(branch="feature", from_stack=A, to_stack=B), "2026-11-02 10:30",
                    src="gitbutler")
    log.commit("2026-11-02 11:00", "feature", ("a.py", 2, 0))  # its branch is lane B's now
    log.deleted("2026-11-02 12:00", B, "other").sample("2026-11-02 13:00", "b.py")  # B's files: nobody's
    rows = lane_rows(report(log.write(), only=["heatmap"], now=NOW))
    # B keeps "feature"; A is named by the branch last seen in it. The commit on "wip" was A's, then.
    assert rows == [["feature", B[:8], 1, 2, 1, 0, 1], ["feature", A[:8], 1, 1, 1, 0, 1],
                    ["(unassigned)", None, 0, 0, 1, 0, None]]


def test_a_log_without_gitbutler_shows_no_lanes(tmp_path):
    log = Log(tmp_path / "log").sample("2026-11-02 09:00", "a.py").commit("2026-11-02 10:00", "main", ("a.py", 1, 0))
    built = report(log.write(), only=["heatmap"], now=NOW)
    [section] = built.sections
    assert not {"by_lane", "by_lane_time"} & {b.id for b in section.blocks}


def _events_log(directory: Path, events: list[schema.Event]) -> EventLog:
    log = EventLog(directory)
    log.append([schema.encode(event) for event in events])
    return log


def _fed(log: EventLog, instance: HeatmapAnalyzer | None = None) -> HeatmapAnalyzer:
    instance = instance or HeatmapAnalyzer(Context(now=at(NOW) / 1e9))
    consumer = Consumer("heatmap", instance, HeatmapAnalyzer.consumes, fields=HeatmapAnalyzer.fields)
    replay(log, [consumer], [], EventFilter(), print)
    assert consumer.error is None, consumer.error
    return instance


def _blocks(instance: HeatmapAnalyzer) -> bytes:
    return msgspec.json.encode(instance.result())


def _cached(instance: HeatmapAnalyzer) -> HeatmapAnalyzer:
    """A new instance loaded with what the report cache would keep of `instance`."""
    saved = msgspec.msgpack.encode(instance.save_state())
    loaded = HeatmapAnalyzer(Context(now=at(NOW) / 1e9))
    loaded.load_state(msgspec.msgpack.decode(saved, type=HeatmapAnalyzer.state_type))
    return loaded


def test_every_cut_merged_or_cached_gives_the_same_lanes(tmp_path):
    """Two parts merged (the later one having crossed a pipe), or the first kept and loaded, give the bytes of
    one instance fed everything, wherever the log is cut: lanes owned before the cut place the later part's
    rows, lists the later part saw replace the earlier ones."""
    events = two_lanes(tmp_path / "whole").builder.events
    log = (Log(tmp_path / "more").owns("2026-11-04 08:00", A, "src/c.py")
           .sample("2026-11-04 09:00", "src/a.py", "src/c.py", "src/b.py").owns("2026-11-04 10:00", B)
           .sample("2026-11-04 11:00", "src/b.py", "docs/b.md").deleted("2026-11-04 12:00", A, "feat-a")
           .commit("2026-11-04 13:00", "feat-a", ("src/c.py", 1, 1)).sample("2026-11-04 14:00", "src/c.py"))
    events = [*events, *log.builder.events]
    whole = _blocks(_fed(_events_log(tmp_path / "all", events)))
    assert b"by_lane" in whole
    for cut in range(len(events) + 1):
        head = _fed(_events_log(tmp_path / f"head{cut}", events[:cut]))
        tail = _fed(_events_log(tmp_path / f"tail{cut}", events[cut:]))
        cached = _fed(_events_log(tmp_path / f"rest{cut}", events[cut:]), _cached(head))
        head.merge(pickle.loads(pickle.dumps(tail)))
        assert _blocks(head) == whole, cut
        assert _blocks(cached) == whole, cut


def test_three_parts_merged_in_either_grouping_give_the_same_lanes(tmp_path):
    events = two_lanes(tmp_path / "whole").builder.events
    whole = _blocks(_fed(_events_log(tmp_path / "all", events)))
    for first, second in ((2, 6), (4, 7), (1, 9)):
        parts = [events[:first], events[first:second], events[second:]]
        fed = [_fed(_events_log(tmp_path / f"p{first}-{index}", part)) for index, part in enumerate(parts)]
        fed[1].merge(fed[2])  # the later two first: what waits there waits on
        fed[0].merge(fed[1])
        assert _blocks(fed[0]) == whole


def _ns(ts: str) -> int:
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000) * 10**6


def test_one_or_two_processes_and_the_cache_give_the_same_report(tmp_path, monkeypatch):
    """A generated log of weeks, with lanes owning some of its files: a real fork, a real report cache."""
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    events = list(eventgen().events(6000, seed=3, files=300))
    paths = sorted({c.path for e in events if e.type == "worktree.sample" for c in e.data.files})
    stacks = [A, B]
    lanes = []
    for index, event in enumerate(events[::250]):  # lanes take files over as the weeks go
        stack = stacks[index % 2]
        owned = paths[index % 7::5][:40]
        lanes.append(schema.make_event("vbranch.files", VBranchFiles(stack=stack, owned_files=len(owned),
                                                                     files=[FileChange(p, 0, 0) for p in owned]),
                                       ts_ns=_ns(event.ts), src="gitbutler", wt=".",
                                       provenance=f"lanes:{index}"))
    merged = sorted([*events, *lanes], key=lambda e: e.ts)  # ISO times of one layout: sorted as text
    log = EventLog(tmp_path / "log", seal_bytes=32 << 10)
    lines = [schema.encode(event) for event in merged]
    for start in range(0, len(lines), 200):
        log.append(lines[start:start + 200])
    joined: list[str] = []
    original = parallel._join
    monkeypatch.setattr(parallel, "_join", lambda consumer, *args: (joined.append(consumer.name),
                                                                     original(consumer, *args))[1])
    provided = plugins.load()

    def made(workers: int, cache: bool) -> bytes:
        built = build_report(log, provided, ["heatmap"], Context(now=_ns(merged[-1].ts) / 1e9 + 60), print,
                             workers=workers, cache=cache)
        return encode_json(built)

    serial = made(1, False)
    assert b'"by_lane"' in serial and b'"error": "' not in serial
    assert made(2, False) == serial
    assert joined == ["heatmap"]  # the child's part was merged, not replayed here
    assert made(1, True) == serial  # writes the cache
    assert made(1, True) == serial  # loads it
    assert made(2, True) == serial


def test_a_real_gitbutler_state_splits_the_worktree_by_lane(tmp_path):
    """fixtures/repos/gitbutler-upgrade.sh's but.sqlite: lane fix-tabs owns NOTES.md and table.txt."""
    from test_gitbutler import FIX, last_seq, upgraded

    repo = upgraded(tmp_path, "0.11", "0.12", "0.13", "sqlite")
    last_seq(repo)  # the first look: the stacks and their files
    (repo / "NOTES.md").write_text("edited\n")
    (repo / "other.txt").write_text("not in any lane\n")
    subprocess.run(["git", "add", "-N", "other.txt"], cwd=repo, check=True)
    gitobs("scan", cwd=repo)
    done = json.loads(gitobs("report", "--heatmap", "--since", "3650d", "--format", "json", cwd=repo).stdout)
    [section] = [s for s in done["sections"] if s["name"] == "heatmap"]
    [table] = [b for b in section["blocks"] if b["id"] == "by_lane"]
    rows = {row[0]: row for row in table["rows"]}
    assert rows["fix-tabs"][1] == FIX[:8] and rows["fix-tabs"][4] >= 1  # NOTES.md's dirty samples
    assert rows["(unassigned)"][4] >= 1  # other.txt's


@pytest.mark.parametrize("bad", [[["x", [1, 2], {}, []]]])
def test_a_lane_state_of_the_wrong_shape_is_refused(tmp_path, bad):
    instance = _fed(two_lanes(tmp_path / "log").write())
    state = msgspec.to_builtins(instance.save_state())
    state[-1][5] = bad
    with pytest.raises(ValueError):
        instance.load_state(msgspec.convert(state, HeatmapAnalyzer.state_type))
