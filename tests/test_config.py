"""The layered configuration and its trust boundary: a repository's own files (the clone's config and the
committed .gitobs.toml) can make gitobs record and share less, never more, and never send data anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import git, gitobs

from gitobs.core import config
from gitobs.core.repo import GitobsError
from gitobs.core.timespec import parse_duration, parse_moment


@pytest.fixture(autouse=True)
def private_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))


def loaded(repo):
    return config.load(repo / ".git", repo)


def test_defaults_user_repo_committed_in_that_order(repo):
    config.write_key(config.user_file(), ["scan", "undo_window"], "10m")
    config.write_key(config.user_file(), ["scan", "stage_burst_gap"], "5s")
    config.write_key(repo / ".git" / "obs" / "config.toml", ["scan", "undo_window"], "20m")
    (repo / ".gitobs.toml").write_text('[report.options]\n"heatmap.top" = 30\n[scan]\nundo_window = "1h"\n')
    found = loaded(repo)
    assert found["scan.undo_window"] == 3600.0 and found.values["scan.undo_window"].origin == "committed"
    assert found["scan.stage_burst_gap"] == 5.0 and found.values["scan.stage_burst_gap"].origin == "user"
    assert found["report.options"] == {"heatmap.top": "30"}
    assert found["retention.max_bytes"] == 64 << 20 and found.values["retention.max_bytes"].origin == "default"
    assert found.warnings == []


def test_a_committed_file_cannot_turn_on_export_or_weaken_redaction(repo):
    (repo / ".gitobs.toml").write_text(
        '[export.otlp]\nendpoint = "https://collector.example.invalid"\n'
        '[export.prometheus]\ntextfile = "/tmp/leak.prom"\n[bundle]\nredact = false\n')
    found = loaded(repo)
    assert found["export.otlp.endpoint"] == "" and found["export.prometheus.textfile"] == ""
    assert found["bundle.redact"] is True
    assert len(found.warnings) == 3 and all(".gitobs.toml" in w and "ignored" in w for w in found.warnings)


def test_the_clones_own_config_cannot_either(repo):
    (repo / ".git" / "obs").mkdir(parents=True, exist_ok=True)
    (repo / ".git" / "obs" / "config.toml").write_text(
        '[export.otlp]\nendpoint = "https://collector.example.invalid"\n[bundle]\nredact = false\n')
    found = loaded(repo)
    assert found["export.otlp.endpoint"] == "" and found["bundle.redact"] is True
    assert len(found.warnings) == 2


def test_a_repository_may_narrow_capture_but_not_widen_it(repo):
    config.write_key(config.user_file(), ["capture", "worktree"], False)
    config.write_key(config.user_file(), ["capture", "skip_hooks"], ["post-index-change"])
    (repo / ".gitobs.toml").write_text('[capture]\nworktree = true\nreflog = false\nskip_hooks = ["pre-push"]\n')
    found = loaded(repo)
    assert found["capture.worktree"] is False  # widening: ignored
    assert found["capture.reflog"] is False  # narrowing: taken
    assert found["capture.skip_hooks"] == ["post-index-change", "pre-push"]  # only ever added to
    assert [w for w in found.warnings if "capture.worktree = true is ignored" in w]


def test_the_user_may_do_what_a_repository_may_not(repo):
    config.write_key(config.user_file(), ["export", "otlp", "endpoint"], "http://127.0.0.1:4318")
    config.write_key(config.user_file(), ["bundle", "redact"], False)
    found = loaded(repo)
    assert found["export.otlp.endpoint"] == "http://127.0.0.1:4318" and found["bundle.redact"] is False


@pytest.mark.parametrize(("text", "message"), [
    ('[scan]\nundo_window = "soon"\n', "scan.undo_window must be a duration"),
    ("[scan]\nno_such = 1\n", "unknown key scan.no_such"),
    ("[capture]\npaths = \"yes\"\n", "capture.paths must be true or false"),
    ("[scan\n", "config.toml"),
])
def test_bad_values_in_your_own_files_are_errors_naming_file_and_key(repo, text, message):
    path = repo / ".git" / "obs" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    with pytest.raises(GitobsError, match=message) as raised:
        loaded(repo)
    assert str(path) in str(raised.value)


def test_bad_keys_in_the_committed_file_are_reported_and_ignored(repo):
    (repo / ".gitobs.toml").write_text('[scan]\nundo_window = "soon"\nstage_burst_gap = "1m"\n[future]\nx = 1\n')
    found = loaded(repo)
    assert found["scan.stage_burst_gap"] == 60.0 and found["scan.undo_window"] == 1800.0
    assert sorted(w.split(": ")[1].split(" ")[0] for w in found.warnings) == ["scan.undo_window", "unknown"]


def test_config_commands_set_get_unset_and_show_origins(watched):
    gitobs("config", "set", "scan.undo_window", "5m", cwd=watched)
    gitobs("config", "set", "--user", "capture.paths", "false", cwd=watched)
    gitobs("config", "set", "report.options.heatmap.top", "30", cwd=watched)
    shown = gitobs("config", "list", "--show-origin", cwd=watched).stdout
    assert f'scan.undo_window = 300.0  # repo ({watched / ".git" / "obs" / "config.toml"})' in shown
    assert "capture.paths = false  # user (" in shown
    assert 'report.options.heatmap.top = "30"  # repo' in shown
    assert gitobs("config", "get", "capture.paths", cwd=watched).stdout.strip() == "capture.paths = false"
    assert (watched / ".git" / "obs" / "config.toml").read_text() == (
        '[scan]\nundo_window = "5m"\n\n[report.options]\n"heatmap.top" = "30"\n')
    gitobs("config", "unset", "report.options.heatmap.top", cwd=watched)
    gitobs("config", "unset", "scan.undo_window", cwd=watched)
    assert (watched / ".git" / "obs" / "config.toml").read_text() == ""


@pytest.mark.parametrize(("args", "message"), [
    (["set", "export.otlp.endpoint", "http://x"], "only be set in your own config"),
    (["set", "capture.worktree", "maybe"], "takes true or false"),
    (["set", "retention.max_bytes", "lots"], "must be a size"),
    (["set", "retention.max_bytes", "9" * 5000], "must be a size"),
    (["set", "retention.max_age", "9" * 400 + "d"], "must be a duration"),
    (["get", "no.such"], "unknown setting 'no.such'"),
    (["set", "report.options", "x"], "one entry at a time"),
])
def test_config_command_errors_are_one_line(watched, args, message):
    done = gitobs("config", *args, cwd=watched, ok=False)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_report_options_from_the_config_are_defaults_for_dash_o(watched):
    def idle_gap(*args: str) -> object:
        built = gitobs("report", "--only", "patterns", "--format", "json", *args, cwd=watched).stdout
        [section] = [s for s in json.loads(built)["sections"] if s["name"] == "patterns"]
        [facts] = [b for b in section["blocks"] if b["id"] == "sessions"]
        return dict((label, value) for label, value, _ in facts["items"])["idle gap"]

    assert idle_gap() == 1800
    gitobs("config", "set", "report.options.patterns.idle_gap", "45m", cwd=watched)
    assert idle_gap() == 2700
    assert idle_gap("-O", "patterns.idle_gap=10m") == 600  # the command line wins


# -- a repository's files cannot shorten retention ---------------------------------------------------------------

def test_a_repository_may_keep_more_but_never_less(repo):
    config.write_key(config.user_file(), ["retention", "max_age"], "30d")
    config.write_key(repo / ".git" / "obs" / "config.toml", ["retention", "max_age"], "7d")
    (repo / ".gitobs.toml").write_text('[retention]\nmax_bytes = 1\nmax_age = "365d"\n')
    found = loaded(repo)
    assert found["retention.max_age"] == 365 * 86400.0 and found.values["retention.max_age"].origin == "committed"
    assert found["retention.max_bytes"] == 64 << 20 and found.values["retention.max_bytes"].origin == "default"
    assert sorted(w.split(": ")[1].split(" = ")[0] for w in found.warnings) == [
        "retention.max_age", "retention.max_bytes"]
    assert all("ignored: a repository may only raise it" in w for w in found.warnings)


def test_the_clones_config_cannot_shorten_what_the_committed_file_raised_it_to(repo):
    config.write_key(repo / ".git" / "obs" / "config.toml", ["retention", "max_age"], "365d")
    (repo / ".gitobs.toml").write_text('[retention]\nmax_age = "100d"\n')
    found = loaded(repo)
    assert found["retention.max_age"] == 365 * 86400.0 and found.values["retention.max_age"].origin == "repo"
    assert len(found.warnings) == 1


def test_a_committed_file_cannot_make_a_scan_delete_the_log(watched):
    config.write_key(config.user_file(), ["retention", "max_age"], "3650d")  # you keep everything
    git(watched, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "old",
        GIT_COMMITTER_DATE="2020-03-01T10:00:00Z", GIT_AUTHOR_DATE="2020-03-01T10:00:00Z")
    before = gitobs("events", "--format", "jsonl", cwd=watched).stdout
    (watched / ".gitobs.toml").write_text("[retention]\nmax_bytes = 1\nmax_age = 0\n")
    gitobs("gc", cwd=watched)
    assert gitobs("events", "--format", "jsonl", "--no-scan", cwd=watched).stdout.startswith(before)
    assert "2020-03-01" in before


# -- absurd numbers are refused when the file is read, never crash a scan ----------------------------------------

HUGE_DIGITS = "9" * 400  # float() makes it inf


@pytest.mark.parametrize("line", [
    "retention.max_age = inf", "retention.max_age = 1e308", f"retention.max_age = {2 ** 70}",
    f'retention.max_age = "{HUGE_DIGITS}d"', "scan.undo_window = inf", "scan.stage_burst_gap = 1e300",
    f"retention.max_bytes = {2 ** 70}", f'retention.max_bytes = "{HUGE_DIGITS}GiB"', 'retention.max_bytes = "0KiB"',
])
def test_absurd_numbers_in_the_committed_file_are_reported_and_the_default_kept(repo, line):
    name, raw = line.split(" = ")
    section, key = name.split(".")
    (repo / ".gitobs.toml").write_text(f"[{section}]\n{key} = {raw}\n")
    found = loaded(repo)
    assert found.values[name].origin == "default"
    [warning] = found.warnings
    assert f"{name} must be a " in warning and "ignored" in warning and "\n" not in warning


def test_a_committed_number_too_long_for_python_is_reported_not_a_traceback(repo):
    (repo / ".gitobs.toml").write_text(f"[retention]\nmax_bytes = {'9' * 5000}\n")
    found = loaded(repo)
    assert found.values["retention.max_bytes"].origin == "default"
    [warning] = found.warnings
    assert warning.startswith(f"{repo / '.gitobs.toml'}: ") and warning.endswith("; ignored")


@pytest.mark.parametrize(("section", "key", "raw"), [
    ("export.otlp", "timeout", "inf"), ("retention", "max_age", '"1000000w"')])
def test_absurd_numbers_in_your_own_file_are_errors_naming_file_and_key(repo, section, key, raw):
    config.user_file().parent.mkdir(parents=True)
    config.user_file().write_text(f"[{section}]\n{key} = {raw}\n")
    with pytest.raises(GitobsError, match=f"{section}.{key} must be a duration") as raised:
        loaded(repo)
    assert str(raised.value).startswith(f"{config.user_file()}: ")


@pytest.mark.parametrize(("key", "raw"), [("max_age", "inf"), ("max_bytes", f'"{HUGE_DIGITS}GiB"')])
def test_a_scan_with_an_absurd_committed_number_does_not_crash(watched, key, raw):
    (watched / ".gitobs.toml").write_text(f"[retention]\n{key} = {raw}\n")
    done = gitobs("gc", cwd=watched, ok=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("text", [f"{HUGE_DIGITS}d", "200000w"])
def test_durations_on_the_command_line_are_bounded_too(text):
    with pytest.raises(GitobsError, match="at most 100 years"):
        parse_duration(text)
    with pytest.raises(GitobsError, match="at most 100 years"):
        parse_moment(text, 1e9)


# -- config files are read only when they are small regular files ------------------------------------------------

def run_bounded(*args: str, cwd) -> subprocess.CompletedProcess:
    """gitobs with a time limit: a read that blocks (a FIFO) must fail the test, not hang it."""
    return subprocess.run([sys.executable, "-m", "gitobs", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("kind", ["device", "huge"])
def test_a_committed_file_that_is_not_a_small_regular_file_is_ignored(repo, kind):
    if kind == "device":  # /dev/zero is the hostile one; /dev/null keeps a failing test from filling memory
        (repo / ".gitobs.toml").symlink_to("/dev/null")
    else:
        (repo / ".gitobs.toml").write_text("[capture]\npaths = false\n" + "# padding\n" * 120_000)
    found = loaded(repo)
    assert found["capture.paths"] is True
    [warning] = found.warnings
    assert warning.startswith(f"{repo / '.gitobs.toml'}: ") and warning.endswith("; ignored") and "\n" not in warning


def test_a_committed_symlink_is_followed_to_a_regular_file_only_and_a_fifo_does_not_block(repo):
    (repo / "team.toml").write_text("[capture]\npaths = false\n")
    (repo / ".gitobs.toml").symlink_to("team.toml")
    assert loaded(repo)["capture.paths"] is False
    os.mkfifo(repo / "pipe")
    (repo / ".gitobs.toml").unlink()
    (repo / ".gitobs.toml").symlink_to("pipe")
    done = run_bounded("config", "get", "capture.paths", cwd=repo)
    assert done.returncode == 0 and done.stdout == "capture.paths = true\n"
    assert "not a regular file; ignored" in done.stderr


def test_your_own_file_as_a_fifo_is_a_one_line_error(repo):
    config.user_file().parent.mkdir(parents=True)
    os.mkfifo(config.user_file())
    for args in (["config", "list"], ["config", "set", "--user", "capture.paths", "false"]):
        done = run_bounded(*args, cwd=repo)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"{config.user_file()}: not a regular file" in done.stderr


@pytest.mark.parametrize("text", [
    "a = " + "[" * 400_000 + "]" * 400_000 + "\n",  # tomllib recurses: RecursionError
    "a = " + "{b = " * 100_000 + "1" + "}" * 100_000 + "\n",
    "a." * 200_000 + "b = 1\n",  # tomllib is quadratic in a dotted key's depth: 40 minutes at 1 MiB
    "[" + "a." * 200_000 + "b]\n",
    "a." * 900 + "b = 1\n",  # fast to parse, but nested past what flattening it may recurse
])
def test_a_committed_file_nested_without_end_is_reported_and_ignored_at_once(repo, text):
    (repo / ".gitobs.toml").write_text("[capture]\npaths = false\n" + text)
    done = run_bounded("config", "get", "capture.paths", cwd=repo)
    assert done.returncode == 0 and done.stdout == "capture.paths = true\n", done.stderr[-2000:]
    [warning] = done.stderr.splitlines()
    assert warning.startswith(f"gitobs: warning: {repo / '.gitobs.toml'}: ") and warning.endswith("; ignored")


def test_a_list_setting_is_shown_on_one_line(watched):
    gitobs("config", "set", "capture.skip_hooks", "pre-push,post-index-change", cwd=watched)
    gitobs("config", "set", "--user", "export.otlp.headers", "a=1,b c=2", cwd=watched)
    done = gitobs("config", "list", cwd=watched)
    assert 'capture.skip_hooks = ["post-index-change", "pre-push"]\n' in done.stdout
    assert 'export.otlp.headers = { a = "1", "b c" = "2" }\n' in done.stdout


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_moment_past_what_a_date_in_utc_can_hold_is_a_one_line_error(watched, text):
    with pytest.raises(GitobsError, match="not a time"):
        parse_moment(text, 1e9)
    for command in ("report", "query", "events", "bundle"):
        done = gitobs(command, "--no-scan", "--since", text, cwd=watched, ok=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (command, done.stderr[-300:])
        assert done.stderr.startswith("gitobs: error: not a time")


def test_setting_your_own_config_writes_through_its_symlink(repo, tmp_path):
    """Dotfile managers (stow, chezmoi, home-manager) link ~/.config/gitobs/config.toml to a file they keep:
    a set goes to that file, as git config --global does, and the link stays."""
    kept = tmp_path / "dotfiles" / "gitobs.toml"
    kept.parent.mkdir()
    kept.write_text("[scan]\nundo_window = \"10m\"\n")
    config.user_file().parent.mkdir(parents=True)
    config.user_file().symlink_to(kept)
    gitobs("config", "set", "--user", "capture.paths", "false", cwd=repo)
    gitobs("config", "unset", "--user", "scan.undo_window", cwd=repo)
    assert config.user_file().is_symlink()
    assert kept.read_text() == "[capture]\npaths = false\n"
