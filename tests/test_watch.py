"""`gitobs watch`, `scan --all` and the repository registry on real repositories: what only a periodic
look can see (a discard with no git command, GitButler's state, a hook-bypassing commit), each once; idle
ticks that only stat; signals that lose nothing; one repository's failure that stops no other."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import commit_file, git, gitobs, new_events
from test_gitbutler import (
    FEATURE,
    FIX,
    NEW_TYPES,
    set_in_workspace,
    storage,
    upgraded,
    watched_fixture,
)

from gitobs.core.lock import exclusive
from gitobs.core.registry import Registry, data_home
from gitobs.core.repo import locate
from gitobs.fleet.watch import Watcher
from gitobs.log.eventlog import EventLog
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan


@pytest.fixture(autouse=True)
def private_data_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "data-home"
    monkeypatch.setenv("GITOBS_DATA_HOME", str(home))
    return home


def events_of(repo: Path, *types: str) -> list:
    return [e for e in read_events(locate(repo).obs, lambda _: None) if e.type in types]


class Counting:
    """A scanner that counts its calls, so a test can tell an idle tick from one that scanned."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, common_dir: Path):
        self.calls.append(common_dir)
        return scan(common_dir)


def watcher_of(*repos: Path, scanner=scan) -> Watcher:
    watched = [(locate(repo).obs, str(repo)) for repo in repos]
    return Watcher(lambda: watched, scanner=scanner)


def test_a_discard_with_no_git_command_is_seen_once(watched):
    watcher = watcher_of(watched)
    watcher.tick()
    (watched / "README.md").write_text("hello\nan idea\n")
    watcher.tick()
    (watched / "README.md").write_text("hello\n")  # put back by hand: no git command ran
    watcher.tick()
    watcher.tick()
    [discard] = events_of(watched, "edit.discarded")
    assert discard.data["how"] == "sample"
    assert discard.data["files"] == [["README.md", 1, 0]]
    assert new_events(watched, discard.seq, types=("edit.discarded", "worktree.sample")) == []


def test_idle_ticks_only_look(watched):
    scanner = Counting()
    watcher = watcher_of(watched, scanner=scanner)
    watcher.tick()
    state = locate(watched).obs.state
    written = state.stat().st_mtime_ns
    for _ in range(3):
        tick = watcher.tick()
        assert tick.scanned == [] and tick.idle == 1
    assert len(scanner.calls) == 1 and state.stat().st_mtime_ns == written
    (watched / "new.txt").write_text("untracked\n")
    assert [o.label for o in watcher.tick().scanned] == [str(watched)]
    assert len(scanner.calls) == 2


def test_a_hook_bypassing_commit_is_seen_once(watched):
    watcher = watcher_of(watched)
    watcher.tick()
    (watched / "a.txt").write_text("a\n")
    git(watched, "add", "a.txt")
    git(watched, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "no hooks ran")
    watcher.tick()
    watcher.tick()
    [commit] = [e for e in events_of(watched, "commit.created") if e.data.get("files") == [["a.txt", 1, 0]]]
    assert new_events(watched, commit.seq, types=("commit.created",)) == []


