"""The scanner on real repositories: each operation once, with the right facts, and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import commit_file, git, last_seq, new_events, user_hook

from gitobs.capture import ingest as scan_module
from gitobs.capture.install import LEAN_HOOKS, RECORDED_HOOKS, install
from gitobs.core.repo import locate
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan


def types_of(events) -> list[str]:
    return [event.type for event in events]


def test_history_from_before_install_is_read_once(watched):
    created = new_events(watched, types=("commit.created",))
    assert len(created) == 1 and created[0].src == "reflog"
    assert new_events(watched, last_seq(watched)) == []  # a second scan adds nothing


def test_commit_switch_amend_reset_each_once(watched):
    start = last_seq(watched)
    git(watched, "switch", "-q", "-c", "feat")
    commit_file(watched, "src/a.py", "one\ntwo\n", "add a")
    head = git(watched, "rev-parse", "HEAD").stdout.strip()
    (watched / "src" / "a.py").write_text("one\ntwo\nthree\n")
    git(watched, "commit", "-q", "-a", "--amend", "--no-edit")
    amended = git(watched, "rev-parse", "HEAD").stdout.strip()
    git(watched, "reset", "-q", "--hard", "HEAD~1")
    git(watched, "switch", "-q", "main")

    events = new_events(watched, start)
    assert types_of(events) == [
        "branch.created", "branch.switch", "index.stage", "commit.attempt", "commit.created", "commit.attempt",
        "commit.amended", "history.reset", "commit.undone", "commit.abandoned", "branch.switch"]
    switch, created, amend, reset, back = (events[i] for i in (1, 4, 6, 7, 10))
    assert (switch.data["from"], switch.data["to"]) == ("main", "feat")
    assert created.data["sha"] == head and created.data["branch"] == "feat"
    assert created.data["files"] == [["src/a.py", 2, 0]] and created.data["added"] == 2
    assert (amend.data["old"], amend.data["new"]) == (head, amended)
    assert reset.data == {"branch": "feat", "from_sha": amended, "to_sha": reset.data["to_sha"]}
    assert (back.data["from"], back.data["to"]) == ("feat", "main")
    # the commit hooks and post-checkout time commits, amends and switches exactly; without
    # reference-transaction (the lean default) the rest has the reflog's seconds, staging the object store's
    assert {e.type for e in events if e.src != "hook"} == {
        "branch.created", "index.stage", "history.reset", "commit.undone", "commit.abandoned"}
    assert [e.seq for e in events] == list(range(start + 1, start + 1 + len(events)))
    assert new_events(watched, last_seq(watched)) == []


def test_aborted_commits_say_where_they_stopped(watched):
    start = last_seq(watched)
    (watched / "x.txt").write_text("x\n")
    git(watched, "add", "x.txt")
    git(watched, "commit", "-q", ok=False, GIT_EDITOR="false")  # editor fails
    git(watched, "commit", "-q", ok=False, GIT_EDITOR="sh -c ': > \"$1\"' editor")  # empty message
    git(watched, "reset", "-q")
    git(watched, "commit", "-q", "-m", "nothing staged", ok=False)
    aborted = new_events(watched, start, types=("commit.aborted",))
    assert [event.data["stage"] for event in aborted] == ["editor", "empty-message", "nothing-to-commit"]
    assert len(new_events(watched, start, types=("commit.attempt",))) == 3


def test_message_edit_time_measures_the_editor(watched):
    start = last_seq(watched)
    (watched / "y.txt").write_text("y\n")
    git(watched, "add", "y.txt")
    git(watched, "commit", "-q", GIT_EDITOR="sh -c 'sleep 1; echo msg > \"$1\"' editor")
    commit_file(watched, "z.txt", "z\n", "with -m: no editor")
    [edit] = new_events(watched, start, types=("commit.message_edit",))
    assert 1.0 <= edit.data["seconds"] < 3.0


def test_commit_with_hooks_bypassed_comes_from_the_reflog(watched):
    start = last_seq(watched)
    (watched / "q.txt").write_text("q\n")
    git(watched, "add", "q.txt")
    git(watched, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "no hooks ran")
    # (the `git add` is an index.stage, written with the commit or after a quiet gap, by second boundaries)
    events = [e for e in new_events(watched, start) if e.type != "index.stage"]
    assert types_of(events) == ["commit.created"] and events[0].src == "reflog"


def rebase_merge_and_revert(watched) -> int:
    """feat rebased onto main, merged with --no-ff, the merge reverted; the log's last seq before the rebase."""
    git(watched, "switch", "-q", "-c", "feat")
    commit_file(watched, "f1.txt", "1\n", "f1")
    commit_file(watched, "f2.txt", "2\n", "f2")
    git(watched, "switch", "-q", "main")
    commit_file(watched, "m.txt", "m\n", "m")
    start = last_seq(watched)
    git(watched, "switch", "-q", "feat")
    git(watched, "rebase", "-q", "main")
    git(watched, "switch", "-q", "main")
    git(watched, "merge", "-q", "--no-ff", "--no-edit", "feat")
    git(watched, "revert", "--no-edit", "HEAD~1")
    return start


