"""Real git repositories in temporary directories; git runs with a private config, as in `gitobs demo`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitobs.capture.install import install
from gitobs.core.repo import locate
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan

PERSONAL = ("GITOBS_DATA_HOME", "GITOBS_CONFIG_HOME", "GITOBS_STATE_HOME", "GITOBS_CACHE_HOME", "XDG_DATA_HOME",
            "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")  # the state home: where `gitobs trace2 enable`
# has git write, drained by scans; the cache home: bundles' report cache
# .ci/run sets this: there a missing system package (Chromium, Prometheus) fails its tests instead of
# skipping them, so CI runs every one while the README's test command passes on any fresh machine.
REQUIRE_SYSTEM_PACKAGES = os.environ.get("GITOBS_REQUIRE_SYSTEM_PACKAGES") == "1"


def require_system_package(present: bool, what: str, install: str) -> None:
    """Skip (fail under .ci/run) a test whose system package is missing, in one line."""
    if present:
        return
    reason = f"{what} is not installed ({install}; .ci/run installs it)"
    if REQUIRE_SYSTEM_PACKAGES:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = Test Dev\n\temail = dev@example.invalid\n"
                      "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    for key in list(os.environ):
        if key.startswith("GIT_") or key in PERSONAL:
            monkeypatch.delenv(key)  # the user's registry, schedule and config are never a test's
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_EDITOR", "true")
    monkeypatch.setenv("GITOBS_NO_BACKGROUND", "1")



@pytest.fixture
def own_home(tmp_path, monkeypatch) -> Path:
    """A user of their own: a home whose global git config git finds the way it does for a person (no
    GIT_CONFIG_GLOBAL), with its own XDG config and state homes (where `gitobs trace2 enable` points git).
    Returns the home; its .gitconfig is not written."""
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_CONFIG_GLOBAL")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "xdg-state"))
    return home


def trace2_enabled(home: Path) -> None:
    """`own_home` with a name and email, and git's trace2 turned on by gitobs."""
    from gitobs.capture import trace2_setup

    (home / ".gitconfig").write_text("[user]\n\tname = Test Dev\n\temail = dev@example.invalid\n"
                                     "[init]\n\tdefaultBranch = main\n")
    trace2_setup.enable()

def git(repo: Path, *args: str, ok: bool = True, input: str | None = None, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, input=input,
                          env={**os.environ, **env})
    if ok and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done


def gitobs(*args: str, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "gitobs", *args], cwd=cwd, capture_output=True, text=True)
    if ok and done.returncode != 0:
        raise AssertionError(f"gitobs {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


def commit_file(repo: Path, name: str, text: str, message: str = "change", **env: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", message, **env)


def user_hook(repo: Path, name: str, body: str) -> Path:
    """The user's own hook `name` (a sh script with this body), as gitobs install finds and chains it."""
    path = repo / ".git" / "hooks" / name
    path.write_text(f"#!/bin/sh\n{body}")
    path.chmod(0o755)
    return path


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository with one commit, gitobs not installed."""
    path = tmp_path / "work"
    git(tmp_path, "init", "-q", str(path))
    commit_file(path, "README.md", "hello\n", "initial")
    return path


@pytest.fixture
def watched(repo) -> Path:
    """A repository with one commit (made before install) and gitobs installed, log scanned once."""
    install(locate(repo))
    scan(locate(repo).common_dir)
    return repo


def new_events(repo: Path, since_seq: int = 0, types: tuple[str, ...] = ()) -> list:
    """Scan, then the events after `since_seq` (leaving out gitobs's own), oldest first."""
    scan(locate(repo).common_dir)
    found = [e for e in read_events(locate(repo).obs, lambda m: None) if e.seq > since_seq]
    found = [e for e in found if not e.type.startswith("gitobs.")]
    return [e for e in found if not types or e.type in types]


def last_seq(repo: Path) -> int:
    """Scan, then the seq of the newest event."""
    scan(locate(repo).common_dir)
    events = list(read_events(locate(repo).obs, lambda m: None))
    return events[-1].seq if events else 0