def test_a_gitbutler_state_change_is_seen_once(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    watcher = watcher_of(repo)
    watcher.tick()
    before = len(events_of(repo, "vbranch.unapplied"))
    set_in_workspace(storage(repo) / "virtual_branches.toml", FEATURE, False)
    watcher.tick()
    watcher.tick()
    assert len(events_of(repo, "vbranch.unapplied")) == before + 1


def test_a_gitbutler_write_only_in_the_sqlite_wal_is_seen(tmp_path):
    repo = upgraded(tmp_path, "0.11", "0.12", "0.13", "sqlite")
    watcher = watcher_of(repo)
    watcher.tick()
    database = storage(repo) / "but.sqlite"
    stamped = [path.stat().st_mtime_ns for path in (database, storage(repo) / "virtual_branches.toml")]
    writer = sqlite3.connect(database, isolation_level=None)  # GitButler, running: its WAL stays
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")  # no checkpoint: the write is in the WAL alone
        writer.execute(f"UPDATE vb_stack_heads SET pr_number = 31 WHERE stack_id = '{FIX}'")
        assert [path.stat().st_mtime_ns for path in (database, storage(repo) / "virtual_branches.toml")] == stamped
        assert len(watcher.tick().scanned) == 1
    finally:
        writer.close()
    [review] = events_of(repo, "vbranch.review")
    assert review.data == {"stack": FIX, "branch": "fix-tabs", "number": 31}
    assert [e for e in events_of(repo, *NEW_TYPES) if e.seq > review.seq] == []


def test_watch_all_sees_repositories_installed_after_it_started(repo, tmp_path):
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", str(other))
    commit_file(other, "b.txt", "b\n")
    registry = Registry()
    watcher = Watcher(lambda: [(e.obs, e.label) for e in registry.entries() if e.problem() is None])
    assert watcher.tick().scanned == []
    gitobs("install", cwd=repo)
    assert [o.label for o in watcher.tick().scanned] == [str(repo)]
    gitobs("install", cwd=other)
    assert [o.label for o in watcher.tick().scanned] == [str(other)]


def test_an_unreadable_registry_mid_watch_keeps_the_repositories_known(watched):
    gitobs("install", cwd=watched)
    registry = Registry()
    watcher = Watcher(lambda: [(e.obs, e.label) for e in registry.entries() if e.problem() is None])
    watcher.tick()
    registry.path.write_text("{torn")
    (watched / "README.md").write_text("hello\nmore\n")
    tick = watcher.tick()
    assert "cannot read the repository list" in tick.error
    assert [o.label for o in tick.scanned] == [str(watched)]


# -- file-system notifications ------------------------------------------------------------------------
# `watch --interval 1h`: after its first tick only a notification can bring a look, so a sample seen after
# the first one came from the notification path. The waits are generous (a busy machine); no timing is
# asserted, only that the sample came at all.

WAIT_S = 30


def _notifications() -> bool:
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    return Observer is not PollingObserver


needs_notifications = pytest.mark.skipif(not _notifications(), reason="no file-system notifications here")


def notified_watch(*repos: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "gitobs", "watch", "--interval", "1h", *map(str, repos)],
                               cwd=repos[0], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().startswith("watching 1 repository as files change" if len(repos) == 1
                                                else f"watching {len(repos)} repositories as files change")
    return process


def wait_for(repo: Path, kind: str, count: int) -> list:
    """The events of `kind` once there are `count` of them (read from the log, never scanned from here)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = events_of(repo, kind)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {count}th {kind} in {repo} within {WAIT_S} s")


def first_sample(repo: Path) -> None:
    """An edit sampled by the first tick or a notification: either way the first tick has run, so the
    notifications are on from here."""
    (repo / "first.txt").write_text("first\n")
    wait_for(repo, "worktree.sample", 1)


def stop(process: subprocess.Popen) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=60)  # an hour's sleep ends at once
    finally:
        process.kill()
    assert process.returncode == 0 and out.splitlines()[-1] == "stopped", err
    assert "Traceback" not in err
    return out, err


@needs_notifications
def test_a_save_is_sampled_from_a_notification_and_its_discard_keeps_files_and_lines(watched):
    process = notified_watch(watched)
    try:
        first_sample(watched)
        (watched / "README.md").write_text("hello\nan idea\nand another\n")  # an editor's save
        [_, sample] = wait_for(watched, "worktree.sample", 2)
        assert ["README.md", 2, 0] in sample.data["files"]
        git(watched, "checkout", "--", "README.md")  # thrown away: its lines are known from the sample
        [discard] = wait_for(watched, "edit.discarded", 1)
    finally:
        stop(process)
    assert discard.data["how"] == "checkout"
    assert discard.data["files"] == [["README.md", 2, 0]]
    assert new_events(watched, discard.seq, types=("edit.discarded",)) == []


@needs_notifications
def test_notifications_for_several_repositories_and_one_removed_while_watched(watched, tmp_path):
    other, doomed = tmp_path / "other", tmp_path / "doomed"
    for path in (other, doomed):
        git(tmp_path, "init", "-q", str(path))
        commit_file(path, "b.txt", "b\n")
        gitobs("install", cwd=path)
    process = notified_watch(watched, other, doomed)
    try:
        for repo in (watched, other, doomed):
            first_sample(repo)
        shutil.rmtree(doomed)  # its notifications end with a last look, which fails: one line
        guard = threading.Timer(WAIT_S, process.kill)
        guard.start()
        said = process.stderr.readline()
        guard.cancel()
        assert said.startswith("gitobs: warning: ") and f"{doomed}: gitobs is not installed" in said
        (other / "b.txt").write_text("b\nmore\n")  # the others go on
        (watched / "README.md").write_text("hello\nmore\n")
        for repo, path in ((other, "b.txt"), (watched, "README.md")):
            assert [path, 1, 0] in wait_for(repo, "worktree.sample", 2)[-1].data["files"]
    finally:
        stop(process)


@needs_notifications
def test_notifications_ignore_the_git_dir_and_the_scans_own_writes(watched):
    watcher = Watcher(lambda: [(locate(watched).obs, str(watched))], notify=True)
    assert watcher.notifier.start()
    try:
        watcher.tick()  # follows the work tree, then scans
        settle(watcher)
        scan(locate(watched).common_dir)  # writes the log and the state
        (watched / ".git" / "objects" / "scratch").write_bytes(b"x")  # git's objects: nothing a scan reads
        (watched / ".git" / "index.lock").write_bytes(b"x")
        time.sleep(2.0)  # their notifications, had they counted, would be pending by now
        assert watcher.notifier.next_due() == float("inf") and watcher.notified() is None
        (watched / "README.md").write_text("hello\nnotified\n")
        deadline = time.monotonic() + WAIT_S
        while watcher.notifier.next_due() == float("inf") and time.monotonic() < deadline:
            time.sleep(0.05)
        while (tick := watcher.notified()) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tick is not None and [o.label for o in tick.scanned] == [str(watched)]
    finally:
        watcher.notifier.close()
    [sample] = events_of(watched, "worktree.sample")
    assert sample.data["files"] == [["README.md", 1, 0]]


@needs_notifications
def test_a_change_to_ignored_untracked_files_alone_costs_no_look(watched, monkeypatch):
    import gitobs.fleet.watch as fleet_watch

    looks = []
    real = fleet_watch.look_signature
    monkeypatch.setattr(fleet_watch, "look_signature", lambda git_dir: looks.append(git_dir) or real(git_dir))
    commit_file(watched, "kept.log", "tracked, though the pattern below matches\n")
    (watched / ".git" / "info").mkdir(exist_ok=True)
    (watched / ".git" / "info" / "exclude").write_text("build/\n*.log\n")
    watcher = Watcher(lambda: [(locate(watched).obs, str(watched))], notify=True)
    assert watcher.notifier.start()
    try:
        watcher.tick()
        settle(watcher)
        (watched / "build").mkdir()
        for number in range(5):  # a build's output
            (watched / "build" / f"out{number}.o").write_bytes(b"o")
        (watched / "debug.log").write_text("noise\n")
        looks.clear()
        tick = next_notified(watcher)
        assert (tick.scanned, tick.idle, looks) == ([], 1, [])
        (watched / "kept.log").write_text("tracked, changed\n")  # ignored by pattern, but tracked: a look
        tick = next_notified(watcher)
        assert [o.label for o in tick.scanned] == [str(watched)] and looks
    finally:
        watcher.notifier.close()
    assert events_of(watched, "worktree.sample")[-1].data["files"] == [["kept.log", 1, 1]]


@needs_notifications
def test_a_repository_removed_and_made_anew_is_followed_again(watched, tmp_path):
    watcher = Watcher(lambda: [(locate(watched).obs, str(watched))], notify=True)
    assert watcher.notifier.start()
    try:
        watcher.tick()
        settle(watcher)
        shutil.rmtree(watched)
        [gone] = next_notified(watcher).scanned  # its last notifications: the look fails
        assert "not installed" in gone.error
        git(tmp_path, "init", "-q", str(watched))  # the same path, new directories
        commit_file(watched, "c.txt", "c\n")
        gitobs("install", cwd=watched)
        watcher.tick()
        settle(watcher)
        (watched / "c.txt").write_text("c\nsaved\n")
        assert [o.label for o in next_notified(watcher).scanned] == [str(watched)]
    finally:
        watcher.notifier.close()
    assert events_of(watched, "worktree.sample")[-1].data["files"] == [["c.txt", 1, 0]]


def next_notified(watcher: Watcher):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        tick = watcher.notified()
        if tick is not None:
            return tick
        time.sleep(0.05)
    raise AssertionError(f"no notification within {WAIT_S} s")


def settle(watcher: Watcher) -> None:
    """Let the notifications of what was just written arrive, then take them."""
    time.sleep(1.0)
    while watcher.notifier.next_due() != float("inf"):
        time.sleep(0.2)
        watcher.notified()


@needs_notifications
def test_sigterm_ends_a_long_sleep_at_once(watched):
    process = notified_watch(watched)
    first_sample(watched)
    stop(process)


def test_without_watchdog_it_says_so_once_and_polls(watched):
    entry = ("import sys; sys.modules['watchdog'] = None; sys.argv[0] = 'gitobs'; "  # an install without it
             "from gitobs.cli.main import main; main()")
    process = subprocess.Popen([sys.executable, "-c", entry, "watch", "--interval", "0.2s", str(watched)],
                               cwd=watched, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("watching 1 repository every 0.2 s")
        (watched / "README.md").write_text("hello\npolled\n")
        [sample] = wait_for(watched, "worktree.sample", 1)  # by the ticks
        time.sleep(1.0)  # more ticks: the notice is not said again
    finally:
        _, err = stop(process)
    assert sample.data["files"] == [["README.md", 1, 0]]
    [notice] = err.splitlines()
    assert "no file-system notifications" in notice and "every interval only" in notice


def test_no_notify_looks_only_every_interval(watched):
    process = subprocess.Popen([sys.executable, "-m", "gitobs", "watch", "--no-notify", "--interval", "1h",
                                str(watched)], cwd=watched, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().startswith("watching 1 repository every 3600 s")
    stop(process)


def start_watch(repo: Path, *python_options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *python_options, "-m", "gitobs", "watch", "--interval", "0.05s",
                             str(repo)], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_watch_loses_nothing(watched, sig):
    process = start_watch(watched)
    try:
        assert process.stdout.readline().startswith("watching")  # said once its handlers are in: ticking
        for number in range(12):  # commits, edits and hook-less commits while it ticks
            commit_file(watched, f"f{number}.txt", f"{number}\n", f"step {number}")
            git(watched, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", f"quiet {number}")
        process.send_signal(sig)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    obs = locate(watched).obs
    with exclusive(obs.lock, 0) as held:
        assert held  # no stale lock
    assert EventLog(obs.log).check() == []
    scan(obs.common_dir)
    events = list(read_events(obs, lambda _: None))
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))
    subjects = [e for e in events if e.type == "commit.created"]
    assert len(subjects) == 1 + 24  # the commit before install, then every one made during the watch


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_watch_is_still_loading_stops_it_cleanly(watched, sig):
    process = start_watch(watched, "-X", "importtime")  # the interpreter reports each import as it ends
    try:
        for line in process.stderr:  # the first of gitobs's own imports: its entry has run its first line
            if re.search(r"\| +gitobs\.(?!core$|core\.early_signals$|__main__$)", line.rstrip()):
                break
        process.send_signal(sig)  # now, while the command line loads (about half a second more)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and out.splitlines()[-1] == "stopped"
    assert EventLog(locate(watched).obs.log).check() == []


def test_a_sigterm_at_the_very_start_ends_watch_quietly(watched):
    process = start_watch(watched)
    process.send_signal(signal.SIGTERM)  # maybe before the interpreter runs any gitobs code
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err) in ((0, ""), (-signal.SIGTERM, "")), err
    assert process.returncode != 0 or out.splitlines()[-1] == "stopped"


def test_watch_refuses_bad_arguments_in_one_line(repo, watched):
    for args, message in ((["--interval", "0s"], "more than zero"), (["--interval", "soon"], "not a duration"),
                          (["--all", str(watched)], "not both")):
        done = gitobs("watch", *args, cwd=watched, ok=False)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


# -- the registry and scan --all ----------------------------------------------------------------------


def test_install_and_uninstall_keep_the_registry(repo, private_data_home):
    gitobs("install", cwd=repo)
    gitobs("install", cwd=repo)  # idempotent: listed once
    [entry] = Registry().entries()
    assert entry.git_dir == str(repo / ".git") and entry.work_tree == str(repo)
    assert data_home() == private_data_home
    assert "ok" in gitobs("repos", cwd=repo).stdout
    gitobs("uninstall", cwd=repo)
    assert Registry().entries() == []


def test_scan_all_reports_a_failure_and_scans_the_others(repo, tmp_path):
    broken = tmp_path / "broken"
    git(tmp_path, "init", "-q", str(broken))
    commit_file(broken, "x.txt", "x\n")
    gone = tmp_path / "gone"
    git(tmp_path, "init", "-q", str(gone))
    for path in (broken, repo, gone):
        gitobs("install", cwd=path)
    (broken / ".git" / "obs" / "log").rmdir()
    (broken / ".git" / "obs" / "log").write_text("not a directory")  # the log cannot be written
    os.rename(gone, tmp_path / "moved")
    commit_file(repo, "later.txt", "later\n")
    done = gitobs("scan", "--all", cwd=tmp_path, ok=False)
    assert done.returncode == 1
    assert f"{broken}: " in done.stderr and f"{gone}: gone (moved or deleted)" in done.stderr
    assert f"{repo}: scanned" in done.stdout and "3 repositories scanned" in done.stdout
    assert [e.data["files"] for e in events_of(repo, "commit.created") if e.data.get("files")][-1] == [
        ["later.txt", 1, 0]]
    run = json.loads((data_home() / "last-run.json").read_text())
    assert run["repos"] == 3 and len(run["failed"]) == 2
    assert "gitobs-error" in " ".join(os.listdir(broken / ".git" / "obs" / "spool"))  # kept for its log
    pruned = gitobs("repos", "prune", cwd=tmp_path).stdout
    assert f"dropped {gone}: gone" in pruned
    assert [e.label for e in Registry().entries()] == [str(broken), str(repo)]


def test_names_in_the_registry_are_shown_inert(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # the path on one line, to find it whole
    odd = tmp_path / "odd\x1b[31mname"
    git(tmp_path, "init", "-q", str(odd))
    gitobs("install", cwd=odd)
    listed = gitobs("repos", cwd=tmp_path).stdout
    assert "\x1b" not in listed and "odd\\x1b[31mname" in listed


def test_a_damaged_registry_is_a_one_line_error(repo):
    data_home().mkdir(parents=True)
    (data_home() / "repos.json").write_text("{not json")
    done = gitobs("scan", "--all", cwd=repo, ok=False)
    assert done.returncode == 2 and "cannot read the repository list" in done.stderr
    assert "Traceback" not in done.stderr