def test_rebase_merge_revert_cherry_pick_and_stash(watched):
    install(locate(watched), hooks=RECORDED_HOOKS)  # stash pop or drop: post-index-change and reference-transaction
    start = rebase_merge_and_revert(watched)
    (watched / "f1.txt").write_text("changed\n")
    git(watched, "stash", "-q")
    git(watched, "stash", "pop", "-q")
    git(watched, "stash", "-q")
    git(watched, "stash", "drop", "-q")
    events = new_events(watched, start)
    kinds = [e.type for e in events if e.type not in ("commit.attempt", "branch.switch")]
    assert kinds == ["history.rebase", "history.merge", "commit.created", "commit.created", "commit.reverted",
                     "stash.push", "stash.pop", "stash.push", "stash.drop"]
    rebase = events[[e.type for e in events].index("history.rebase")]
    assert rebase.data["branch"] == "feat" and rebase.data["steps"] == {"pick": 2}
    merge_commit, revert = [e for e in events if e.type == "commit.created"]
    assert merge_commit.data["merge"] is True and revert.data["revert"] is True
    # the merge brings f1 and f2, counted when they were committed on feat: 0 lines for the merge itself
    assert (merge_commit.data.get("files", []), merge_commit.data.get("added", 0)) == ([], 0)
    assert revert.data["reverts"]  # the sha from "This reverts commit ..."
    reverted = events[[e.type for e in events].index("commit.reverted")]
    assert reverted.data["sha"] == revert.data["sha"] and reverted.data["reverted"] == revert.data["reverts"]
    assert reverted.data["age_s"] >= 0
    assert not [e for e in events if e.type == "history.reset"]  # the stash's own reset is not one


def test_lean_hooks_see_rebase_merge_and_revert_from_the_reflog_and_stashes_between_scans(watched):
    assert tuple(locate(watched).obs.manifest.read_text().count(f'"{h}"') for h in LEAN_HOOKS) == (1,) * 6
    start = rebase_merge_and_revert(watched)
    events = new_events(watched, start)
    kinds = [e.type for e in events if e.type not in ("commit.attempt", "branch.switch")]
    assert kinds == ["history.rebase", "history.merge", "commit.created", "commit.created", "commit.reverted"]
    rebase = events[[e.type for e in events].index("history.rebase")]
    assert rebase.data["branch"] == "feat" and rebase.data["steps"] == {"pick": 2}
    # a stash pushed, then popped, each seen by a scan: the stash reflog tells both, not pop from drop
    (watched / "f1.txt").write_text("changed\n")
    start = last_seq(watched)
    git(watched, "stash", "-q")
    assert [e.type for e in new_events(watched, start) if e.type != "worktree.sample"] == ["stash.push"]
    start = last_seq(watched)
    git(watched, "stash", "pop", "-q")
    assert [e.type for e in new_events(watched, start) if e.type != "worktree.sample"] == ["stash.drop"]


def test_strange_names_in_paths_and_branches(watched):
    start = last_seq(watched)
    branch = "feat/ünïcode-'quote\"-x"
    git(watched, "switch", "-q", "-c", branch)
    name = "dir with space/new\nline 'q\".txt"
    commit_file(watched, name, "a\n", "strange path")
    events = new_events(watched, start)
    created = [e for e in events if e.type == "commit.created"][0]
    assert created.data["branch"] == branch and created.data["files"][0][0] == name
    switch = [e for e in events if e.type == "branch.switch"][0]
    assert switch.data["to"] == branch


def test_concurrent_git_processes_lose_no_records(watched):
    start = last_seq(watched)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: git(watched, "update-ref", f"refs/heads/parallel-{i}", "HEAD"), range(48)))
    updates = new_events(watched, start, types=("ref.update",))
    assert sorted(e.data["ref"] for e in updates) == sorted(f"refs/heads/parallel-{i}" for i in range(48))
    assert not os.listdir(locate(watched).obs.spool)


def test_kill_9_during_scans_loses_and_repeats_nothing(watched):
    """Scans killed at random points: the events finally in the log are exactly those of a clean run."""
    for i in range(30):
        commit_file(watched, f"k{i}.txt", f"{i}\n", f"commit {i}")
    common = locate(watched).common_dir
    script = f"from gitobs.upkeep.scan import scan; from pathlib import Path; scan(Path({str(common)!r}))"
    for delay in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
        child = subprocess.Popen([sys.executable, "-c", script])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
    scan(common)
    events = [e for e in read_events(locate(watched).obs, lambda m: None) if not e.type.startswith("gitobs.")]
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))
    created = [e.data["sha"] for e in events if e.type == "commit.created"]
    assert len(created) == 31 and len(set(created)) == 31
    assert len([e for e in events if e.type == "commit.attempt"]) == 30
    seqs = [e.seq for e in read_events(locate(watched).obs, lambda m: None)]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert not os.listdir(locate(watched).obs.spool)


