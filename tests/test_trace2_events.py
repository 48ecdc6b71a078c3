"""What trace2 adds to the log: `git.command` per git process and `edit.discarded` with paths, read from the
trace2 files real git writes (fixtures/trace2/make-traces.sh), in full and brief mode; and the readers'
behaviour on files git did not write whole: truncated, malformed, hostile."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import msgspec
import pytest

from gitobs.capture import git_argv
from gitobs.capture.actors import ACTOR_ENV_VARS, ACTORS, ActorRules
from gitobs.capture.git_commands import is_reading
from gitobs.capture.ingest import Collector
from gitobs.capture.trace2_events import (
    SAMPLE_ONE_IN,
    events_of,
    repo_of,
    sample_weight,
)
from gitobs.core import config
from gitobs.core.redact import hash_path
from gitobs.log import schema

SCRIPT = Path(__file__).resolve().parent.parent / "fixtures" / "trace2" / "make-traces.sh"
MESSAGES = ("Blocked by the hook", "Past the hook", "By an agent", "From the IDE", "On CI", "Edited in the editor",
            "origin", "alias.co", "-n in a cluster")


@pytest.fixture(scope="module", params=["full", "brief"])
def traces(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp(f"traces-{request.param}")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env["GIT_TRACE2_ENV_VARS"] = ",".join(ACTOR_ENV_VARS)
    if request.param == "brief":
        env["GIT_TRACE2_EVENT_BRIEF"] = "1"
    subprocess.run([str(SCRIPT), str(out)], check=True, env=env, capture_output=True)
    return out


def records_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def files_of(traces: Path, scenario: str) -> list[list[dict]]:
    return [records_of(path) for path in sorted((traces / scenario).iterdir())]


def events(traces: Path, scenario: str, rules: ActorRules | None = None) -> list[tuple[str, schema.Payload]]:
    return [(kind, payload) for records in files_of(traces, scenario)
            for kind, payload, _, _ in events_of(records, rules)]


def commands(traces: Path, scenario: str, **rules) -> list[schema.GitCommand]:
    return [payload for kind, payload in events(traces, scenario, **rules) if kind == "git.command"]


def discards(traces: Path, scenario: str) -> list[schema.EditDiscarded]:
    return [payload for kind, payload in events(traces, scenario) if kind == "edit.discarded"]


def only(items: list):
    assert len(items) == 1, items
    return items[0]


def test_a_commit_with_an_editor_gives_its_exit_duration_and_editor_time(traces):
    command = only(commands(traces, "commit-editor"))
    assert (command.command, command.mode, command.exit, command.hooks) == ("commit", "", 0, [])
    assert command.editor_s is not None and command.editor_s >= 0.2  # the editor sleeps 0.2 s
    assert command.duration_s >= command.editor_s
    assert (command.weight, command.nested, command.no_verify, command.actor) == (1, False, False, "script")


def test_a_blocking_hook_is_named_with_its_exit(traces):
    command = only(commands(traces, "commit-blocked"))
    assert command.exit == 1
    hook = only(command.hooks)
    assert (hook.hook, hook.exit, hook.runs) == ("pre-commit", 1, 1)
    assert 0 < hook.seconds <= command.duration_s


@pytest.mark.parametrize("scenario", ["commit-no-verify", "commit-short-n", "push-no-verify"])
def test_no_verify_is_seen_on_commit_and_push(traces, scenario):
    command = commands(traces, scenario)[0]  # a local push also runs receive-pack, unpack-objects, ...
    assert command.command in ("commit", "push") and command.no_verify and command.hooks == []


def test_a_git_run_by_a_hook_is_nested_and_its_actor_is_git(traces):
    commit, diff = commands(traces, "hook-runs-git")
    assert (commit.command, commit.nested, only(commit.hooks).hook) == ("commit", False, "pre-commit")
    assert (diff.command, diff.nested, diff.actor) == ("diff", True, "git")


def test_checkout_of_a_branch_is_no_discard(traces):
    assert only(commands(traces, "checkout-branch")).mode == "branch"
    assert discards(traces, "checkout-branch") == []


def test_checkout_of_paths_and_restore_discard_those_files(traces):
    assert only(commands(traces, "checkout-paths")).mode == "path"
    lost = only(discards(traces, "checkout-paths"))
    assert (lost.how, lost.files) == ("checkout", [schema.FileChange("a.txt", 0, 0), schema.FileChange("src/c.txt", 0, 0)])
    assert only(discards(traces, "restore")).files == [schema.FileChange("b.txt", 0, 0)]
    assert only(commands(traces, "restore-staged")).command == "restore"
    assert discards(traces, "restore-staged") == []  # the index only: nothing of the working tree lost


def test_reset_hard_is_a_discard_without_paths(traces):
    assert only(commands(traces, "reset-hard")).mode == "hard"
    lost = only(discards(traces, "reset-hard"))
    assert (lost.how, lost.files) == ("reset-hard", [])


def test_an_alias_is_the_command_it_ran_and_no_nested_git(traces):
    assert len(files_of(traces, "alias")) == 2  # the alias's own git process, and the checkout it ran
    command = only(commands(traces, "alias"))
    assert (command.command, command.mode, command.nested, command.actor) == ("checkout", "path", False, "script")
    assert only(discards(traces, "alias")).files == [schema.FileChange("a.txt", 0, 0)]


def test_a_discard_comes_after_its_command_began_and_shares_its_provenance(traces):
    records = only(files_of(traces, "checkout-paths"))
    (_, _, command_ns, command_origin), (_, _, discard_ns, discard_origin) = events_of(records)
    sid = records[0]["sid"]
    assert command_origin == discard_origin == f"trace2|{sid}"
    assert command_ns <= discard_ns
    assert repo_of(records) == str(traces / "worktree")


def test_reading_commands_are_sampled_with_a_weight_failures_are_kept(traces):
    files = files_of(traces, "status")
    assert len(files) == 12
    kept = commands(traces, "status")
    assert {command.weight for command in kept} <= {SAMPLE_ONE_IN}
    expected = [records for records in files if sample_weight(records[0]["sid"], reading=True, exit=0,
                                                               duration_s=0.0)]
    assert len(kept) == len(expected)
    assert [events_of(records) for records in files] == [events_of(records) for records in files]
    failing = only(commands(traces, "status-failing"))
    assert (failing.exit, failing.weight) == (129, 1)


def test_a_rebase_is_kept_whole(traces):
    found = commands(traces, "rebase")
    assert found[0].command == "rebase" and found[0].exit == 0 and not found[0].nested
    assert all(command.nested and command.actor == "git" for command in found[1:])


@pytest.mark.parametrize("scenario,actor", [("agent", "agent"), ("ide", "ide"), ("ide-terminal", "terminal"),
                                            ("ci", "ci"), ("commit-no-verify", "script")])
def test_the_actor_from_ancestry_and_environment(traces, scenario, actor):
    assert commands(traces, scenario)[0].actor == actor


def test_the_users_rules_come_first(traces):
    rules = ActorRules.from_config([{"actor": "agent", "ancestor": "make-traces*"}])
    assert only(commands(traces, "commit-no-verify", rules=rules)).actor == "agent"
    rules = ActorRules.from_config([{"actor": "gitbutler", "env": "CI=true"}])
    assert only(commands(traces, "ci", rules=rules)).actor == "gitbutler"
    assert only(commands(traces, "agent", rules=rules)).actor == "agent"
    assert "MY_BOT" in ActorRules.from_config([{"actor": "agent", "env": "MY_BOT=1"}]).env_vars()


def test_nothing_of_argv_is_stored_beyond_the_documented_facts(traces):
    for scenario in sorted(path.name for path in traces.iterdir() if path.name != "worktree"):
        for kind, payload in events(traces, scenario):
            text = msgspec.json.encode(payload).decode()
            assert not any(message in text for message in MESSAGES), (scenario, text)
            assert str(traces) not in text
            if kind == "git.command":
                assert "a.txt" not in text and "b.txt" not in text


def test_discarded_paths_are_hashed_when_capture_paths_is_off(traces):
    records = only(files_of(traces, "checkout-paths"))
    _, payload, ts_ns, origin = events_of(records)[1]
    collector = Collector(salt=b"s" * 32)
    collector.emit("edit.discarded", payload, ts_ns=ts_ns, src="trace2", wt=".", provenance=origin)
    stored = collector.events[0][1].data.files
    assert [change.path for change in stored] == [hash_path("a.txt", b"s" * 32), hash_path("src/c.txt", b"s" * 32)]
    assert '"a.txt"' not in msgspec.json.encode(stored).decode()


def test_a_truncated_file_gives_nothing_until_its_end_then_the_whole(traces):
    for scenario in ("commit-blocked", "checkout-paths", "rebase"):
        records = files_of(traces, scenario)[0]
        ended = next(index for index, record in enumerate(records) if record["event"] in ("exit", "atexit"))
        for cut in range(len(records) + 1):
            found = events_of(records[:cut])
            assert (found != []) == (cut > ended), (scenario, cut)
            assert found == [] or found[0][3] == f"trace2|{records[0]['sid']}"


def base(**fields) -> list[dict]:
    """A hand-made process: git status run by bash, plus `fields`' records."""
    sid = fields.pop("sid", "20261206T040613.064644Z-H0a7c9cdf-P0000313f")
    records = [
        {"event": "start", "sid": sid, "t_abs": 0.0003, "argv": fields.pop("argv", ["git", "commit"]),
         "time": "2026-12-06T04:06:13.064724Z"},
        {"event": "cmd_ancestry", "sid": sid, "ancestry": fields.pop("ancestry", ["bash"])},
        {"event": "def_repo", "sid": sid, "worktree": fields.pop("worktree", "/nonexistent")},
        {"event": "cmd_name", "sid": sid, "name": fields.pop("name", "commit"), "hierarchy": "commit"},
        *[{"event": "def_param", "sid": sid, "param": name, "value": value}
          for name, value in fields.pop("env", {}).items()],
        *fields.pop("extra", []),
        {"event": "exit", "sid": sid, "t_abs": fields.pop("t_abs", 0.01), "code": fields.pop("code", 0)},
    ]
    assert not fields
    return records


