"""Install and uninstall: chaining, exact restoration, other hook managers, worktrees, bare repositories."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import commit_file, git, new_events, user_hook

from gitobs.capture.install import (
    LEAN_HOOKS,
    RECORDED_HOOKS,
    inspect,
    install,
    uninstall,
)
from gitobs.capture.spool import read_spool
from gitobs.core.repo import locate


def snapshot(directory: Path) -> dict[str, tuple]:
    """Every entry's bytes (or link target) and mode: what "byte for byte" means here."""
    result = {}
    for entry in sorted(directory.iterdir()):
        info = entry.lstat()
        if entry.is_symlink():
            content = os.readlink(entry)
        else:
            content = snapshot(entry) if entry.is_dir() else entry.read_bytes()
        result[entry.name] = (content, stat.S_IMODE(info.st_mode), stat.S_IFMT(info.st_mode))
    return result


def test_install_twice_changes_nothing(repo):
    first = install(locate(repo))
    assert set(first.changed) == set(LEAN_HOOKS)
    before = snapshot(repo / ".git" / "hooks")
    second = install(locate(repo))
    assert second.changed == {} and second.problems == []
    assert snapshot(repo / ".git" / "hooks") == before
    assert all(not status.problem for status in inspect(repo / ".git" / "hooks"))


def test_uninstall_restores_hooks_byte_for_byte(repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_bytes(b"#!/bin/sh\necho mine\r\nexit 0\n")
    (hooks / "pre-commit").chmod(0o751)
    (hooks / "post-checkout").write_bytes(b"not executable, git ignores me\n")
    (hooks / "post-checkout").chmod(0o644)
    (hooks / "shared-script").write_bytes(b"#!/bin/sh\nexit 0\n")
    (hooks / "shared-script").chmod(0o755)
    os.symlink("shared-script", hooks / "commit-msg")
    before = snapshot(hooks)
    install(locate(repo))
    assert snapshot(hooks) != before
    install(locate(repo))
    uninstall(locate(repo))
    assert snapshot(hooks) == before
    assert uninstall(locate(repo)).changed == {}


def test_chained_hooks_get_arguments_stdin_and_keep_their_exit_status(repo, tmp_path):
    hooks = repo / ".git" / "hooks"
    seen = tmp_path / "seen"
    (hooks / "prepare-commit-msg").write_text(f'#!/bin/sh\nprintf "%s|" "$0" "$@" > "{seen}.args"\n')
    (hooks / "post-rewrite").write_text(f'#!/bin/sh\ncat > "{seen}.stdin"\nexit 0\n')
    (hooks / "pre-commit").write_text('#!/bin/sh\n[ -e block ] && exit 7\nexit 0\n')
    for name in ("prepare-commit-msg", "post-rewrite", "pre-commit"):
        (hooks / name).chmod(0o755)
    install(locate(repo))
    commit_file(repo, "a.txt", "a\n", "add a")
    assert seen.with_suffix(".args").read_text() == ".git/hooks/prepare-commit-msg|.git/COMMIT_EDITMSG|message|"

    old = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "commit", "-q", "--amend", "-m", "add a, amended")
    new = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert seen.with_suffix(".stdin").read_text() == f"{old} {new}\n"

    (repo / "block").write_text("x")
    git(repo, "add", "block")
    blocked = git(repo, "commit", "-q", "-m", "should not happen", ok=False)
    assert blocked.returncode != 0
    assert git(repo, "rev-parse", "HEAD").stdout.strip() == new
    [event] = new_events(repo, types=("commit.blocked",))
    assert event.data["hook"] == "pre-commit" and event.data["exit"] == 7


def test_husky_style_hooks_path_keeps_working(repo, tmp_path):
    """husky v9 finds its helper and the hook name from $0: the chained copy must still see its own path."""
    husky = repo / ".husky"
    (husky / "_").mkdir(parents=True)
    (husky / "_" / ".gitignore").write_text("*")  # as husky writes it
    (husky / "_" / "h").write_text('n=$(basename "$0")\ns=$(dirname "$(dirname "$0")")/$n\n'
                                   '[ -f "$s" ] || exit 0\nsh -e "$s" "$@"\n')
    (husky / "_" / "pre-commit").write_text('#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n')
    (husky / "_" / "pre-commit").chmod(0o755)
    marker = tmp_path / "husky-ran"
    (husky / "pre-commit").write_text(f'echo "ran as $0" > "{marker}"\n')
    git(repo, "config", "core.hooksPath", ".husky/_")
    before = snapshot(husky / "_")
    report = install(locate(repo))
    assert report.hooks_dir == (husky / "_").resolve() or report.hooks_dir == husky / "_"
    commit_file(repo, "b.txt", "b\n")
    assert marker.read_text().strip() == "ran as .husky/pre-commit"
    assert new_events(repo, types=("commit.created",))
    uninstall(locate(repo))
    assert snapshot(husky / "_") == before


