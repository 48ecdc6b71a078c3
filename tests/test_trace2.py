"""git's trace2 as a second source: `gitobs trace2 enable|disable|status` on the test's own global git config
(HOME and XDG_CONFIG_HOME in a temporary directory), and the drain of what real git writes."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import commit_file, git, gitobs, last_seq, user_hook

from gitobs.capture import trace2_setup, trace2_spool
from gitobs.capture.install import install
from gitobs.core.repo import locate
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan


@pytest.fixture
def user(own_home) -> Path:
    """A home of its own (conftest.own_home); returns the home."""
    return own_home


def target(home: Path) -> Path:
    return home / "xdg-state" / "gitobs" / "trace2"


ODD = (b"# my settings, by hand\n[user]\n  name = Someone   ; a comment\n\temail=s@example.invalid\n\n"
       b"[alias]\n\tst = status\n[core]\n editor = \"vim\"  # trailing\n")


@pytest.mark.parametrize("where", ["home", "xdg", "none"])
def test_enable_then_disable_gives_the_global_config_back_byte_for_byte(user, tmp_path, where):
    config = user / ".gitconfig" if where != "xdg" else user / "xdg-config" / "git" / "config"
    if where != "none":
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_bytes(ODD)
    gitobs("trace2", "enable")
    assert git(tmp_path, "config", "--global", "trace2.eventTarget").stdout.strip() == str(target(user))
    assert git(tmp_path, "config", "--global", "trace2.maxFiles").stdout.strip() == str(trace2_setup.MAX_FILES)
    assert config.exists() and (user / ".gitconfig").exists() == (where != "xdg")  # git's choice of file
    assert stat.S_IMODE(target(user).stat().st_mode) == 0o700
    git(tmp_path, "init", "-q", "r")
    assert os.listdir(target(user))  # git writes there now
    gitobs("trace2", "disable")
    if where == "none":
        assert not config.exists()
    else:
        assert config.read_bytes() == ODD
    assert git(tmp_path, "config", "--global", "trace2.eventTarget", ok=False).returncode == 1
    assert not (user / "xdg-state" / "gitobs" / "trace2-enabled.json").exists()


def test_enabling_twice_changes_nothing_the_second_time(user, tmp_path):
    (user / ".gitconfig").write_bytes(ODD)
    gitobs("trace2", "enable")
    enabled = (user / ".gitconfig").read_bytes()
    assert "already on" in gitobs("trace2", "enable").stdout
    assert (user / ".gitconfig").read_bytes() == enabled
    gitobs("trace2", "disable")
    assert (user / ".gitconfig").read_bytes() == ODD


def test_disable_keeps_what_the_user_changed_meanwhile(user, tmp_path):
    (user / ".gitconfig").write_bytes(ODD + b"[trace2]\n\tenvVars = MINE\n")
    gitobs("trace2", "enable")
    git(tmp_path, "config", "--global", "alias.co", "checkout")
    gitobs("trace2", "disable")
    assert git(tmp_path, "config", "--global", "alias.co").stdout.strip() == "checkout"
    assert git(tmp_path, "config", "--global", "trace2.envVars").stdout.strip() == "MINE"  # theirs, as before
    assert git(tmp_path, "config", "--global", "--get-regexp", r"^trace2\.").stdout.strip() == "trace2.envvars MINE"
    assert b"eventTarget" not in (user / ".gitconfig").read_bytes()


def test_git_trace2_event_set_to_off_is_no_target(user, monkeypatch):
    monkeypatch.setenv("GIT_TRACE2_EVENT", "0")
    trace2_setup.enable()
    assert trace2_setup.is_enabled()


@pytest.mark.parametrize("where", ["system", "environment", "global"])
def test_enable_refuses_when_another_target_is_set_and_changes_nothing(user, tmp_path, monkeypatch, where):
    (user / ".gitconfig").write_bytes(ODD)
    company = tmp_path / "company-trace2"
    if where == "system":
        system = tmp_path / "etc-gitconfig"
        system.write_text(f"[trace2]\n\teventTarget = {company}\n")
        monkeypatch.delenv("GIT_CONFIG_NOSYSTEM")
        monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(system))
    elif where == "environment":
        monkeypatch.setenv("GIT_TRACE2_EVENT", str(company))
    else:
        (user / ".gitconfig").write_bytes(ODD + f"[trace2]\n\teventTarget = {company}\n".encode())
    before = (user / ".gitconfig").read_bytes()
    done = gitobs("trace2", "enable", ok=False)
    assert done.returncode != 0 and str(company) in done.stderr and "Traceback" not in done.stderr
    assert (user / ".gitconfig").read_bytes() == before
    assert not (user / "xdg-state").exists()
    assert str(company) in gitobs("trace2", "status").stdout


def test_a_symlink_or_someone_elses_directory_is_never_the_target(user, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target(user).parent.mkdir(parents=True)
    target(user).symlink_to(elsewhere)
    done = gitobs("trace2", "enable", ok=False)
    assert done.returncode != 0 and "symlink" in done.stderr
    assert not (user / ".gitconfig").exists()


def test_status_says_on_off_and_what_waits(user, tmp_path):
    assert "trace2: off" in gitobs("trace2", "status").stdout
    gitobs("trace2", "enable")
    git(tmp_path, "init", "-q", "r")
    shown = gitobs("trace2", "status").stdout
    assert "trace2: on" in shown and str(target(user)) in shown
    assert "files waiting for a scan: 0" not in shown


# --- the drain: what real git writes, into the logs of the repositories where gitobs is installed ---


@pytest.fixture
def traced(user, tmp_path) -> Path:
    """trace2 enabled for the test's user; returns the directory git writes into."""
    (user / ".gitconfig").write_text("[user]\n\tname = Test Dev\n\temail = dev@example.invalid\n"
                                     "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    trace2_setup.enable()
    return target(user)


def make_repo(path: Path, installed: bool) -> Path:
    git(path.parent, "init", "-q", str(path))
    commit_file(path, "README.md", "hello\n", "initial")
    if installed:
        install(locate(path))
        scan(locate(path).common_dir)
    return path


def commands(repo: Path) -> list[tuple[str, str, int]]:
    obs = locate(repo).obs
    return [(e.data["command"], e.data.get("mode", ""), e.data.get("exit", 0)) for e in read_events(obs, lambda m: None)
            if e.type == "git.command"]


def test_data_of_a_repository_without_gitobs_never_reaches_a_log(traced, tmp_path):
    mine = make_repo(tmp_path / "mine", installed=True)
    other = make_repo(tmp_path / "other", installed=True)
    left = make_repo(tmp_path / "left", installed=True)
    never = make_repo(tmp_path / "never", installed=False)
    gitobs("uninstall", cwd=left)
    for repo in (left, never):  # git works as ever, with trace2 on and gitobs gone
        commit_file(repo, "a.txt", "a\n", "a")
        assert git(repo, "switch", "-q", "-c", "side").returncode == 0
    git(mine, "switch", "-q", "-c", "feat")
    git(other, "switch", "-q", "-c", "topic")
    left_log = [e.id for e in read_events(locate(left).obs, lambda m: None)]

    mine_dir, other_obs = locate(mine).common_dir, locate(other).obs
    scan(mine_dir)
    assert os.listdir(traced) == []  # all routed or dropped: nothing waits (before any other git runs)
    assert ("switch", "branch", 0) in commands(mine)
    # the other installed repository's files wait in its own spool (private), for its own scan
    waiting = trace2_spool.spool_dir(other_obs)
    assert stat.S_IMODE(waiting.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((waiting / name).stat().st_mode) == 0o600 for name in os.listdir(waiting))
    assert "switch" not in [command for command, _, _ in commands(other)]
    scan(locate(other).common_dir)
    assert ("switch", "branch", 0) in commands(other) and not os.listdir(waiting)
    # the uninstalled and the never-installed repositories: nothing anywhere
    assert [e.id for e in read_events(locate(left).obs, lambda m: None)] == left_log
    assert not (locate(never).common_dir / "obs").exists()
    assert not os.listdir(trace2_spool.spool_dir(locate(left).obs))  # its scans while installed took theirs
    every = [e for repo in (mine, other) for e in read_events(locate(repo).obs, lambda m: None)
             if e.type == "git.command"]
    assert every and all(e.src == "trace2" for e in every)
    assert len({e.id for e in every}) == len(every)


def test_git_stops_at_max_files_and_a_scan_lets_it_write_again(user, tmp_path, monkeypatch):
    monkeypatch.setattr(trace2_setup, "MAX_FILES", 6)
    (user / ".gitconfig").write_text("[user]\n\tname = T\n\temail = t@example.invalid\n")
    trace2_setup.enable()
    repo = make_repo(tmp_path / "r", installed=True)
    for _ in range(20):
        git(repo, "rev-parse", "HEAD")
    names = os.listdir(target(user))
    assert trace2_setup.SENTINEL in names and len(names) <= 6
    assert trace2_setup.status().full
    scan(locate(repo).common_dir)
    assert os.listdir(target(user)) == []
    git(repo, "rev-parse", "HEAD")
    assert len(os.listdir(target(user))) == 1  # writing again


def test_a_file_git_is_still_writing_is_left_for_the_next_scan(traced, tmp_path):
    repo = make_repo(tmp_path / "r", installed=True)
    scan(locate(repo).common_dir)
    before = [e.id for e in read_events(locate(repo).obs, lambda m: None) if e.type == "git.command"
              and e.data["command"] == "commit"]
    editor = subprocess.Popen(["git", "commit", "--allow-empty", "-q"], cwd=repo,
                              env={**os.environ, "GIT_EDITOR": "sh -c 'sleep 2; echo msg > \"$1\"' editor"})
    deadline = time.monotonic() + 10
    while not any(trace2_spool.pid_of(name) == editor.pid for name in os.listdir(traced)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    scan(locate(repo).common_dir)
    assert any(trace2_spool.pid_of(name) == editor.pid for name in os.listdir(traced))  # not taken
    assert editor.wait() == 0
    scan(locate(repo).common_dir)
    [commit] = [e for e in read_events(locate(repo).obs, lambda m: None)
                if e.type == "git.command" and e.data["command"] == "commit" and e.id not in before]
    assert commit.data["editor_s"] >= 1.5


def test_kill_9_during_drains_loses_and_repeats_nothing(traced, tmp_path):
    repo = make_repo(tmp_path / "r", installed=True)
    other = make_repo(tmp_path / "o", installed=True)
    for i in range(20):
        commit_file(repo, f"k{i}.txt", f"{i}\n", f"commit {i}")
        git(other, "commit", "-q", "--allow-empty", "-m", f"o{i}")
    script = "from gitobs.upkeep.scan import scan; from pathlib import Path; scan(Path({!r}))"
    for delay in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4):
        for where in (repo, other):
            child = subprocess.Popen([sys.executable, "-c", script.format(str(locate(where).common_dir))])
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            child.wait()
    for where in (repo, other):
        scan(locate(where).common_dir)
        events = [e for e in read_events(locate(where).obs, lambda m: None) if e.type == "git.command"]
        assert len({e.id for e in events}) == len(events)
        commits = [e for e in events if e.data["command"] == "commit"]
        assert len(commits) == 20  # each once; the initial commit came before the install: not recorded
        assert not os.listdir(trace2_spool.spool_dir(locate(where).obs))


def play_scenario(repo: Path) -> list:
    """tests/test_scan.py's story: a commit through the editor, one a hook blocks, one aborted in the editor,
    an amend, branch checkouts and a path checkout that throws an edit away. Returns the events it gave."""
    user_hook(repo, "pre-commit", 'test -e BLOCK && exit 1\nexit 0\n')
    install(locate(repo))
    scan(locate(repo).common_dir)
    start = last_seq(repo)
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", GIT_EDITOR="sh -c 'echo msg > \"$1\"' editor")
    (repo / "BLOCK").write_text("")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-q", "-m", "blocked", ok=False)
    (repo / "BLOCK").unlink()
    git(repo, "commit", "-q", ok=False, GIT_EDITOR="false")
    git(repo, "commit", "-q", "-m", "b")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    git(repo, "checkout", "-q", "-b", "feat")
    git(repo, "checkout", "-q", "main")
    (repo / "a.txt").write_text("a\nmore\n")
    scan(locate(repo).common_dir)  # the sample that sees the edit
    git(repo, "checkout", "--", "a.txt")
    scan(locate(repo).common_dir)
    return [e for e in read_events(locate(repo).obs, lambda m: None) if e.seq > start]


def facts(events: list) -> list[str]:
    """What both modes must agree on: every event but git.command, gitobs's own and the staging bursts
    (whose grouping depends on where second boundaries fall); sorted, as the reflog's whole seconds may
    order them otherwise among the hooks' events from one run to the next."""
    return sorted(repr((e.type, e.src, e.data.get("stage"), e.data.get("how"), e.data.get("files"),
                        e.data.get("branch")))
                  for e in events if e.type not in ("git.command", "index.stage") and not e.type.startswith("gitobs."))


def test_the_scenario_gives_the_same_events_with_trace2_on_plus_git_commands(user, tmp_path):
    (user / ".gitconfig").write_text("[user]\n\tname = T\n\temail = t@example.invalid\n[init]\n\tdefaultBranch = main\n")
    hooks_only = play_scenario(make_repo(tmp_path / "hooks-only", installed=False))
    trace2_setup.enable()
    both = play_scenario(make_repo(tmp_path / "both", installed=False))
    assert facts(both) == facts(hooks_only)
    assert [e.type for e in both].count("edit.discarded") == 1 and "commit.aborted" in [e.type for e in both]
    assert not [e for e in hooks_only if e.type == "git.command"]
    commits = [e.data for e in both if e.type == "git.command" and e.data["command"] == "commit"]
    assert [data.get("exit", 0) for data in commits] == [0, 1, 1, 0, 0]
    assert commits[0]["editor_s"] > 0 and "editor_s" not in commits[3]
    assert [hook[:3:2] for hook in commits[1]["hooks"]] == [["pre-commit", 1]]  # the blocking hook and its exit
    checkouts = [e.data.get("mode") for e in both if e.type == "git.command" and e.data["command"] == "checkout"]
    assert checkouts == ["branch", "branch", "path"]


def test_a_discard_no_hook_saw_takes_trace2s_time_and_the_samples_lines(traced, tmp_path):
    repo = make_repo(tmp_path / "r", installed=True)
    (repo / "README.md").write_text("hello\nthere\n")
    scan(locate(repo).common_dir)
    start = last_seq(repo)
    git(repo, "-c", "core.hooksPath=/dev/null", "restore", "README.md")  # post-checkout does not run
    [discarded] = [e for e in read_events(locate(repo).obs, lambda m: None)
                   if e.seq > start and e.type == "edit.discarded"] if scan(locate(repo).common_dir) else []
    assert (discarded.src, discarded.data["how"], discarded.data["files"]) == ("trace2", "checkout", [["README.md", 1, 0]])


def test_a_git_that_a_hook_runs_is_read_as_nested(traced, tmp_path):
    repo = make_repo(tmp_path / "r", installed=False)
    user_hook(repo, "pre-commit", "git rev-parse --verify -q no-such-ref\nexit 0\n")  # failing: never sampled out
    install(locate(repo))
    commit_file(repo, "n.txt", "n\n", "n")
    scan(locate(repo).common_dir)
    nested = [e.data for e in read_events(locate(repo).obs, lambda m: None)
              if e.type == "git.command" and e.data.get("nested")]
    [rev_parse] = [data for data in nested if data["command"] == "rev-parse"]
    assert rev_parse["exit"] == 1 and rev_parse["actor"] == "git"


def test_with_the_directory_deleted_git_still_works_and_a_scan_makes_it_again(traced, tmp_path):
    repo = make_repo(tmp_path / "r", installed=True)
    shutil.rmtree(traced)
    assert git(repo, "status").returncode == 0
    assert traced.is_file()  # git appends every process to one file of that name
    scan(locate(repo).common_dir)
    assert traced.is_dir() and stat.S_IMODE(traced.stat().st_mode) == 0o700
    shutil.rmtree(traced.parent)
    done = git(repo, "status")
    assert done.returncode == 0 and done.stderr == ""


def test_while_paused_trace2_files_are_consumed_and_nothing_stored(traced, tmp_path):
    repo = make_repo(tmp_path / "r", installed=True)
    gitobs("pause", cwd=repo)
    git(repo, "switch", "-q", "-c", "hidden")
    before = commands(repo)
    scan(locate(repo).common_dir)
    assert ("switch", "branch", 0) not in commands(repo) and len(commands(repo)) == len(before)
    assert not os.listdir(trace2_spool.spool_dir(locate(repo).obs))


def test_gitobs_own_git_processes_write_no_trace(traced, tmp_path):
    repo = make_repo(tmp_path / "r", installed=True)
    scan(locate(repo).common_dir)
    gitobs("status", "--no-scan", cwd=repo)
    gitobs("events", "--no-scan", cwd=repo)
    gitobs("import", "--all-authors", cwd=repo)  # its git log and rev-list processes too
    gitobs("trace2", "status", cwd=repo)  # and its git config
    assert os.listdir(traced) == []


def test_watch_drains_trace2_so_a_command_that_changes_nothing_it_stamps_is_recorded(traced, tmp_path):
    from gitobs.fleet.watch import Watcher

    repo = make_repo(tmp_path / "r", installed=True)
    watcher = Watcher(lambda: [(locate(repo).obs, str(repo))])
    watcher.tick()
    assert watcher.tick().scanned == []  # idle: nothing changed
    git(repo, "tag", "v1")  # refs/tags: no stamp of watch's sees it, but git's trace2 does
    assert [o.label for o in watcher.tick().scanned] == [str(repo)]
    assert ("tag", "", 0) in commands(repo)
    assert watcher.tick().scanned == []  # drained: idle again


def test_commands_run_before_gitobs_was_installed_are_not_recorded(traced, tmp_path):
    # git wrote their trace2 files while gitobs was not there; the drain after the install drops them
    repo = make_repo(tmp_path / "r", installed=False)
    git(repo, "switch", "-q", "-c", "before")
    time.sleep(0.05)  # mtimes are the file system's: the install comes strictly after
    install(locate(repo))
    git(repo, "switch", "-q", "-c", "after")
    scan(locate(repo).common_dir)
    switches = [mode for command, mode, _ in commands(repo) if command == "switch"]
    assert switches == ["branch"]  # the one after the install
    assert "init" not in [command for command, _, _ in commands(repo)]
    install(locate(repo))  # a re-install keeps when recording began
    git(repo, "switch", "-q", "main")
    scan(locate(repo).common_dir)
    assert [mode for command, mode, _ in commands(repo) if command == "switch"] == ["branch", "branch"]
