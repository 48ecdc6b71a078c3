"""Names git stores as bytes that are not UTF-8 (branches, worktrees, remotes) are recorded with the rule for
paths (the byte as the text `\\xe9`), and a record no handler foresaw costs one gitobs.error, never a scan."""

from __future__ import annotations

import json
import os
import shutil

from conftest import commit_file, git, gitobs, last_seq, new_events

from gitobs.capture.hook_events import HookEvents
from gitobs.capture.install import install
from gitobs.core.repo import locate
from gitobs.history.importer import import_history
from gitobs.log.eventlog import EventLog
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan

ODD = os.fsdecode(b"caf\xe9")  # as subprocess passes it to git: the byte 0xe9
RECORDED = "caf\\xe9"


def spool_files(repo) -> list[str]:
    return [name for name in os.listdir(locate(repo).obs.spool) if not name.startswith(".")]


def log_is_utf8(repo) -> bool:
    for line in EventLog(locate(repo).obs.log).iter_lines():
        line.decode("utf-8")  # raises if not
    return True


def test_a_branch_not_in_utf8_is_recorded_and_the_spool_drains(watched):
    start = last_seq(watched)
    git(watched, "switch", "-q", "-c", ODD)
    commit_file(watched, "a.txt", "a\n", "on the odd branch")
    git(watched, "switch", "-q", "main")
    git(watched, "switch", "-q", ODD)
    commit_file(watched, "b.txt", "b\n", "and again")
    events = new_events(watched, start)
    switches = [(e.data["from"], e.data["to"]) for e in events if e.type == "branch.switch"]
    assert switches == [("main", RECORDED), (RECORDED, "main"), ("main", RECORDED)]
    created = [e for e in events if e.type == "commit.created"]
    assert [e.data["branch"] for e in created] == [RECORDED, RECORDED]
    assert [e.data["branch"] for e in events if e.type == "commit.attempt"] == [RECORDED, RECORDED]
    assert spool_files(watched) == [] and log_is_utf8(watched)
    assert RECORDED in gitobs("events", "--no-scan", cwd=watched).stdout
    commit_file(watched, "c.txt", "c\n", "later")  # scans go on
    assert [e.data["branch"] for e in new_events(watched, events[-1].seq, ("commit.created",))] == [RECORDED]


def test_a_worktree_and_a_remote_not_in_utf8_are_recorded(watched, tmp_path):
    start = last_seq(watched)
    linked = tmp_path / ODD
    git(watched, "worktree", "add", "-q", "-b", "side", str(linked))
    commit_file(linked, "w.txt", "w\n", "in the linked worktree")
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(watched, "remote", "add", ODD, str(tmp_path / "remote.git"))
    git(watched, "push", "-q", ODD, f"main:{ODD}")
    events = new_events(watched, start)
    [created] = [e for e in events if e.type == "commit.created"]
    assert created.wt == RECORDED and created.data["branch"] == "side"
    [push] = [e for e in events if e.type == "push"]
    assert push.data["remote"] == RECORDED and push.data["refs"] == ["refs/heads/main"]
    assert spool_files(watched) == [] and log_is_utf8(watched)


def test_a_record_no_handler_foresaw_is_reported_once_and_consumed(watched, monkeypatch):
    start = last_seq(watched)

    def unforeseen(self, record):
        raise ValueError("a record no handler foresaw")

    monkeypatch.setattr(HookEvents, "_pre_commit", unforeseen)
    commit_file(watched, "x.txt", "x\n", "one")
    scan(locate(watched).common_dir)  # does not raise
    monkeypatch.undo()
    assert spool_files(watched) == []
    commit_file(watched, "y.txt", "y\n", "two")
    scan(locate(watched).common_dir)
    events = [e for e in read_events(locate(watched).obs, lambda _: None) if e.seq > start]
    [error] = [e for e in events if e.type == "gitobs.error"]
    assert error.data["where"] == "scan"
    assert "pre-commit: ValueError: a record no handler foresaw" in error.data["message"]
    assert len([e for e in events if e.type == "commit.created"]) == 2


def test_a_spool_file_named_in_bytes_not_utf8_is_dropped(watched):
    spool = os.fsencode(locate(watched).obs.spool)
    with open(os.path.join(spool, b"1.caf\xe9"), "w") as handle:
        handle.write("gitobs-spool 1\nhook post-checkout\npid 0\nppid 1\nwt .\nhead ref: refs/heads/main\n")
    result = scan(locate(watched).common_dir)
    assert result.garbage == ["1.caf\\xe9"] and spool_files(watched) == []
    commit_file(watched, "z.txt", "z\n", "after")
    assert len(new_events(watched, types=("commit.created",))) == 2


def test_history_import_names_them_as_the_scanner_does(repo):
    git(repo, "switch", "-q", "-c", ODD)
    commit_file(repo, os.fsdecode(b"f\xe9.txt"), "x\n", "on the odd branch")
    shutil.rmtree(locate(repo).common_dir / "logs")  # history the scanner cannot see
    install(locate(repo))
    import_history(locate(repo).common_dir)
    imported = [e for e in read_events(locate(repo).obs, lambda _: None) if e.type == "commit.created"]
    assert [(e.data["files"][0][0], e.data.get("branch")) for e in imported] == [
        ("README.md", "main"), ("f\\xe9.txt", RECORDED)]
    assert log_is_utf8(repo)


def test_filters_take_a_name_typed_as_its_bytes_or_as_recorded(watched):
    git(watched, "switch", "-q", "-c", ODD)
    commit_file(watched, ODD + ".txt", "a\n", "an odd file on an odd branch")
    scan(locate(watched).common_dir)
    for typed in (ODD, RECORDED):
        listed = gitobs("events", "--no-scan", "--type", "commit.created", "--branch", typed, cwd=watched).stdout
        assert "an odd" not in listed and RECORDED in listed  # no message text, the branch by name
        report = gitobs("report", "--no-scan", "--heatmap", "--format", "json", "--path", typed + ".txt",
                        cwd=watched).stdout
        assert json.loads(report)["window"]["path"] == f"{RECORDED}.txt"
        assert report.count(json.dumps(f"{RECORDED}.txt")) >= 2  # the window, and the file's own row