def test_gitbutler_managed_hooks_keep_their_place(repo, tmp_path):
    hooks = repo / ".git" / "hooks"
    marker = tmp_path / "user-hook-ran"
    managed = ('#!/bin/sh\n# GITBUTLER_MANAGED_HOOK_V1\nd=$(dirname "$0")\n'
               '[ -x "$d/pre-commit-user" ] && { "$d/pre-commit-user" "$@" || exit $?; }\nexit 0\n')
    (hooks / "pre-commit").write_text(managed)
    (hooks / "pre-commit-user").write_text(f'#!/bin/sh\ntouch "{marker}"\n')
    for name in ("pre-commit", "pre-commit-user"):
        (hooks / name).chmod(0o755)
    before = snapshot(hooks)
    report = install(locate(repo))
    assert report.changed["pre-commit"].startswith("installed, chaining the existing pre-commit-user")
    assert (hooks / "pre-commit").read_text() == managed
    commit_file(repo, "c.txt", "c\n")
    assert marker.exists()
    assert new_events(repo, types=("commit.attempt",))
    uninstall(locate(repo))
    assert snapshot(hooks) == before


def test_shim_moved_aside_by_pre_commit_framework_still_counts(repo):
    hooks = repo / ".git" / "hooks"
    install(locate(repo))
    os.rename(hooks / "pre-commit", hooks / "pre-commit.legacy")
    (hooks / "pre-commit").write_text('#!/bin/sh\nexec "$(dirname "$0")/pre-commit.legacy" "$@"\n')
    (hooks / "pre-commit").chmod(0o755)
    [status] = [s for s in inspect(hooks) if s.name == "pre-commit"]
    assert status.shim == hooks / "pre-commit.legacy" and not status.problem
    assert install(locate(repo)).changed == {}
    commit_file(repo, "d.txt", "d\n")
    assert new_events(repo, types=("commit.attempt",))


def test_conflicting_leftover_is_reported_not_overwritten(repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "pre-commit.gitobs-chained").write_text("#!/bin/sh\necho something else\n")
    report = install(locate(repo))
    assert any("pre-commit" in problem for problem in report.problems)
    assert (hooks / "pre-commit").read_text() == "#!/bin/sh\nexit 0\n"
    assert "post-checkout" in report.changed


def test_linked_worktree_records_into_the_common_log(watched, tmp_path):
    linked = tmp_path / "linked tree"
    git(watched, "worktree", "add", "-q", "-b", "side", str(linked))
    commit_file(linked, "w.txt", "w\n", "from the worktree")
    created = [e for e in new_events(watched, types=("commit.created",)) if e.data["branch"] == "side"]
    assert len(created) == 1 and created[0].wt == "linked-tree"  # git sanitises worktree names
    attempts = new_events(watched, types=("commit.attempt",))
    assert [a.wt for a in attempts][-1] == created[0].wt


def test_bare_repository_install_and_uninstall(tmp_path):
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    before = snapshot(bare / "hooks")
    report = install(locate(bare))
    assert report.hooks_dir == bare / "hooks" and not report.problems
    assert (bare / "obs" / "spool").is_dir()
    uninstall(locate(bare))
    assert snapshot(bare / "hooks") == before


STDIN_CASES = {
    "empty": b"",
    "one line": b"a b c\n",
    "no last newline": b"a b c\nd e",
    "blank and spaced lines": b"\n  lead\\ing \\n back\\slash  \n\n",
    "many refs": b"".join(b"%040x %040x refs/remotes/origin/b%05d\n" % (i, i + 1, i) for i in range(8000)),
}


def run_hook(repo: Path, name: str, stdin: bytes, *args: str, prefix: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", f'{prefix}exec .git/hooks/{name} "$@"', name, *args], cwd=repo,
                          input=stdin, capture_output=True)