def actor_of(ancestry: list[str], env: dict[str, str] | None = None, rules: ActorRules | None = None) -> str:
    return events_of(base(ancestry=ancestry, env=env or {}), rules)[0][1].actor


def test_the_actor_table_in_order():
    assert actor_of(["bash", "node", "zsh"], {"CLAUDECODE": "1"}) == "agent"
    assert actor_of(["bash", "claude", "zsh"]) == "agent"  # an agent anywhere above its shell
    assert actor_of(["bash"], {"CI": "true"}) == "ci"
    assert actor_of(["bash"], {"CI": "false"}) == "terminal"
    assert actor_of(["gitbutler-git-s", "gitbutler-tauri"]) == "gitbutler"
    assert actor_of(["zsh", "code", "systemd"], {"TERM_PROGRAM": "vscode"}) == "terminal"  # VS Code's terminal
    assert actor_of(["Code Helper (Plugin)", "Code Helper"]) == "ide"
    assert actor_of(["node", "pycharm64.exe"]) == "ide"
    assert actor_of(["python3", "bash", "code"]) == "script"  # a shell further up ran a script first
    assert actor_of([], {"TERM_PROGRAM": "vscode"}) == "ide"  # no ancestry (a platform without it)
    assert actor_of(["python3"]) == "script"
    assert actor_of(["git", "bash"]) == "git"
    assert actor_of(["\x1b[31mbash\x1b[0m", "\u202ezsh"]) == "script"
    assert actor_of(["bash"], rules=ActorRules.from_config([{"actor": "ci", "ancestor": "BASH"}])) == "ci"