def test_rewritten_reflog_is_not_read_twice(watched):
    commit_file(watched, "r1.txt", "1\n", "r1")
    commit_file(watched, "r2.txt", "2\n", "r2")
    new_events(watched)
    start = last_seq(watched)
    git(watched, "reflog", "expire", "--expire=all", "--all")
    commit_file(watched, "r3.txt", "3\n", "r3")
    created = new_events(watched, start, types=("commit.created",))
    assert len(created) == 1


def test_spool_that_cannot_be_written_never_breaks_git(watched):
    spool = locate(watched).obs.spool
    spool.rmdir()
    spool.symlink_to("/proc/self/fdinfo")  # a directory nobody, not even root, can create files in
    commit_file(watched, "ro.txt", "x\n", "still commits")
    git(watched, "switch", "-q", "-c", "other")
    assert git(watched, "log", "-1", "--format=%s").stdout.strip() == "still commits"


def test_missing_gitobs_executable_never_breaks_git(repo, monkeypatch):
    from gitobs.capture.install import install

    install(locate(repo), executable="/nonexistent/python")
    monkeypatch.delenv("GITOBS_NO_BACKGROUND")
    commit_file(repo, "m.txt", "m\n", "commit without gitobs around")
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "commit without gitobs around"


def test_background_scan_keeps_the_log_fresh(repo, monkeypatch):
    from gitobs.capture.install import install

    install(locate(repo))
    monkeypatch.delenv("GITOBS_NO_BACKGROUND")
    commit_file(repo, "bg.txt", "bg\n", "background")
    obs = locate(repo).obs
    deadline = time.time() + 20
    while time.time() < deadline:
        found = [e for e in read_events(obs, lambda m: None) if e.type == "commit.created"]
        if len(found) == 2 and not obs.scan_pending.exists():
            break
        time.sleep(0.2)
    assert len(found) == 2


