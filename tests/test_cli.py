"""The command line as a person uses it: real processes, real repositories, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import commit_file, git, gitobs

from gitobs.cli.commands.events import event_line
from gitobs.cli.commands.status import _events_in_place
from gitobs.log import schema


def test_install_status_events_uninstall(repo):
    out = gitobs("install", "-C", str(repo)).stdout
    assert "installed" in out
    assert "already installed" in gitobs("install", "-C", str(repo)).stdout
    git(repo, "switch", "-q", "-c", "topic")
    commit_file(repo, "t.txt", "t\n", "topic work")
    status = gitobs("status", cwd=repo).stdout
    assert "hooks: 6/6 healthy" in status and "commit.created" in status  # the lean set
    lines = gitobs("events", "--format", "jsonl", cwd=repo).stdout.splitlines()
    types = [json.loads(line)["type"] for line in lines]
    assert types.count("commit.created") == 2 and "branch.switch" in types and "gitobs.installed" in types
    text = gitobs("events", "--type", "commit.*", "--branch", "topic", cwd=repo).stdout
    assert "commit.created" in text and "on topic" in text and "branch.switch" not in text
    assert len(gitobs("events", "--limit", "1", "--no-scan", cwd=repo).stdout.splitlines()) == 1
    assert gitobs("events", "--since", "2099-01-01", cwd=repo).stdout == ""
    assert "removed post-checkout" in gitobs("uninstall", cwd=repo).stdout
    assert "not installed; nothing changed" in gitobs("uninstall", cwd=repo).stdout


def test_errors_are_one_line(tmp_path, repo):
    outside = gitobs("events", "-C", str(tmp_path), ok=False)
    assert outside.returncode == 2 and outside.stderr.count("\n") == 1 and "not a git repository" in outside.stderr
    bad_time = gitobs("events", "--since", "yesterday-ish", cwd=repo, ok=False)
    assert bad_time.returncode == 2 and "not a time" in bad_time.stderr and "Traceback" not in bad_time.stderr
    not_installed = gitobs("scan", cwd=repo, ok=False)
    assert "gitobs install" in not_installed.stderr and not_installed.stderr.count("\n") == 1
    for reading in (["events"], ["report", "--heatmap"], ["query"], ["bundle", "--preview"]):
        never = gitobs(*reading, cwd=repo, ok=False)  # never installed: nothing to read, and it says so
        assert never.returncode == 2 and never.stderr.startswith("gitobs: error: nothing recorded here yet")


def test_usage_errors_are_one_line_with_a_suggestion(repo):
    for argv, expected in ((["repot"], "No such command 'repot'. Did you mean 'report'?"),
                           (["report", "--hetmap"], "No such option: --hetmap"),
                           (["events", "--limit", "x"], "Invalid value for '--limit'"),
                           (["config", "frob"], "No such command 'frob'")):
        done = gitobs(*argv, cwd=repo, ok=False)
        assert done.returncode == 2 and done.stdout == "", argv
        assert done.stderr.startswith("gitobs: error: ") and done.stderr.count("\n") == 1, done.stderr
        assert expected in done.stderr


def test_version_and_help_answer_without_loading_the_commands(repo):
    from gitobs import __version__

    assert gitobs("--version").stdout == gitobs("version").stdout == f"gitobs {__version__}\n"
    probe = ("import sys; from gitobs.cli.main import run; run(sys.argv[1:]); "
             "print(sorted(m for m in sys.modules if m.startswith(('gitobs.cli.commands.', 'pygit2'))))")
    listed = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, cwd=repo)
    assert "report" in listed.stdout and listed.stdout.rstrip().endswith("[]")  # nothing imported to list them


def test_the_command_table_says_what_each_command_says_of_itself():
    import importlib
    import inspect

    import typer

    from gitobs.cli.app import COMMANDS

    for name, entry in COMMANDS.items():
        target = (getattr(importlib.import_module(f"gitobs.cli.commands.{entry.module}"), entry.attr)
                  if entry.module else None)
        if target is None:
            continue
        doc = target.info.help if isinstance(target, typer.Typer) else inspect.getdoc(target)
        assert entry.help == " ".join(doc.split("\n\n")[0].split()), name


def test_corrupt_log_is_reported_and_repaired(repo):
    gitobs("install", cwd=repo)
    commit_file(repo, "a.txt", "a\n")
    gitobs("scan", cwd=repo)
    [segment] = sorted((repo / ".git" / "obs" / "log").glob("*.jsonl.zst"))
    with open(segment, "ab") as handle:
        handle.write(b"\x28\xb5\x2f\xfd\x00garbage-from-a-crash")
    events = gitobs("events", "--no-scan", cwd=repo)
    assert "damaged log" in events.stderr and "commit.created" in events.stdout
    found = gitobs("doctor", cwd=repo, ok=False)
    assert found.returncode == 1 and "torn tail" in found.stdout
    repaired = gitobs("doctor", "--repair", cwd=repo, ok=False)
    assert repaired.returncode == 1 and "truncated" in repaired.stdout and "log.damaged" in repaired.stdout
    after = gitobs("doctor", cwd=repo).stdout
    assert "no damage" in after and "1 damaged piece(s) kept from earlier repairs" in after
    commit_file(repo, "b.txt", "b\n")
    assert gitobs("events", "--type", "commit.created", cwd=repo).stdout.count("commit.created") == 3


def test_repair_puts_back_only_whole_events_in_their_place():
    def line(seq: int, event_id: str = "", ts: str = "2026-11-23T10:00:00.000Z") -> bytes:
        return json.dumps({"seq": seq, "id": event_id or f"id{seq}", "ts": ts, "type": "push", "src": "hook",
                           "wt": ".", "data": {"remote": "origin", "refs": []}}).encode()

    inflated = [line(5), b'{"seq": 6, "broken', line(7, ts="2026-11-23T10:87:00.000Z"), line(4), line(8, "id5"),
                line(9), line(12)]
    assert _events_in_place(inflated, line(4), line(12)) == [line(5), line(9)]
    assert _events_in_place(inflated, None, None) == [line(5), line(9), line(12)]


def test_escape_sequences_in_names_are_shown_inert():
    event = schema.Event(id="x", ts="2026-11-23T10:00:00.000Z", type="branch.switch", src="hook", wt="w\x1b]0;t\x07",
                         data={"from": "main", "to": "evil\x1b[31m[bold]red[/bold]"})
    line = event_line(event)
    assert "\x1b" not in line and "\x07" not in line and "\\x1b[31m[bold]red[/bold]" in line


def test_demo_plays_a_session_and_prints_what_was_recorded():
    out = gitobs("demo").stdout
    for expected in ("branch.switch", "commit.created", "commit.amended", "commit.blocked", "commit.aborted",
                     "commit.message_edit", "edit.discarded", "stash.push", "stash.pop", "history.reset",
                     "history.merge", "reverts"):
        assert expected in out, expected


def test_reading_commands_read_the_log_when_a_scan_cannot_write(repo):
    """A read-only or full disk, or a spool someone else owns: the scan first is a warning, not the end (here the
    scan's lock cannot be opened, as on a read-only file system)."""
    gitobs("install", cwd=repo)
    gitobs("scan", cwd=repo)
    lock = repo / ".git" / "obs" / "scan.lock"
    lock.unlink()
    lock.mkdir()
    assert gitobs("scan", cwd=repo, ok=False).returncode == 2  # scanning itself still fails
    for args in (["events"], ["status"], ["report"], ["query"],
                 ["bundle", "-o", str(repo.parent / "b.zip")]):
        done = gitobs(*args, cwd=repo, ok=False)
        assert done.returncode == 0, (args, done.stderr)
        [warning] = done.stderr.splitlines()
        assert warning.startswith("gitobs: warning: could not scan first (") and "scan.lock" in warning
    assert "gitobs.installed" in gitobs("events", cwd=repo).stdout


def test_an_error_naming_a_directory_with_terminal_escapes_shows_them_inert(tmp_path):
    odd = tmp_path / "e\x1b]0;owned\x07\x1b[31mvil\nx"  # a directory anyone may name so, even a clone's
    odd.mkdir()
    done = gitobs("status", cwd=odd, ok=False)
    assert done.returncode == 2 and "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert done.stderr.count("\n") == 1 and "e\\x1b]0;owned\\x07\\x1b[31mvil\\x0ax" in done.stderr


def test_a_repository_of_another_user_is_named_as_such(repo, monkeypatch):
    # git refuses it (safe.directory); GIT_TEST_ASSUME_DIFFERENT_OWNER is git's own switch for testing that
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    for argv in (["status"], ["report"], ["install"]):
        done = gitobs(*argv, cwd=repo, ok=False)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "another user owns it" in done.stderr and "safe.directory" in done.stderr
