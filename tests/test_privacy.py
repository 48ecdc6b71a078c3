"""Pause, resume, purge and the capture categories on real repositories: what they stop is never
stored, and nothing comes back later."""

from __future__ import annotations

import json
import os
import re
import zipfile

import pytest
import zstandard
from conftest import commit_file, git, gitobs, last_seq, new_events

from gitobs.capture import pause
from gitobs.core import config
from gitobs.core.repo import locate
from gitobs.log.eventlog import EventLog
from gitobs.log.read import read_events
from gitobs.share.bundle import EVENTS
from gitobs.upkeep.scan import scan


@pytest.fixture(autouse=True)
def private_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))


def types(events) -> list[str]:
    return [event.type for event in events]


def all_new(repo, since_seq: int) -> list:
    """Scan, then every event after `since_seq`, gitobs's own included."""
    scan(locate(repo).common_dir)
    return [e for e in read_events(locate(repo).obs, lambda _: None) if e.seq > since_seq]


def test_nothing_is_recorded_while_paused(watched):
    obs = locate(watched).obs
    start = last_seq(watched)
    assert "recording paused until gitobs resume" in gitobs("pause", cwd=watched).stdout
    commit_file(watched, "secret.txt", "x\n", "while paused")
    git(watched, "checkout", "-q", "-b", "hidden")
    (watched / "README.md").write_text("dirty while paused\n")
    assert os.listdir(obs.spool) == [n for n in os.listdir(obs.spool) if "gitobs-pause" in n]  # the shim wrote nothing
    assert "recording is paused" in gitobs("status", cwd=watched).stdout
    gitobs("resume", cwd=watched)
    git(watched, "checkout", "-q", "main")
    events = [e for e in all_new(watched, start) if e.type not in ("worktree.sample", "gitobs.scan")]
    assert types(events) == ["gitobs.paused", "gitobs.resumed", "branch.switch"]
    assert events[-1].data.get("from") == "hidden"  # after resuming, switches are recorded again
    assert not [e for e in events if e.type == "commit.created"]


def test_a_pause_for_a_while_ends_at_the_next_scan_after_it(watched):
    obs = locate(watched).obs
    start = last_seq(watched)
    gitobs("pause", "--for", "1h", cwd=watched)
    paused = pause.read_pause(obs.root)
    assert paused.until_ns - paused.since_ns == 3600 * 10**9
    # make the hour pass: the file says when it ends
    (obs.root / "paused").write_text(f"since {paused.since_ns - 7200 * 10**9}\nuntil {paused.since_ns - 1}\n")
    scan(obs.common_dir)
    assert not (obs.root / "paused").exists()
    commit_file(watched, "after.txt", "after\n", "after the pause")
    events = all_new(watched, start)
    [resumed] = [e for e in events if e.type == "gitobs.resumed"]
    assert resumed.data["by"] == "expiry" and resumed.data["paused_s"] == pytest.approx(7200, abs=1)
    assert "commit.created" in types(events)


def test_purge_forgets_everything_and_nothing_comes_back(watched):
    obs = locate(watched).obs
    commit_file(watched, "a.txt", "a\n")
    (watched / "README.md").write_text("edited\n")
    before = last_seq(watched)
    assert before > 3
    kept = EventLog(obs.log).damaged_dir  # what a repair took out of the log
    kept.mkdir()
    (kept / "00000001.jsonl.zst@0").write_bytes(b"events a repair kept")
    done = gitobs("purge", cwd=watched, ok=False)
    assert done.returncode == 2 and "--yes" in done.stderr
    assert "purged" in gitobs("purge", "--yes", cwd=watched).stdout
    assert list(read_events(obs, lambda _: None)) == [] and EventLog(obs.log).check() == []
    assert not kept.exists()
    # the history it had read is not read again; only the working tree's present state is a new first look
    assert types(all_new(watched, 0)) in (["worktree.sample", "gitobs.scan"], [])
    commit_file(watched, "b.txt", "b\n")
    events = new_events(watched)
    assert [e.data["files"] for e in events if e.type == "commit.created"] == [[["b.txt", 1, 0]]]
    assert min(e.seq for e in events) > before  # numbers keep rising
    gitobs("purge", "--yes", "--uninstall", cwd=watched)
    assert not obs.is_enabled() and not (watched / ".git" / "hooks" / "post-commit").exists()


