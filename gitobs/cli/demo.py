"""A scripted working session played through real git commands in a scratch repository.

The repository starts from fixtures/repos/demo-project.sh; git runs with a private config (no user or
system settings leak in), and everything happens through the installed hooks and the reflog, as it
would for a person at a terminal.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from gitobs.capture.install import RECORDED_HOOKS, install
from gitobs.core.repo import GitobsError, locate

# The user's own pre-commit hook, installed before gitobs so that gitobs chains it.
USER_PRE_COMMIT = """#!/bin/sh
# refuse scratch files
if git diff --cached --name-only | grep -q '[.]tmp$'; then
    echo "pre-commit: refusing to commit *.tmp scratch files" >&2
    exit 1
fi
"""
# An editor that takes a moment, like a person typing a message.
SLOW_EDITOR = "sleep 1.2; printf 'Handle unary minus\\n' > \"$1\""


def build_fixture(target: Path) -> None:
    script = resources.files("gitobs_fixtures").joinpath("demo-project.sh").read_text(encoding="utf-8")
    done = subprocess.run(["sh", "-c", script, "demo-project.sh", str(target)], env=git_env(target.parent),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise GitobsError(f"building the demo repository failed: {done.stderr.strip()[-200:]}")


def git_env(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    config = home / "demo.gitconfig"
    if not config.exists():
        config.write_text("[user]\n\tname = Demo Developer\n\temail = dev@example.invalid\n"
                          "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    env.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1", GITOBS_NO_BACKGROUND="1",
               GIT_EDITOR="true")
    env.update(extra)
    return env


class Session:
    def __init__(self, repo_dir: Path, narrate: Callable[[str], None]) -> None:
        self.dir = repo_dir
        self.narrate = narrate

    def git(self, *args: str, ok: bool = True, **env: str) -> int:
        done = subprocess.run(["git", *args], cwd=self.dir, env=git_env(self.dir.parent, **env),
                              capture_output=True, text=True)
        if ok and done.returncode != 0:
            raise GitobsError(f"demo step git {' '.join(args)} failed: {done.stderr.strip()[-200:]}")
        return done.returncode

    def write(self, path: str, text: str, append: bool = False) -> None:
        target = self.dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a" if append else "w", encoding="utf-8") as handle:
            handle.write(text)

    def step(self, text: str) -> None:
        self.narrate(f"  $ {text}")


def play(session: Session) -> None:
    """About a morning's work, compressed into a few seconds."""
    s = session
    s.step("git switch -c feature/parser; write the parser; git commit -m ...")
    s.git("switch", "-q", "-c", "feature/parser")
    s.write("src/parser.py", "from src.tokenizer.core import tokenize\n\n\ndef parse(text):\n"
                             "    return tokenize(text)\n")
    s.git("add", "src/parser.py")
    s.git("commit", "-q", "-m", "Add a parser")

    s.step("edit the parser, commit with the editor open for a while")
    s.write("src/parser.py", "\n\ndef negate(tokens):\n    return ['-'] + tokens\n", append=True)
    s.git("add", "-A")
    s.git("commit", "-q", GIT_EDITOR=f"sh -c {shlex.quote(SLOW_EDITOR)} editor")

    s.step("fix a typo and amend")
    s.write("src/parser.py", "# parser: tokens in, tree out\n", append=True)
    s.git("commit", "-q", "-a", "--amend", "--no-edit")

    s.step("try to commit a scratch file: the project's own pre-commit hook blocks it")
    s.write("notes.tmp", "remember the precedence rules\n")
    s.git("add", "notes.tmp")
    s.git("commit", "-q", "-m", "notes", ok=False)
    s.git("rm", "-q", "--cached", "notes.tmp")
    (s.dir / "notes.tmp").unlink()

    s.step("start a commit, then quit the editor without saving (aborted)")
    s.write("src/parser.py", "\n\ndef precedence(op):\n    return {'+': 1, '*': 2}[op]\n", append=True)
    s.git("add", "-A")
    s.git("commit", "-q", ok=False, GIT_EDITOR="false")

    s.step("throw away an experiment in README.md (git checkout -- README.md)")
    s.write("README.md", "\nExperimental: maybe support variables?\n", append=True)
    s.git("checkout", "--", "README.md")

    s.step("stash the work in progress, fix something on main, come back")
    s.git("stash", "-q")
    s.git("switch", "-q", "main")
    s.write("docs/usage.md", "\nSee also: calc --help\n", append=True)
    s.git("commit", "-q", "-a", "-m", "Mention --help")
    s.git("switch", "-q", "feature/parser")
    s.git("stash", "pop", "-q")
    s.git("commit", "-q", "-a", "-m", "Operator precedence")

    s.step("commit a quick WIP, think better of it: git reset --soft HEAD~1")
    s.write("src/parser.py", "# TODO: errors\n", append=True)
    s.git("commit", "-q", "-a", "-m", "wip")
    s.git("reset", "-q", "--soft", "HEAD~1")
    s.git("commit", "-q", "-m", "Note error handling")

    s.step("merge the feature into main, then revert the doc change")
    s.git("switch", "-q", "main")
    s.git("merge", "-q", "--no-ff", "--no-edit", "feature/parser")
    s.git("revert", "--no-edit", "HEAD^1")


def prepare(target: Path, narrate: Callable[[str], None]) -> Path:
    """Build the fixture, add the user's own hook, install gitobs; returns the repository."""
    build_fixture(target)
    hook = target / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(USER_PRE_COMMIT)
    hook.chmod(0o755)
    repo = locate(target)
    # Every hook, not just the lean default, so that the session shows every event type (stash pop, staging
    # counts of each `git add`): what `capture.all_hooks = true` installs.
    report = install(repo, executable=sys.executable, hooks=RECORDED_HOOKS)
    narrate(f"gitobs installed in {target} ({len(report.changed)} hooks, all of them as capture.all_hooks would,"
            " the existing pre-commit chained)")
    return target