def test_a_rebase_queues_its_background_scan_at_its_end_not_its_start(repo, monkeypatch, tmp_path):
    """post-checkout runs as a rebase starts: a scan queued then would compete with the rebase for the CPU."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 0\n")  # takes the queue and, unlike a scan, leaves scan.pending
    fake.chmod(0o755)
    install(locate(repo), executable=str(fake))
    monkeypatch.delenv("GITOBS_NO_BACKGROUND")
    (repo / ".git" / "rebase-merge").mkdir()
    pending = locate(repo).obs.scan_pending
    sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    for hook, args, queued in (("post-checkout", (sha, sha, "1"), False), ("post-rewrite", ("rebase",), True)):
        done = subprocess.run(["sh", f".git/hooks/{hook}", *args], cwd=repo, input="", capture_output=True)
        assert done.returncode == 0 and pending.exists() == queued, hook
    (repo / ".git" / "rebase-merge").rmdir()
    pending.unlink()
    subprocess.run(["sh", ".git/hooks/post-checkout", sha, sha, "1"], cwd=repo, check=True)
    assert pending.exists()  # a checkout of its own


def test_queued_background_scan_never_fails_a_hook(repo, monkeypatch):
    """post-checkout's status is `git checkout`'s: the throttle marker being taken must not change it."""
    from gitobs.capture.install import RECORDED_HOOKS, install

    install(locate(repo), hooks=RECORDED_HOOKS)  # every hook the shim can be
    monkeypatch.delenv("GITOBS_NO_BACKGROUND")
    locate(repo).obs.scan_pending.touch()
    for name in RECORDED_HOOKS:
        done = subprocess.run(["sh", f".git/hooks/{name}", "0" * 40, "0" * 40, "1"], cwd=repo,
                              input="", capture_output=True, text=True)
        assert done.returncode == 0, (name, done.stderr)
    git(repo, "switch", "-q", "-c", "queued")
    git(repo, "switch", "-q", "main")


def test_second_scan_waits_then_exits_cleanly(watched):
    from gitobs.core.lock import exclusive

    obs = locate(watched).obs
    with exclusive(obs.lock, wait_s=1) as held:
        assert held
        commit_file(watched, "l.txt", "l\n", "while locked")
        started = time.monotonic()
        assert scan(obs.common_dir, wait_s=0.3).skipped
        assert time.monotonic() - started >= 0.3
    result = scan(obs.common_dir)
    assert not result.skipped and result.events >= 2


def test_renamed_branch_is_not_reported_again(watched):
    git(watched, "switch", "-q", "-c", "old-name")
    commit_file(watched, "o.txt", "o\n", "on old-name")
    start = last_seq(watched)
    git(watched, "branch", "-m", "old-name", "new-name")
    events = new_events(watched, start)
    assert [e.type for e in events] == ["branch.renamed"]
    assert (events[0].data["from"], events[0].data["to"]) == ("old-name", "new-name")


def test_push_to_a_url_stores_no_url(watched, tmp_path):
    target = tmp_path / "secret-target.git"
    git(tmp_path, "init", "-q", "--bare", str(target))
    start = last_seq(watched)
    git(watched, "push", "-q", str(target), "main")
    git(watched, "remote", "add", "origin", str(target))
    git(watched, "push", "-q", "origin", "main")
    pushes = new_events(watched, start, types=("push",))
    assert [p.data["remote"] for p in pushes] == ["(url)", "origin"]
    assert all("secret" not in str(p.data) for p in pushes)


def test_carriage_return_in_a_message_keeps_lines_whole(watched):
    from gitobs.capture.reflog import split_lines

    assert split_lines(b"a\r b\nc") == [b"a\r b\n", b"c"]
    start = last_seq(watched)
    git(watched, "commit", "-q", "--allow-empty", "-m", "carriage\rreturn")
    (watched / "s.txt").write_text("s\n")
    git(watched, "stash", "push", "-q", "--include-untracked", "-m", "in\rstash")
    events = new_events(watched, start, types=("commit.created", "stash.push"))
    assert [e.type for e in events] == ["commit.created", "stash.push"]
    assert events[1].data["branch"] == "main"
    assert new_events(watched, last_seq(watched)) == []


def test_a_noisy_chained_hook_is_one_weighted_event_per_git_process(repo):
    user_hook(repo, "reference-transaction", "cat > /dev/null\nexit 0\n")
    install(locate(repo), hooks=RECORDED_HOOKS)  # reference-transaction: only in the full set
    scan(locate(repo).common_dir)
    git(repo, "switch", "-q", "-c", "side")
    for number in range(3):
        commit_file(repo, f"s{number}.txt", f"{number}\n")
    git(repo, "switch", "-q", "main")
    commit_file(repo, "m.txt", "m\n")
    git(repo, "switch", "-q", "side")
    start = last_seq(repo)
    git(repo, "rebase", "-q", "main")  # one git process, a transaction per picked commit and more
    scan(locate(repo).common_dir)
    ran = [e for e in read_events(locate(repo).obs, lambda _: None)
           if e.seq > start and e.type == "hook.ran" and e.data["hook"] == "reference-transaction"]
    assert len(ran) == 1 and ran[0].data["runs"] >= 3
    assert ran[0].data["max_s"] <= ran[0].data["seconds"]


def test_a_file_name_that_is_not_utf8_is_recorded_not_crashed_on(watched):
    name = os.fsdecode(b"caf\xe9.txt")
    (watched / name).write_text("x\n")
    scan(locate(watched).common_dir)  # a working-tree sample names it
    git(watched, "add", "-A")
    git(watched, "commit", "-qm", "latin-1 name")
    created = new_events(watched, types=("commit.created",))[-1]
    assert created.data["files"] == [["caf\\xe9.txt", 1, 0]]  # the byte that was not UTF-8, as text
    samples = [e for e in read_events(locate(watched).obs, lambda _: None) if e.type == "worktree.sample"]
    assert any(f[0] == "caf\\xe9.txt" for e in samples for f in e.data["files"])
    report = subprocess.run([sys.executable, "-m", "gitobs", "report", "--heatmap", "--no-scan"], cwd=watched,
                            capture_output=True, text=True)
    assert report.returncode == 0 and "caf\\xe9.txt" in report.stdout
    (watched / name).write_text("y\n")
    scan(locate(watched).common_dir)
    os.replace(watched / name, watched / "moved-away")  # put back by hand: the sample sees the loss
    (watched / "moved-away").unlink()
    git(watched, "checkout", "-q", "--", ".")
    lost = new_events(watched, types=("edit.discarded",))
    assert any(f[0] == "caf\\xe9.txt" for e in lost for f in e.data["files"])


def test_the_shims_background_command_takes_the_short_way_in():
    from gitobs.cli.main import background_git_dir as wanted

    assert wanted(["scan", "--background", "--git-dir", "/r/.git"]) == Path("/r/.git")
    for other in (["scan"], ["scan", "--background"], ["scan", "--git-dir", "/r/.git", "--background"],
                  ["report", "--background", "--git-dir", "x"], ["scan", "--background", "--git-dir", "x", "-q"]):
        assert wanted(other) is None  # the full command line, with its checks and --help
    shim = (Path(__file__).parents[1] / "hooks" / "gitobs-hook.sh").read_text()
    assert '-m gitobs scan --background --git-dir "$gitobs_common"' in shim


def test_a_cloned_repository_never_runs_its_own_gitobs(tmp_path, monkeypatch):
    """The background scan starts from /, isolated: a repository's gitobs.py or gitobs/ is never imported."""
    marker = tmp_path / "ran"
    upstream = tmp_path / "upstream"
    git(tmp_path, "init", "-q", str(upstream))
    payload = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    commit_file(upstream, "gitobs.py", payload, "a module named gitobs")
    commit_file(upstream, "gitobs/__init__.py", payload, "a package named gitobs")
    commit_file(upstream, "gitobs/__main__.py", payload, "and its main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    install(locate(clone))
    monkeypatch.delenv("GITOBS_NO_BACKGROUND")
    commit_file(clone, "x.txt", "x\n", "a commit starts a background scan")
    obs = locate(clone).obs
    _wait_for_background_scan(obs, commits=1)
    git(clone, "switch", "-q", "-c", "topic")
    _wait_for_background_scan(obs, commits=1, switches=1)
    assert not marker.exists()


def _wait_for_background_scan(obs, commits: int, switches: int = 0) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        found = [e.type for e in read_events(obs, lambda m: None)]
        if (found.count("commit.created") >= commits and found.count("branch.switch") >= switches
                and not obs.scan_pending.exists()):
            return
        time.sleep(0.2)
    raise AssertionError(f"no background scan recorded the work: {found}")


# -- HEAD and branch lines, read apart -----------------------------------------------------------


def drop_last_line(path: Path) -> bytes:
    """The last line of a reflog, taken out: as the file was before git appended it."""
    data = path.read_bytes()
    cut = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[:cut])
    return data[cut:]