def test_capture_paths_off_stores_salted_hashes_with_extensions(watched):
    config.write_key(config.user_file(), ["capture", "paths"], False)
    start = last_seq(watched)
    commit_file(watched, "src/api/handler.py", "x\ny\n")
    (watched / "src" / "api" / "handler.py").write_text("x\n")
    [commit] = new_events(watched, start, types=("commit.created",))
    [[path, added, deleted]] = commit.data["files"]
    assert re.fullmatch(r"[0-9a-f]{10}/[0-9a-f]{10}/[0-9a-f]{10}\.py", path) and (added, deleted) == (2, 0)
    [sample] = new_events(watched, commit.seq, types=("worktree.sample",))
    assert sample.data["files"][0][0] == path  # the same file, the same token
    raw = b"".join(EventLog(locate(watched).obs.log).iter_lines())
    assert b"handler" not in raw and b"src/api" not in raw


def test_capture_reflog_off_records_no_commit_and_backfills_nothing(watched):
    config.write_key(config.user_file(), ["capture", "reflog"], False)
    start = last_seq(watched)
    commit_file(watched, "quiet.txt", "q\n")
    assert "commit.created" not in types(new_events(watched, start))
    config.write_key(config.user_file(), ["capture", "reflog"], None)
    commit_file(watched, "loud.txt", "l\n")
    commits = new_events(watched, start, types=("commit.created",))
    assert [e.data["files"] for e in commits] == [[["loud.txt", 1, 0]]]


def test_capture_hooks_and_single_hooks_can_be_turned_off(watched):
    config.write_key(config.user_file(), ["capture", "skip_hooks"], ["pre-commit", "prepare-commit-msg"])
    start = last_seq(watched)
    commit_file(watched, "one.txt", "1\n")
    assert "commit.attempt" not in types(new_events(watched, start))
    config.write_key(config.user_file(), ["capture", "skip_hooks"], None)
    config.write_key(config.user_file(), ["capture", "hooks"], False)
    start = last_seq(watched)
    commit_file(watched, "two.txt", "2\n")
    events = new_events(watched, start)
    assert "commit.attempt" not in types(events) and "commit.created" in types(events)  # the reflog still


def test_a_committed_file_cannot_turn_sampling_back_on(watched):
    config.write_key(config.user_file(), ["capture", "worktree"], False)
    (watched / ".gitobs.toml").write_text("[capture]\nworktree = true\n")
    start = last_seq(watched)
    (watched / "README.md").write_text("edited\n")
    assert "worktree.sample" not in types(new_events(watched, start))
    listed = gitobs("config", "list", cwd=watched)
    assert "capture.worktree = true is ignored" in listed.stderr


def test_a_redacted_bundle_hashes_linked_worktree_names_as_it_hashes_branches(watched, tmp_path):
    linked = tmp_path / "secret-lane"  # the worktree's name is its directory's: secret-lane, as its branch
    git(watched, "worktree", "add", "-q", "-b", "secret-lane", str(linked))
    commit_file(linked, "lane.txt", "l\n", "in the linked worktree")
    commit_file(watched, "main.txt", "m\n", "in the main worktree")
    bundle = tmp_path / "bug.zip"
    gitobs("bundle", "-o", str(bundle), cwd=watched)
    with zipfile.ZipFile(bundle) as archive:
        blobs = {name: archive.read(name) for name in archive.namelist()}
    lines = zstandard.ZstdDecompressor().stream_reader(blobs.pop(EVENTS)).read()
    assert b"secret-lane" not in lines and not any(b"secret-lane" in blob for blob in blobs.values())
    events = [json.loads(line) for line in lines.splitlines()]
    lane = {e["data"]["branch"] for e in events if e["type"] == "commit.created" and e["wt"] != "."}
    assert {e["wt"] for e in events} == {".", *lane}  # the main worktree stays "."; the linked one is a token
    assert [token[0] for token in lane] == ["n"]  # the same token as the branch of the same name