@pytest.mark.parametrize("case", STDIN_CASES)
def test_recorded_stdin_reaches_the_chained_hook_and_the_record_exactly(repo, tmp_path, case):
    seen = tmp_path / "seen"
    user_hook(repo, "reference-transaction", f'cat > "{seen}"\nexit 3\n')
    install(locate(repo), hooks=RECORDED_HOOKS)  # reference-transaction: only in the full set
    done = run_hook(repo, "reference-transaction", STDIN_CASES[case], "committed")
    assert done.returncode == 3 and seen.read_bytes() == STDIN_CASES[case]
    [record] = [r for r in read_spool(locate(repo).obs.spool, now_ns=time.time_ns() + 10**12).records
                if r.hook == "reference-transaction"]
    assert record.stdin == STDIN_CASES[case].decode() and record.status == 3


def test_a_full_disk_never_changes_the_hook_or_what_the_chained_hook_reads(repo, tmp_path):
    """Under `ulimit -f` the spool write fails part way: no SIGXFSZ kills the hook, the chained hook reads
    all of stdin, with the signal's usual disposition."""
    seen = tmp_path / "seen"
    user_hook(repo, "pre-push", f'md5sum > "{seen}.in"\ngrep SigIgn /proc/$$/status > "{seen}.sig"\nexit 0\n')
    install(locate(repo))
    stdin = b"".join(b"refs/heads/b%d %040x refs/heads/b%d %040x\n" % (i, i, i, 0) for i in range(200))
    done = run_hook(repo, "pre-push", stdin, "origin", "/elsewhere", prefix="ulimit -f 8; ")
    assert done.returncode == 0, done.stderr
    assert seen.with_suffix(".in").read_text().split()[0] == hashlib.md5(stdin).hexdigest()
    xfsz = 1 << (signal.SIGXFSZ - 1)
    assert not int(seen.with_suffix(".sig").read_text().split()[1], 16) & xfsz