def side_worktree(repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A linked worktree on branch `side`: its directory, its HEAD reflog, the branch's reflog."""
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    common = locate(repo).common_dir
    return linked, common / "worktrees" / "linked" / "logs" / "HEAD", common / "logs" / "refs" / "heads" / "side"


@pytest.mark.parametrize("late", ["head", "branch"])
def test_a_line_whose_twin_git_writes_during_the_scan_waits_for_it(watched, tmp_path, monkeypatch, late):
    """git appends a commit's HEAD line and its branch line one after the other; a scan reads the reflogs
    one by one and may read one file before its line is written and the other after."""
    linked, head_log, branch_log = side_worktree(watched, tmp_path)
    start = last_seq(watched)
    commit_file(linked, "s.txt", "s\n", "on side")
    sha = git(linked, "rev-parse", "HEAD").stdout.strip()
    late_log = head_log if late == "head" else branch_log
    line = drop_last_line(late_log)
    real_read_new = scan_module.read_new

    def git_writes_after_the_read(file, cursor):
        found = real_read_new(file, cursor)
        if file.path == late_log and not late_log.read_bytes().endswith(line):
            with open(late_log, "ab") as handle:
                handle.write(line)
        return found

    monkeypatch.setattr(scan_module, "read_new", git_writes_after_the_read)
    assert new_events(watched, start, types=("commit.created",)) == []  # the next scan reads the two
    monkeypatch.setattr(scan_module, "read_new", real_read_new)
    [created] = new_events(watched, start, types=("commit.created",))
    assert (created.data["sha"], created.wt, created.data["branch"]) == (sha, "linked", "side")
    assert created.src == "hook"  # paired, the hooks' exact time is its own


def test_a_line_whose_twin_never_comes_is_reported_alone(watched, tmp_path):
    linked, head_log, _ = side_worktree(watched, tmp_path)
    start = last_seq(watched)
    commit_file(linked, "s.txt", "s\n", "on side")
    drop_last_line(head_log)  # git was killed between the two lines
    [created] = new_events(watched, start, types=("commit.created",))
    assert (created.wt, created.data["branch"]) == (".", "side")


def test_a_commit_on_a_branch_whose_reflog_is_not_read_does_not_wait(watched):
    git(watched, "switch", "-q", "-c", "gitbutler/workspace")  # its reflog is GitButler's scanner's
    start = last_seq(watched)
    commit_file(watched, "w.txt", "w\n", "on the workspace")
    assert len(new_events(watched, start, types=("commit.created",))) == 1


# -- moves that leave the branch where it was: logged to HEAD alone -------------------------------


def same_commit_again(repo: Path, ago_s: int = 0) -> None:
    """A commit, then an amend within its second that changes nothing: the very same commit again. git logs
    the amend to HEAD and writes no line for the branch, which did not move."""
    when = f"@{int(time.time()) - ago_s} +0000"  # the reflog's time too
    second = {"GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    commit_file(repo, "same.txt", "same\n", "same", **second)
    git(repo, "commit", "-q", "--amend", "--no-edit", **second)


@pytest.mark.parametrize("where", ["main", "main, then elsewhere"])
def test_an_amend_that_makes_the_same_commit_keeps_its_branch(watched, where):
    start = last_seq(watched)
    same_commit_again(watched)
    logs = locate(watched).common_dir / "logs"
    assert "(amend)" in (logs / "HEAD").read_text() and "(amend)" not in (logs / "refs/heads/main").read_text()
    if where == "main, then elsewhere":
        git(watched, "checkout", "-q", "-b", "feat")  # HEAD is on another branch by the scan
    [amended] = new_events(watched, start, types=("commit.amended",))
    assert (amended.data["old"] == amended.data["new"], amended.data["branch"]) == (True, "main")


def test_a_reset_to_where_the_branch_is_keeps_its_branch_and_so_does_its_discard(watched):
    (watched / "README.md").write_text("hello\nthrown away\n")
    start = last_seq(watched)
    scan(locate(watched).common_dir)  # the sample that sees the edit
    git(watched, "reset", "-q", "--hard")
    git(watched, "checkout", "-q", "-b", "feat")
    [reset, discarded] = new_events(watched, start, types=("history.reset", "edit.discarded"))
    assert reset.data["from_sha"] == reset.data["to_sha"] and reset.data["branch"] == "main"
    assert (discarded.data["how"], discarded.data["branch"]) == ("reset-hard", "main")


@pytest.mark.parametrize("ago_s", [0, 60])
def test_an_unmoved_line_waits_for_the_line_git_writes_after_it_during_the_scan(watched, monkeypatch, ago_s):
    """The amend is HEAD's last line read; git checks out another branch before the scan looks where HEAD
    is. HEAD's reflog grew meanwhile: the next scan reads the checkout, which says the branch the amend was on.
    An older line is not held back: it goes without a branch rather than with the wrong one."""
    start = last_seq(watched)
    same_commit_again(watched, ago_s)
    head_log = locate(watched).common_dir / "logs" / "HEAD"
    real_read_new = scan_module.read_new

    def git_checks_out_after_the_read(file, cursor):
        found = real_read_new(file, cursor)
        if file.path == head_log and "feat" not in head_log.read_text():
            git(watched, "checkout", "-q", "-b", "feat")
        return found

    monkeypatch.setattr(scan_module, "read_new", git_checks_out_after_the_read)
    if ago_s:
        [amended] = new_events(watched, start, types=("commit.amended",))
        assert "branch" not in amended.data
        return
    assert new_events(watched, start, types=("commit.amended",)) == []  # left for the next scan
    monkeypatch.setattr(scan_module, "read_new", real_read_new)
    [amended] = new_events(watched, start, types=("commit.amended",))
    assert amended.data["branch"] == "main"


def test_a_lost_state_writes_no_commit_twice(watched, tmp_path):
    linked, head_log, _ = side_worktree(watched, tmp_path)
    commit_file(linked, "s.txt", "s\n", "on side")
    line = drop_last_line(head_log)
    scan(locate(watched).common_dir)  # reported from its branch line alone
    with open(head_log, "ab") as handle:
        handle.write(line)
    git(watched, "commit", "-q", "--allow-empty", "-m", "to amend")
    git(watched, "commit", "-q", "--amend", "--allow-empty", "-m", "amended")
    git(watched, "commit", "-q", "--allow-empty", "-m", "after")
    scan(locate(watched).common_dir)
    # the line of the commit amended away goes, and every later line moves up: new offsets, new ids
    git(watched, "reflog", "expire", "--expire=never", "--expire-unreachable=now", "--all")
    locate(watched).obs.state.unlink()
    scan(locate(watched).common_dir)  # every reflog read again, from the start
    events = list(read_events(locate(watched).obs, lambda m: None))
    shas = Counter(e.data["sha"] for e in events if e.type == "commit.created")
    assert len(shas) == 4 and set(shas.values()) == {1}


# -- git worktree add ----------------------------------------------------------------------------


def test_git_worktree_add_moves_no_history(watched, tmp_path):
    start = last_seq(watched)
    git(watched, "worktree", "add", "-q", "-b", "one", str(tmp_path / "one"))
    git(watched, "worktree", "add", "-q", "--detach", str(tmp_path / "two"))
    scan(locate(watched).common_dir)
    git(watched, "worktree", "add", "-q", "-b", "three", str(tmp_path / "three"))
    head_log = locate(watched).common_dir / "worktrees" / "three" / "logs" / "HEAD"
    reset_line = drop_last_line(head_log)
    scan(locate(watched).common_dir)  # between the new HEAD's first line and the checkout's reset
    with open(head_log, "ab") as handle:
        handle.write(reset_line)
    events = new_events(watched, start)
    assert sorted(e.data["branch"] for e in events if e.type == "branch.created") == ["one", "three"]
    assert not [e for e in events if e.type in ("history.reset", "ref.update")]
    start = last_seq(watched)
    git(tmp_path / "one", "reset", "-q", "--hard")  # a reset of the user's own still is one
    [reset] = new_events(watched, start, types=("history.reset",))
    assert reset.wt == "one" and reset.data["from_sha"] == reset.data["to_sha"]


def test_a_reflog_line_the_scan_cannot_read_is_one_error_not_a_stopped_scan(watched, monkeypatch):
    from gitobs.capture.reflog_events import ReflogEvents

    real = ReflogEvents._head_entry

    def fails_on_one(self, entry, *args):
        if "poison" in entry.message:
            raise ValueError("unforeseen")
        return real(self, entry, *args)

    monkeypatch.setattr(ReflogEvents, "_head_entry", fails_on_one)
    start = last_seq(watched)
    commit_file(watched, "p.txt", "p\n", "poison")
    commit_file(watched, "q.txt", "q\n", "after it")
    scan(locate(watched).common_dir)
    events = [e for e in read_events(locate(watched).obs, lambda m: None) if e.seq > start]
    [error] = [e for e in events if e.type == "gitobs.error"]
    assert "ValueError: unforeseen" in error.data["message"] and error.data["where"] == "scan"
    assert [e.data["branch"] for e in events if e.type == "commit.created"] == ["main"]  # the next commit
    commit_file(watched, "r.txt", "r\n", "and the next scan")
    assert len(new_events(watched, types=("commit.created",))) >= 1


def test_with_the_reflog_not_captured_a_commit_still_ends_its_attempt(watched):
    """The commit line ends a lean attempt even when capture.reflog keeps the commit itself out of the log."""
    locate(watched).obs.config.write_text("[capture]\nreflog = false\n")
    start = last_seq(watched)
    commit_file(watched, "n.txt", "n\n", "not recorded")
    assert types_of(new_events(watched, start)) == ["commit.attempt"]


def test_a_spool_that_will_not_let_go_of_its_records_never_stops_or_doubles_a_scan(watched, monkeypatch):
    from gitobs.capture import ingest

    real_unlink = os.unlink

    def read_only_spool(path, *args, **kwargs):
        if "/obs/spool/" in str(path):
            raise PermissionError(13, "Read-only file system", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(ingest.os, "unlink", read_only_spool)
    start = last_seq(watched)
    commit_file(watched, "ro.txt", "x\n", "on a read-only spool")
    first = new_events(watched, start)
    again = new_events(watched, first[-1].seq)  # the same records still there: read no more
    assert any(e.type == "commit.created" for e in first) and again == []
    monkeypatch.setattr(ingest.os, "unlink", real_unlink)
    scan(locate(watched).common_dir)
    assert [n for n in os.listdir(locate(watched).obs.spool) if not n.startswith(".")] == []


def test_a_blocking_hooks_time_is_kept_to_the_millisecond(repo):
    user_hook(repo, "pre-commit", "sleep 0.03; exit 1")
    install(locate(repo))
    watched = repo
    start = last_seq(watched)
    (watched / "a.txt").write_text("a\n")
    git(watched, "add", "a.txt")
    git(watched, "commit", "-qm", "no", ok=False)
    blocked = [e for e in new_events(watched, start) if e.type == "commit.blocked"]
    assert len(blocked) == 1 and blocked[0].data["duration_s"] > 0
    assert blocked[0].data["duration_s"] == round(blocked[0].data["duration_s"], 3)


def test_a_rebases_own_checkout_does_not_lend_its_hook_record_to_a_later_switch(watched):
    """`git rebase` checks out its upstream with post-checkout (flag 1, HEAD detached), under a `rebase (start)`
    line, not a `checkout:` one. Aborted, then a switch to that upstream: the same two commits, a branch."""
    git(watched, "switch", "-q", "-c", "feat")
    commit_file(watched, "clash.txt", "feat\n", "on feat")
    git(watched, "switch", "-q", "main")
    commit_file(watched, "clash.txt", "main\n", "on main")
    git(watched, "switch", "-q", "feat")
    start = last_seq(watched)
    assert git(watched, "rebase", "-q", "main", ok=False).returncode != 0
    git(watched, "rebase", "--abort")
    git(watched, "switch", "-q", "main")
    rebase, switch = new_events(watched, start, types=("history.rebase", "branch.switch"))
    assert (rebase.data["outcome"], rebase.data["branch"]) == ("abort", "feat")
    assert (switch.data["from"], switch.data.get("to")) == ("feat", "main")
    assert switch.ts > rebase.ts


@pytest.mark.parametrize("hooks", ["lean", "every hook"])
def test_an_amend_that_makes_the_same_commit_on_a_detached_head_is_an_amend_not_an_abort(watched, hooks):
    """git logs no line at all for a detached HEAD that did not move: post-rewrite's pair is all of it."""
    if hooks == "every hook":
        install(locate(watched), hooks=RECORDED_HOOKS)  # post-commit closes the attempt first
    git(watched, "switch", "-q", "--detach")
    start = last_seq(watched)
    same_commit_again(watched)
    head = git(watched, "rev-parse", "HEAD").stdout.strip()
    assert "(amend)" not in (locate(watched).common_dir / "logs" / "HEAD").read_text()
    events = new_events(watched, start, types=("commit.attempt", "commit.created", "commit.amended",
                                               "commit.aborted"))
    assert types_of(events) == ["commit.attempt", "commit.created", "commit.attempt", "commit.amended"]
    amended = events[-1]
    assert (amended.data["old"], amended.data["new"], amended.data.get("branch")) == (head, head, None)
    assert amended.src == "hook" and amended.data.get("since_s", 0.0) <= 1.0
    assert new_events(watched, last_seq(watched)) == []


def test_attempts_from_one_commit_on_two_branches_each_get_their_own_line(watched):
    """Two branches at one commit: a commit on the one, then on the other an empty message and a commit.
    All three attempts leave the same commit; the branch tells whose line is whose."""
    git(watched, "switch", "-q", "-c", "feat")
    start = last_seq(watched)
    commit_file(watched, "a.txt", "on feat\n", "on feat")
    git(watched, "switch", "-q", "main")
    (watched / "b.txt").write_text("on main\n")
    git(watched, "add", "b.txt")
    assert git(watched, "commit", "-q", "-m", "", ok=False).returncode != 0
    git(watched, "commit", "-q", "-m", "on main")
    events = new_events(watched, start, types=("commit.attempt", "commit.created", "commit.aborted"))
    assert [(e.type, e.data.get("branch")) for e in events] == [
        ("commit.attempt", "feat"), ("commit.created", "feat"), ("commit.attempt", "main"),
        ("commit.aborted", "main"), ("commit.attempt", "main"), ("commit.created", "main")]
    assert events[3].data["stage"] == "empty-message"


def test_a_reset_right_after_a_stash_is_not_taken_for_the_stashs_own(watched):
    """`git stash` logs one `reset: moving to HEAD`; a reset of yours in the same second is yours."""
    (watched / "README.md").write_text("hello\nstashed\n")
    start = last_seq(watched)
    git(watched, "stash", "-q")
    git(watched, "reset", "-q", "--hard")
    head = git(watched, "rev-parse", "HEAD").stdout.strip()
    events = new_events(watched, start, types=("stash.push", "history.reset"))
    assert sorted(types_of(events)) == ["history.reset", "stash.push"]  # the reset in whole seconds, first
    [reset] = [e for e in events if e.type == "history.reset"]
    assert reset.data == {"branch": "main", "from_sha": head, "to_sha": head}


def test_renaming_the_current_branch_before_the_first_scan_keeps_heads_earlier_lines(repo):
    """git logs the rename of the branch HEAD is on to HEAD's reflog too (`git branch -m master main`
    after the first commits): HEAD's reflog is never a renamed one, and its lines before it are unread."""
    git(repo, "switch", "-q", "-c", "feat")
    commit_file(repo, "f.txt", "f\n", "on feat")
    git(repo, "switch", "-q", "main")
    git(repo, "branch", "-m", "main", "trunk")
    assert "Branch: renamed" in (repo / ".git" / "logs" / "HEAD").read_text()
    install(locate(repo))
    events = new_events(repo, types=("branch.switch", "commit.created", "branch.renamed"))
    assert [(e.type, e.data.get("branch") or e.data.get("to")) for e in events] == [
        ("commit.created", "main"), ("branch.switch", "feat"), ("commit.created", "feat"),
        ("branch.switch", "main"), ("branch.renamed", "trunk")]


def test_with_every_hook_a_commit_line_does_not_take_an_aborted_attempt(watched):
    """post-commit closes the attempt that made the commit before its reflog line is read: the line must not
    then take the empty-message attempt before it, which is aborted."""
    install(locate(watched), hooks=RECORDED_HOOKS)
    (watched / "x.txt").write_text("x\n")
    git(watched, "add", "x.txt")
    start = last_seq(watched)
    assert git(watched, "commit", "-q", "-m", "", ok=False).returncode != 0
    git(watched, "commit", "-q", "-m", "made")
    events = new_events(watched, start, types=("commit.attempt", "commit.aborted", "commit.created"))
    assert types_of(events) == ["commit.attempt", "commit.aborted", "commit.attempt", "commit.created"]
    assert events[1].data["stage"] == "empty-message"


def test_a_lost_state_reports_a_renamed_branchs_earlier_lines_once(watched):
    git(watched, "branch", "old")
    scan(locate(watched).common_dir)
    git(watched, "branch", "-m", "old", "new")
    scan(locate(watched).common_dir)
    locate(watched).obs.state.unlink()
    scan(locate(watched).common_dir)  # every reflog read again, from the start: old's lines were read
    events = list(read_events(locate(watched).obs, lambda m: None))
    assert Counter(e.type for e in events if e.type.startswith("branch.")) == {"branch.created": 1,
                                                                               "branch.renamed": 1}


def test_a_commit_of_a_worktree_removed_before_the_scan_ends_its_attempt(watched, tmp_path):
    """The worktree's HEAD reflog went with it: its commit is its branch's line alone, which ends the attempt."""
    linked, _, _ = side_worktree(watched, tmp_path)
    start = last_seq(watched)
    commit_file(linked, "s.txt", "s\n", "on side")
    git(watched, "worktree", "remove", str(linked))
    events = new_events(watched, start, types=("commit.attempt", "commit.created", "commit.aborted"))
    assert [(e.type, e.data.get("branch")) for e in events] == [("commit.attempt", "side"),
                                                                 ("commit.created", "side")]
    assert events[1].src == "hook"  # commit-msg's end, the attempt's


def test_a_note_killed_before_its_rename_does_not_stay_in_the_spool_for_ever(watched):
    """write_note writes `.<name>` then renames it: killed in between, the dot file was skipped by every scan
    and deleted by none."""
    from gitobs.capture.spool import GARBAGE_AFTER_NS, write_note

    spool = locate(watched).obs.spool
    stale, fresh = spool / ".gitobs-note-killed", spool / ".gitobs-note-being-written"
    for path in (stale, fresh):
        path.write_text("gitobs-spool 1\nhook gitobs-error\n")
    old = (time.time_ns() - 2 * GARBAGE_AFTER_NS) / 1e9
    os.utime(stale, (old, old))
    write_note(spool, "gitobs-error", ["a note written whole"])
    scan(locate(watched).common_dir)
    scan(locate(watched).common_dir)  # consumed files are deleted by the scan after the one that read them
    assert not stale.exists() and fresh.exists()
