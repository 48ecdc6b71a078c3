"""git's trace2 as a second source: `gitobs trace2 enable|disable|status` on the test's own global git config
(HOME and XDG_CONFIG_HOME in a temporary directory), and the drain of what real git writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import git, gitobs

from gitobs.capture import trace2_setup


@pytest.fixture
def user(tmp_path, monkeypatch) -> Path:
    """A home whose global git config is found the way git finds it (no GIT_CONFIG_GLOBAL), with its own
    XDG config and state homes; returns the home."""
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_CONFIG_GLOBAL")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "xdg-state"))
    monkeypatch.delenv("GITOBS_STATE_HOME", raising=False)
    return home


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