def test_push_under_a_file_size_limit_still_pushes(repo, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    install(locate(repo))
    for i in range(40):
        git(repo, "branch", f"topic-with-a-long-name-to-fill-the-record-{i:03d}")
    done = subprocess.run(["sh", "-c", "ulimit -f 2; exec git push -q origin --all"], cwd=repo,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(git(remote, "branch").stdout.splitlines()) == 41


def hook_runs(repo: Path, trace: Path, *args: str, input: str | None = None) -> Counter:
    """The hooks one git command ran, by name, from git's own trace2 (`child_start` of class hook)."""
    if trace.exists():
        trace.unlink()
    git(repo, *args, input=input, GIT_TRACE2_EVENT=str(trace))
    runs: Counter = Counter()
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "child_start" and event.get("child_class") == "hook":
            runs[event["hook_name"]] += 1
    return runs


def test_no_git_command_runs_more_than_three_gitobs_hooks(repo, tmp_path):
    """The lean default: no hook git runs per ref or per replayed commit, however many there are."""
    install(locate(repo))
    trace = tmp_path / "trace.json"
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    refs = "".join(f"create refs/heads/b{i} HEAD\n" for i in range(100))
    git(remote, "update-ref", "--stdin", input=refs)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "switch", "-q", "-c", "side")
    for number in range(20):
        commit_file(repo, f"s{number}.txt", f"{number}\n")
    git(repo, "switch", "-q", "main")
    commit_file(repo, "m.txt", "m\n")
    git(repo, "switch", "-q", "side")
    counts = {
        "rebase": hook_runs(repo, trace, "rebase", "-q", "main"),
        "fetch": hook_runs(repo, trace, "fetch", "-q", "origin"),
        "update-ref": hook_runs(repo, trace, "update-ref", "--stdin", input=refs),
        "status": hook_runs(repo, trace, "status"),
    }
    (repo / "c.txt").write_text("c\n")
    git(repo, "add", "c.txt")
    counts["commit"] = hook_runs(repo, trace, "commit", "-q", "-m", "c")
    counts["amend"] = hook_runs(repo, trace, "commit", "-q", "--amend", "--no-edit")
    counts["checkout"] = hook_runs(repo, trace, "checkout", "-q", "main")
    counts["cherry-pick"] = hook_runs(repo, trace, "cherry-pick", "main..side")
    assert counts["status"] == Counter() and counts["fetch"] == Counter() and counts["update-ref"] == Counter()
    assert counts["commit"] == Counter({"pre-commit": 1, "commit-msg": 1})
    assert counts["checkout"] == Counter({"post-checkout": 1})
    assert all(sum(runs.values()) <= 3 for runs in counts.values()), counts


def test_install_over_an_older_full_install_takes_the_dropped_shims_away(repo):
    """An install by an older gitobs (every hook) is upgraded: the hooks no longer recorded get back what
    was there before (the user's own post-commit, chained), and uninstall still restores byte for byte."""
    hooks = repo / ".git" / "hooks"
    (hooks / "post-commit").write_bytes(b"#!/bin/sh\necho mine\n")
    (hooks / "post-commit").chmod(0o700)
    before = snapshot(hooks)
    install(locate(repo), hooks=RECORDED_HOOKS)  # what gitobs installed before the lean set
    assert (hooks / "post-commit.gitobs-chained").exists() and (hooks / "reference-transaction").exists()
    assert [s.name for s in inspect(hooks) if s.problem] == [
        "prepare-commit-msg", "post-commit", "pre-rebase", "post-index-change", "reference-transaction"]
    report = install(locate(repo))
    assert set(report.changed) == {"prepare-commit-msg", "post-commit", "pre-rebase", "post-index-change",
                                   "reference-transaction"}
    assert (hooks / "post-commit").read_bytes() == b"#!/bin/sh\necho mine\n"
    assert not (hooks / "post-commit.gitobs-chained").exists() and not (hooks / "reference-transaction").exists()
    assert all(not status.problem for status in inspect(hooks))
    assert json.loads(locate(repo).obs.manifest.read_text())["hooks"] == list(LEAN_HOOKS)
    uninstall(locate(repo))
    assert snapshot(hooks) == before


def test_the_users_own_config_opts_into_every_hook(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text("[capture]\nall_hooks = true\n")
    assert set(install(locate(repo)).changed) == set(RECORDED_HOOKS)
    assert all(not status.problem for status in inspect(repo / ".git" / "hooks"))
    # a repository cannot ask for them: the key is the user's
    (tmp_path / "config" / "config.toml").write_text("")
    locate(repo).obs.config.write_text("[capture]\nall_hooks = true\n")
    assert set(install(locate(repo)).changed) == set(RECORDED_HOOKS) - set(LEAN_HOOKS)


def test_install_never_writes_through_a_symlink_planted_in_the_hooks_directory(repo, tmp_path):
    """A committed hooks directory (core.hooksPath in the work tree) may carry links named like install's
    temporary files: install replaces the link, never the file it points at."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    hooks = repo / ".githooks"
    hooks.mkdir()
    (repo / ".git" / "info" / "exclude").write_text(".githooks/\n")
    for name in RECORDED_HOOKS:
        (hooks / f".{name}.gitobs-tmp").symlink_to(victim)
    git(repo, "config", "core.hooksPath", ".githooks")
    assert not install(locate(repo)).problems
    assert victim.read_text() == "precious\n"
    assert all(not (hooks / name).is_symlink() for name in os.listdir(hooks) if not name.startswith("."))


def test_a_chained_copy_of_the_shim_is_never_run_and_is_reported(repo):
    install(locate(repo))
    hooks = repo / ".git" / "hooks"
    (hooks / "post-checkout.gitobs-chained").write_bytes((hooks / "post-checkout").read_bytes())
    (hooks / "post-checkout.gitobs-chained").chmod(0o755)
    done = subprocess.run(["git", "checkout", "-q", "-b", "z"], cwd=repo, capture_output=True, timeout=30)
    assert done.returncode == 0
    [status] = [s for s in inspect(hooks) if s.name == "post-checkout"]
    assert "is a gitobs shim itself" in status.problem


def test_a_newline_in_a_hook_argument_cannot_forge_a_record(repo, tmp_path):
    """A push URL may hold newlines: they are written as \\n, never as record lines of their own."""
    forged = "\nstdin\n" + "0" * 40 + " refs/heads/forged " + "1" * 40 + " refs/heads/forged"
    remote = tmp_path / f"evil{forged}"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    install(locate(repo))
    git(repo, "push", "-q", str(remote), "main")
    [push] = new_events(repo, types=("push",))
    assert "refs/heads/forged" not in str(push.data.get("refs"))
    assert push.data.get("refs") and all("main" in str(ref) for ref in push.data["refs"])


def test_hooks_print_nothing_when_a_ref_they_read_is_not_a_loose_file(tmp_path):
    # an unborn branch (first commit) and a packed branch ref: the shim's reads find no file and stay silent
    repo = tmp_path / "fresh"
    git(tmp_path, "init", "-q", str(repo))
    install(locate(repo))
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    first = git(repo, "commit", "-qm", "first")
    git(repo, "pack-refs", "--all")
    (repo / "a.txt").write_text("b\n")
    second = git(repo, "commit", "-qam", "second")
    assert (first.stderr, second.stderr) == ("", "")


def test_hooks_git_status_would_show_are_left_alone(repo):
    """core.hooksPath in the work tree: a tracked hook (or one git does not ignore) is not replaced by the shim,
    which `git commit -a` would commit and `git status` show; an ignored hooks directory is installed."""
    hooks = repo / ".githooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "pre-commit").chmod(0o755)
    git(repo, "add", ".githooks")
    git(repo, "commit", "-q", "-m", "shared hooks")
    git(repo, "config", "core.hooksPath", ".githooks")
    report = install(locate(repo))
    assert len(report.problems) == 1 and "pre-commit" in report.problems[0] and "not installed" in report.problems[0]
    assert git(repo, "status", "--porcelain").stdout == ""
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-a", "-m", "everything")
    assert git(repo, "show", "HEAD:.githooks/pre-commit").stdout == "#!/bin/sh\nexit 0\n"

    git(repo, "config", "core.hooksPath", "local-hooks")  # not there yet: install would create it, untracked
    assert install(locate(repo)).problems and not (repo / "local-hooks").exists()
    (repo / ".git" / "info" / "exclude").write_text("local-hooks/\n")
    report = install(locate(repo))
    assert not report.problems and set(report.changed) == set(LEAN_HOOKS)
    assert git(repo, "status", "--porcelain").stdout == ""


def test_install_runs_no_program_a_copied_git_config_names(repo, tmp_path):
    """A hooks directory in the work tree is checked with git check-ignore, which reads the index: with a
    copied .git's core.fsmonitor, that ran its program."""
    ran = tmp_path / "ran"
    monitor = tmp_path / "monitor.sh"
    monitor.write_text(f"#!/bin/sh\ntouch '{ran}'\nexit 1\n")
    monitor.chmod(0o755)
    (repo / ".git" / "info" / "exclude").write_text(".githooks/\n")
    git(repo, "config", "core.hooksPath", ".githooks")
    git(repo, "config", "core.fsmonitor", str(monitor))
    assert not install(locate(repo)).problems
    assert not ran.exists()


PRE_COMMIT_HOOK = ("#!/bin/sh\n# File generated by pre-commit: https://pre-commit.com\n"
                   '# a stand-in of the same shape: run <hook>.legacy first, as pre-commit hook-impl does\n'
                   'l="$(dirname "$0")/$(basename "$0").legacy"\n[ -x "$l" ] && { "$l" "$@" || exit $?; }\nexit 0\n')


def pre_commit_uninstall(hooks: Path, name: str) -> None:
    """What `pre-commit uninstall` does: only while its own hook is in the slot, put <hook>.legacy back."""
    if b"# File generated by pre-commit" in (hooks / name).read_bytes():
        os.remove(hooks / name)
        if (hooks / f"{name}.legacy").exists():
            os.replace(hooks / f"{name}.legacy", hooks / name)


def test_pre_commit_framework_installed_first_can_still_uninstall_itself(repo, tmp_path):
    hooks = repo / ".git" / "hooks"
    marker = tmp_path / "user-hook-ran"
    user_hook(repo, "pre-commit", f'touch "{marker}"\n')
    os.rename(hooks / "pre-commit", hooks / "pre-commit.legacy")  # `pre-commit install` moved it aside
    (hooks / "pre-commit").write_text(PRE_COMMIT_HOOK)
    (hooks / "pre-commit").chmod(0o755)
    before = snapshot(hooks)
    report = install(locate(repo))
    assert report.changed["pre-commit"] == "installed, chaining the existing pre-commit.legacy"
    assert (hooks / "pre-commit").read_text() == PRE_COMMIT_HOOK
    commit_file(repo, "a.txt", "a\n")
    assert marker.exists() and new_events(repo, types=("commit.attempt",))

    pre_commit_uninstall(hooks, "pre-commit")  # the framework gone, the shim in the slot runs the user's hook
    assert b"# gitobs-shim" in (hooks / "pre-commit").read_bytes()
    marker.unlink()
    commit_file(repo, "b.txt", "b\n")
    assert marker.exists()
    uninstall(locate(repo))
    assert (hooks / "pre-commit").read_text() == f'#!/bin/sh\ntouch "{marker}"\n'
    assert not (hooks / "pre-commit.legacy").exists() and not (hooks / "pre-commit.gitobs-chained").exists()

    # gitobs uninstalled first instead: the framework's layout comes back exactly
    (hooks / "pre-commit").rename(hooks / "pre-commit.legacy")
    (hooks / "pre-commit").write_text(PRE_COMMIT_HOOK)
    (hooks / "pre-commit").chmod(0o755)
    install(locate(repo))
    uninstall(locate(repo))
    assert snapshot(hooks) == before


@pytest.mark.parametrize("advice", ["true", "false"])
def test_a_hook_that_is_not_executable_gets_gits_hint_as_without_gitobs(repo, advice):
    """git hints at a hook it ignores for its mode (advice.ignoredHook); with the shim in its place, git finds
    the shim, which gives the same hint for the chained hook (and none when the advice is off)."""
    hooks = repo / ".git" / "hooks"
    for name in ("pre-commit", "post-checkout"):
        (hooks / name).write_text("#!/bin/sh\necho never run\n")
        (hooks / name).chmod(0o644)
    git(repo, "config", "advice.ignoredHook", advice)

    def session() -> list[tuple[int, str, str]]:
        done = [git(repo, "commit", "-q", "--allow-empty", "-m", "x"), git(repo, "checkout", "-q", "-b", "b")]
        git(repo, "checkout", "-q", "main")
        git(repo, "branch", "-q", "-D", "b")
        return [(d.returncode, d.stdout, d.stderr) for d in done]

    plain = session()
    assert ("hint: The '.git/hooks/pre-commit' hook was ignored" in plain[0][2]) == (advice == "true")
    install(locate(repo))
    assert session() == plain


def test_a_chained_program_sees_its_own_hook_name(repo, tmp_path):
    """A hook run as a program (not sourced) that tells which hook it is by the name it was run as, as
    overcommit's does (File.basename($0)), still sees the hook's name; a symlinked one too."""
    hooks = repo / ".git" / "hooks"
    seen = tmp_path / "seen"
    (hooks / "dispatch").write_text(
        "#!/usr/bin/env python3\nimport os, sys\n"
        f"open({str(seen)!r}, 'a').write(os.path.basename(sys.argv[0]) + '\\n')\n"
        "sys.exit(0 if os.path.basename(sys.argv[0]) in ('pre-commit', 'commit-msg') else 69)\n")
    (hooks / "dispatch").chmod(0o755)
    os.symlink("dispatch", hooks / "pre-commit")
    (hooks / "commit-msg").write_bytes((hooks / "dispatch").read_bytes())
    (hooks / "commit-msg").chmod(0o755)
    before = snapshot(hooks)
    install(locate(repo))
    commit_file(repo, "a.txt", "a\n")  # fails if the hook saw another name
    assert seen.read_text() == "pre-commit\ncommit-msg\n"
    install(locate(repo))
    uninstall(locate(repo))
    assert snapshot(hooks) == before


def test_a_hook_git_cannot_start_fails_in_gits_words(repo):
    """A #! line naming a program that is not there (CRLF line ends: "/bin/sh\\r") fails the hook, and git
    says so naming the hook; with the shim in front, the same words and exit status, not the chained file's."""
    hooks = repo / ".git" / "hooks"
    for name in ("pre-commit", "post-checkout"):
        (hooks / name).write_bytes(b"#!/bin/sh\r\nexit 0\r\n")
        (hooks / name).chmod(0o755)

    def session() -> list[tuple[int, str, str]]:
        done = [git(repo, "commit", "-q", "--allow-empty", "-m", "x", ok=False),
                git(repo, "checkout", "-q", "-b", "b", ok=False)]
        git(repo, "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main")
        git(repo, "branch", "-q", "-D", "b")
        return [(d.returncode, d.stdout, d.stderr) for d in done]

    plain = session()
    assert plain[0] == (1, "", "fatal: cannot run .git/hooks/pre-commit: No such file or directory\n")
    install(locate(repo))
    assert session() == plain