def test_the_actor_rules_key_is_the_users_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "user"))
    repo = tmp_path / "repo"
    (repo / ".git" / "obs").mkdir(parents=True)
    (repo / ".gitobs.toml").write_text('[[actors.rules]]\nactor = "terminal"\nancestor = "claude"\n')
    (repo / ".git" / "obs" / "config.toml").write_text('[[actors.rules]]\nactor = "ide"\nenv = "CI"\n')
    found = config.load(repo / ".git", repo)
    assert found["actors.rules"] == [] and len(found.warnings) == 2
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "config.toml").write_text('[[actors.rules]]\nactor = "agent"\nancestor = "my-bot"\n')
    assert actor_of(["my-bot"], rules=ActorRules.from_user_config()) == "agent"
    (tmp_path / "user" / "config.toml").write_text('[[actors.rules]]\nactor = "robot"\nancestor = "x"\n')
    with pytest.raises(Exception, match="actors.rules must be a list of at most 100 tables"):
        ActorRules.from_user_config()


def test_env_vars_cover_every_builtin_rule():
    assert set(ActorRules().env_vars()) == set(ACTOR_ENV_VARS)
    assert {"CLAUDECODE", "CI", "TERM_PROGRAM"} <= set(ACTOR_ENV_VARS)
    assert set(ACTORS) == {"terminal", "ide", "agent", "gitbutler", "ci", "script", "git"}


def test_sampling_keeps_weighted_counts_unbiased():
    runs = 5000
    sids = [f"20261206T0406{n:06d}.000000Z-H0a7c9cdf-P{n:08x}" for n in range(runs)]
    weights = [sample_weight(sid, reading=True, exit=0, duration_s=0.01) for sid in sids]
    kept = [weight for weight in weights if weight]
    assert set(kept) == {SAMPLE_ONE_IN}
    assert abs(sum(kept) - runs) <= 0.1 * runs  # exact for these inputs: the hash is deterministic
    assert weights == [sample_weight(sid, reading=True, exit=0, duration_s=0.01) for sid in sids]
    for sid in sids[:200]:
        assert sample_weight(sid, reading=False, exit=0, duration_s=0.01) == 1
        assert sample_weight(sid, reading=True, exit=1, duration_s=0.01) == 1
        assert sample_weight(sid, reading=True, exit=0, duration_s=1.5) == 1


def test_which_commands_only_read():
    assert is_reading("status", []) and is_reading("rev-parse", ["HEAD"]) and is_reading("for-each-ref", [])
    assert is_reading("config", ["user.name"]) and is_reading("config", ["--get", "a.b"])
    assert is_reading("config", ["--list"]) and not is_reading("config", ["user.name", "x"])
    assert not is_reading("config", ["--unset", "user.name"])
    assert is_reading("symbolic-ref", ["HEAD"]) and not is_reading("symbolic-ref", ["HEAD", "refs/heads/x"])
    assert not is_reading("commit", []) and not is_reading("checkout", []) and not is_reading("other", [])


@pytest.mark.parametrize("argv,expected", [
    (["git", "commit", "-n"], True),
    (["git", "commit", "-qan", "-m", "x"], True),
    (["git", "commit", "-m", "-n"], False),  # -n is the message
    (["git", "commit", "-mn"], False),
    (["git", "commit", "--message", "--no-verify"], False),
    (["git", "commit", "--no-verify", "--verify"], False),
    (["git", "commit", "--no-veri"], True),
    (["git", "commit", "--", "-n"], False),
    (["git", "-c", "commit.x=1", "-C", "/r", "commit", "--no-verify"], True),
    (["git", "push", "-n"], False),  # --dry-run
    (["git", "push", "--no-verify"], True),
    (["git", "merge", "--no-verify", "topic"], True),
    (["git", "rebase", "--no-verify"], False),
])
def test_no_verify_from_argv(argv, expected):
    args = git_argv.command_args(argv)
    assert git_argv.no_verify(argv[argv.index(next(a for a in argv[1:] if a in ("commit", "push", "merge",
                                                                               "rebase")))], args) is expected


def test_only_pathspecs_that_name_files_in_the_worktree(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x\n")
    (tmp_path / "top.txt").write_text("x\n")
    paths = git_argv.discarded_paths("checkout", ["-q", "HEAD~", "--", "src/a.py", ".", "src", "../x", "/etc/passwd",
                                                  ":(top)top.txt", "src/*.py", "missing", "./top.txt", "top.txt"],
                                     str(tmp_path))
    assert paths == ["src/a.py", "top.txt"]
    assert git_argv.discarded_paths("checkout", ["HEAD~", "top.txt"], str(tmp_path)) == ["top.txt"]
    assert git_argv.discarded_paths("restore", ["-s", "top.txt", "src/a.py"], str(tmp_path)) == ["src/a.py"]
    assert git_argv.discarded_paths("restore", ["-SW", "top.txt"], str(tmp_path)) == ["top.txt"]
    assert git_argv.discarded_paths("restore", ["-S", "top.txt"], str(tmp_path)) is None
    assert git_argv.discarded_paths("restore", ["top.txt"], None) == []


def test_a_huge_argv_is_bounded(tmp_path):
    for n in range(600):
        (tmp_path / f"f{n}").write_text("")
    argv = ["git", "restore", *[f"f{n}" for n in range(600)], *["missing"] * 200_000]
    records = base(argv=argv, name="restore", worktree=str(tmp_path),
                   extra=[{"event": "cmd_mode", "name": "path"}])
    found = events_of(records)
    assert len(found[1][1].files) == git_argv.MAX_PATHS
    assert "f0" not in msgspec.json.encode(found[0][1]).decode()


HOSTILE = [
    None, 5, "text", [], {}, {"event": 5}, {"event": None, "sid": 3},
    {"event": "exit", "code": "x", "t_abs": "y"}, {"event": "exit", "code": True, "t_abs": float("nan")},
    {"event": "start", "argv": "git commit"}, {"event": "start", "argv": [1, None, {"a": 1}]},
    {"event": "cmd_ancestry", "ancestry": "bash"}, {"event": "cmd_ancestry", "ancestry": [None, 3, ["x"]]},
    {"event": "cmd_name", "name": ["commit"]}, {"event": "cmd_mode", "name": "\x1b]0;owned\x07"},
    {"event": "child_start", "child_id": "0", "child_class": "hook"}, {"event": "child_exit", "child_id": [1]},
    {"event": "child_start", "child_id": 7, "child_class": "hook", "hook_name": "\x1b[2Jpre-commit"},
    {"event": "child_exit", "child_id": 7, "code": 0, "t_rel": -5},
    {"event": "def_param", "param": "CLAUDECODE", "value": 1}, {"event": "def_repo", "worktree": 7},
    {"event": "signal", "signo": "9"}, {"event": "time", "time": "not a time"},
    {"event": "exit", "code": 10**30, "t_abs": 10**400}, {"event": "start", "time": "9999-99-99T99:99:99Z"},
    {"event": "child_start", "child_id": 8, "child_class": "editor"},
    {"event": "child_exit", "child_id": 8, "code": -10**30, "t_rel": float("inf")},
]


@pytest.mark.parametrize("bad", HOSTILE, ids=range(len(HOSTILE)))
def test_a_malformed_record_never_raises(bad):
    records = base()
    for position in (0, 2, len(records) - 1, len(records)):
        mixed = records[:position] + [bad] + records[position:]
        found = events_of(mixed)  # type: ignore[arg-type]
        for kind, payload, ts_ns, origin in found:
            assert kind in ("git.command", "edit.discarded") and ts_ns > 0 and origin.startswith("trace2|")
            assert "\x1b" not in msgspec.json.encode(payload).decode()
            if kind == "git.command":
                assert -1 <= payload.exit <= 255 and 0 <= payload.duration_s <= 1e9
    assert repo_of([bad]) is None  # type: ignore[list-item]


@pytest.mark.parametrize("records", [None, {}, "x", [None], [[]], [{"event": "exit", "code": 0}],
                                     [{"event": "exit", "code": 0, "sid": "s"}]])
def test_what_is_no_trace2_file_gives_nothing(records):
    assert events_of(records) == []  # type: ignore[arg-type]
    assert repo_of(records) is None  # type: ignore[arg-type]


def test_missing_fields_give_what_can_be_known():
    records = [{"event": "cmd_name", "sid": "20261206T040613.064644Z-H1-P2", "name": "commit"},
               {"event": "exit", "sid": "20261206T040613.064644Z-H1-P2", "code": 0}]
    command = only(events_of(records))[1]
    assert (command.command, command.exit, command.duration_s, command.actor) == ("commit", 0, 0.0, "script")
    odd = base(name="\x1b[31mfrobnicate", extra=[{"event": "signal", "signo": 15, "t_abs": 0.5}])
    command = only(events_of(odd))[1]
    assert (command.command, command.exit, command.duration_s) == ("other", 143, 0.5)
    hooked = base(extra=[{"event": "child_start", "child_id": 1, "child_class": "hook", "hook_name": "\x1bx"},
                         {"event": "child_exit", "child_id": 1, "code": 0, "t_rel": 0.1},
                         *[record for n in range(2, 62) for record in (
                             {"event": "child_start", "child_id": n, "child_class": "hook",
                              "hook_name": "prepare-commit-msg"},
                             {"event": "child_exit", "child_id": n, "code": 1 if n == 30 else 0, "t_rel": 0.5})]])
    hook = only(only(events_of(hooked))[1].hooks)
    assert (hook.hook, hook.runs, hook.exit, hook.seconds) == ("prepare-commit-msg", 60, 1, 30.0)


@pytest.mark.parametrize("hierarchy,ancestry,nested,actor", [
    ("_run_dashed_/_run_git_alias_/checkout", ["git", "zsh"], False, "terminal"),  # `git co`, an alias
    ("_run_dashed_/checkout", ["git-lfs", "git", "zsh"], True, "git"),  # a git that git-lfs ran
    ("commit/_run_dashed_/_run_git_alias_/checkout", ["git", "sh", "git"], True, "git"),  # an alias in a hook
])
def test_a_git_an_alias_ran_is_the_persons_command(hierarchy, ancestry, nested, actor):
    sid = "20261206T040613.064644Z-H0a7c9cdf-P0000313f/20261206T040613.074644Z-H0a7c9cdf-P00003140"
    records = base(sid=sid, ancestry=ancestry, name="checkout")
    records[3]["hierarchy"] = hierarchy
    command = only(events_of(records))[1]
    assert (command.nested, command.actor) == (nested, actor)
