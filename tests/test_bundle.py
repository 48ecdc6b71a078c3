"""Bundles made from a real repository and replayed: the same report (--verify clean), no name in clear
unless asked, and every hostile bundle refused with one line or shown inert."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
import zstandard
from conftest import commit_file, git, gitobs

from gitobs.share.bundle import BUNDLE_MEMBERS, EVENTS, MANIFEST, REPORT

SECRETS = ("feature/secret-login", "src/payments", "billing.py", "upstream-private")


@pytest.fixture
def worked(watched) -> Path:
    """A repository with branches, commits, a remote, a discard and a dirty file, all recorded."""
    git(watched, "remote", "add", "upstream-private", "https://example.invalid/repo.git")
    git(watched, "switch", "-q", "-c", "feature/secret-login")
    commit_file(watched, "src/payments/billing.py", "total = 1\n", "bill")
    (watched / "src" / "payments" / "billing.py").write_text("total = 2\n")
    gitobs("scan", cwd=watched)
    git(watched, "checkout", "--", "src/payments/billing.py")
    git(watched, "switch", "-q", "main")
    commit_file(watched, "notes.md", "n\n", "notes")
    return watched


def make(repo: Path, tmp_path: Path, *args: str) -> Path:
    path = tmp_path / "bug.zip"
    gitobs("bundle", "-o", str(path), *args, cwd=repo)
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def plain(blobs: dict[str, bytes]) -> bytes:
    """Every member as text, the events inflated."""
    return b"".join(zstandard.ZstdDecompressor().stream_reader(blob).read() if name == EVENTS else blob
                    for name, blob in blobs.items())


def rezip(path: Path, blobs: dict[str, bytes], fix_sums: bool = True) -> Path:
    """A bundle with these members, its manifest's checksums made to match (as a forger would)."""
    if fix_sums and MANIFEST in blobs:
        manifest = json.loads(blobs[MANIFEST])
        manifest["members"] = {name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()
                               if name != MANIFEST}
        blobs = {**blobs, MANIFEST: json.dumps(manifest).encode()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in blobs.items():
            archive.writestr(name, blob)
    return path


def test_a_bundle_replays_to_the_same_report(worked, tmp_path):
    path = make(worked, tmp_path)
    assert sorted(members(path)) == sorted(BUNDLE_MEMBERS)
    replayed = gitobs("replay", str(path), "--verify", cwd=tmp_path)
    assert "verify: clean" in replayed.stdout
    assert gitobs("replay", str(path), "--format", "json", cwd=tmp_path).stdout.encode() == members(path)[REPORT]
    manifest = json.loads(members(path)[MANIFEST])
    assert manifest["counts"]["commit.created"] >= 3 and manifest["redaction"]["redacted"] is True
    text = gitobs("replay", str(path), cwd=tmp_path).stdout
    assert "Activity heatmap" in text and "Branches" in text


def test_nothing_is_in_clear_unless_asked(worked, tmp_path):
    redacted = plain(members(make(worked, tmp_path)))
    for secret in SECRETS:
        assert secret.encode() not in redacted, secret
    assert b".py" in redacted  # extensions are kept, so file types still work
    (tmp_path / "clear").mkdir()
    clear = plain(members(make(worked, tmp_path / "clear", "--no-redact")))
    assert b"feature/secret-login" in clear and b"src/payments/billing.py" in clear


def test_bundle_redact_follows_your_own_config_only(worked, tmp_path, monkeypatch):
    (worked / ".gitobs.toml").write_text("[bundle]\nredact = false\n")  # a repository cannot turn it off
    (tmp_path / "repo-says").mkdir()
    assert b"feature/secret-login" not in plain(members(make(worked, tmp_path / "repo-says")))
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "user-config"))
    gitobs("config", "set", "--user", "bundle.redact", "false", cwd=worked)
    (tmp_path / "user-says").mkdir()
    assert b"feature/secret-login" in plain(members(make(worked, tmp_path / "user-says")))
    (tmp_path / "flag-says").mkdir()
    assert b"feature/secret-login" not in plain(members(make(worked, tmp_path / "flag-says", "--redact")))


def test_a_redacted_bundle_shows_no_author_email_of_your_config(worked, tmp_path, monkeypatch):
    """import.identities holds your other author emails: a redacted bundle's config.json says only (set)."""
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "user-config"))
    gitobs("config", "set", "--user", "import.identities", "me@secret-employer.example", cwd=worked)
    settings = json.loads(members(make(worked, tmp_path))["config.json"])
    assert settings["import.identities"] == {"value": "(set)", "origin": "user"}
    (tmp_path / "clear").mkdir()
    assert b"me@secret-employer.example" in members(make(worked, tmp_path / "clear", "--no-redact"))["config.json"]


def test_a_redacted_bundle_s_event_ids_are_not_the_log_s(worked, tmp_path):
    """A log's event id is an unkeyed hash of the event's origin (a branch's reflog path and line, a worktree's
    name): in a bundle it would let anyone check a guessed branch name. Redacted, each id is a keyed hash."""
    from gitobs.core.repo import locate
    from gitobs.log.read import read_events

    events = [json.loads(line) for line in plain({EVENTS: members(make(worked, tmp_path))[EVENTS]}).splitlines()]
    (tmp_path / "clear").mkdir()
    clear = plain({EVENTS: members(make(worked, tmp_path / "clear", "--no-redact"))[EVENTS]}).splitlines()
    logged = {event.id for event in read_events(locate(worked).obs, lambda message: None)}
    ids = [event["id"] for event in events]
    assert len(set(ids)) == len(ids) and not set(ids) & logged
    assert all(len(found) == 16 for found in ids)
    assert {json.loads(line)["id"] for line in clear} <= logged


def test_a_symlink_a_repository_commits_where_bundle_writes_its_temporary_file_is_never_followed(worked, tmp_path):
    """The zip was written to `.<name>.tmp` beside it, through whatever was there: a clone that commits
    `.bug.zip.tmp` -> ~/.bashrc had `gitobs bundle -o bug.zip` overwrite the user's file with the zip."""
    precious = tmp_path / "precious"
    precious.write_text("the user's own file\n")
    (worked / ".bug.zip.tmp").symlink_to(precious)
    (worked / "taken.zip").symlink_to(tmp_path / "nowhere")  # a dangling link is an existing name too
    gitobs("bundle", "-o", "bug.zip", cwd=worked)
    assert precious.read_text() == "the user's own file\n"
    assert (worked / "bug.zip").is_file() and not (worked / "bug.zip").is_symlink()
    assert sorted(members(worked / "bug.zip")) == sorted(BUNDLE_MEMBERS)
    assert not [p for p in worked.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]  # none left behind
    refused = gitobs("bundle", "-o", "taken.zip", cwd=worked, ok=False)
    assert refused.returncode == 2 and "exists" in refused.stderr and not (tmp_path / "nowhere").exists()


def test_preview_prints_what_would_be_shared_and_writes_nothing(worked, tmp_path):
    shown = gitobs("bundle", "--preview", cwd=worked).stdout
    for name in BUNDLE_MEMBERS:
        assert f"=== {name}" in shown
    assert '"type":"commit.created"' in shown and "feature/secret-login" not in shown
    assert not list(worked.glob("gitobs-bundle-*.zip"))


def test_a_window_and_types_narrow_the_bundle(worked, tmp_path):
    path = make(worked, tmp_path, "--type", "commit.*")
    assert set(json.loads(members(path)[MANIFEST])["counts"]) <= {
        "commit.created", "commit.attempt", "commit.message_edit", "commit.amended"}
    assert "verify: clean" in gitobs("replay", str(path), "--verify", cwd=tmp_path).stdout


def test_a_relative_window_is_read_against_the_bundle_s_own_now(worked, tmp_path):
    from gitobs.replay.analysis import utc_text

    blobs = members(make(worked, tmp_path))
    manifest = json.loads(blobs[MANIFEST])
    now = float(manifest["now"])
    reports = []
    for case, since in (("relative", "1h"), ("absolute", utc_text(now - 3600))):
        manifest["window"]["since"] = since
        path = rezip(tmp_path / f"{case}.zip", {**blobs, MANIFEST: json.dumps(manifest).encode()})
        reports.append(gitobs("replay", str(path), "--format", "json", cwd=tmp_path).stdout)
    relative, absolute = (json.loads(text) for text in reports)
    assert relative["window"]["since"] == absolute["window"]["since"] == utc_text(now - 3600)
    assert relative == absolute  # the same window: an hour before the bundle was made, not before today


def test_verify_shows_what_differs(worked, tmp_path):
    blobs = members(make(worked, tmp_path))
    report = json.loads(blobs[REPORT])
    heatmap = next(s for s in report["sections"] if s["name"] == "heatmap")
    heatmap["blocks"][0]["items"][0][1] += 100  # as if the maker's analyzer counted otherwise
    blobs[REPORT] = json.dumps(report).encode()
    done = gitobs("replay", str(rezip(tmp_path / "changed.zip", blobs)), "--verify", cwd=tmp_path, ok=False)
    assert done.returncode == 1
    assert "section heatmap: block totals differs in items" in done.stdout and "1 difference" in done.stdout


def test_the_timeline_plays_events_in_order(worked, tmp_path):
    lines = gitobs("replay", str(make(worked, tmp_path)), "--timeline", cwd=tmp_path).stdout.splitlines()
    assert lines[0].startswith("+0d00:00:00") and any("commit.created" in line for line in lines)
    offsets = [line.split()[0] for line in lines]
    assert offsets == sorted(offsets, key=lambda text: (int(text[1:].split("d")[0]), text.split("d")[1]))


def _hostile(worked: Path, tmp_path: Path, case: str) -> Path:
    blobs = members(make(worked, tmp_path))
    target = tmp_path / f"{case}.zip"
    if case == "not-a-zip":
        target.write_bytes(b"PK\x03\x04 not really")
        return target
    if case in ("zip-slip", "absolute", "unexpected"):
        extra = {"zip-slip": "../../evil.sh", "absolute": "/etc/cron.d/evil", "unexpected": "run-me.sh"}[case]
        return rezip(target, {**blobs, extra: b"#!/bin/sh\necho pwned\n"})
    if case == "symlink":
        with zipfile.ZipFile(target, "w") as archive:
            for name, blob in blobs.items():
                if name == REPORT:
                    info = zipfile.ZipInfo(name)
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    archive.writestr(info, "/etc/passwd")
                else:
                    archive.writestr(name, blob)
        return target
    if case == "zip-bomb":
        return rezip(target, {**blobs, REPORT: b"{" + b" " * (60 << 20) + b"}"}, fix_sums=True) and _deflated(
            target, blobs)
    if case == "zstd-bomb":  # 64 MiB of good event lines in a few kB
        line = _event(1, "gitobs.paused", {}) + b"\n"
        bomb = zstandard.ZstdCompressor(level=19).compress(line * ((64 << 20) // len(line)))
        return rezip(target, {**blobs, EVENTS: bomb})
    if case == "tiny-lines":  # under the ratio (incompressible padding), but a million 2-byte lines: in
        # memory each costs twenty times its bytes (a 900 kB bundle took 1.6 GB and 36 s)
        padding = os.urandom(1 << 15).hex().encode() + b"\n"
        lines = zstandard.ZstdCompressor(level=19).compress(padding + b"11\n" * 1_000_000)
        return rezip(target, {**blobs, EVENTS: lines})
    if case == "report-values":  # 3.6 MB of empty lists, within every cap: a report has a few thousand values,
        # and each empty list costs 56 bytes in memory (64 MiB of them: 1.7 GB from a 470 kB bundle)
        return rezip(target, {**blobs, REPORT: b'{"sections": [], "x": [' + b"[]," * 1_200_000 + b"[]]}"})
    if case == "long-line":  # 3 MiB that do not compress: no bomb, one line too long
        long_line = os.urandom(3 << 19).hex().encode() + b"\n"
        return rezip(target, {**blobs, EVENTS: zstandard.ZstdCompressor().compress(long_line)})
    if case == "checksum":
        return rezip(target, {**blobs, EVENTS: zstandard.ZstdCompressor().compress(b"{}\n")}, fix_sums=False)
    if case == "missing":
        return rezip(target, {name: blob for name, blob in blobs.items() if name != REPORT})
    if case == "version":
        manifest = json.loads(blobs[MANIFEST])
        manifest["format"] = 99
        return rezip(target, {**blobs, MANIFEST: json.dumps(manifest).encode()})
    if case == "malformed":
        return rezip(target, {**blobs, "config.json": b"{not json"})
    if case in ("far-future", "offset"):
        manifest = json.loads(blobs[MANIFEST])
        manifest["now" if case == "far-future" else "utc_offset_s"] = 1e300 if case == "far-future" else 10**9
        return rezip(target, {**blobs, MANIFEST: json.dumps(manifest).encode()})
    if case == "deep":
        return rezip(target, {**blobs, "config.json": b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"})
    if case in ("deep-event", "deep-unknown-event"):
        kind = "commit.created" if case == "deep-event" else "x.deep.event"
        deep = _event(1, kind, None).replace(b'"data": null', b'"data": ' + b"[" * 5000 + b"]" * 5000)
        return rezip(target, _with_lines(blobs, [deep]))
    raise AssertionError(case)


def _deflated(target: Path, blobs: dict[str, bytes]) -> Path:
    """A report member that inflates 60 MiB from a few kB: a ratio no real bundle has."""
    manifest = json.loads(blobs[MANIFEST])
    bomb = b"[" + b"0," * (30 << 20) + b"0]"
    manifest["members"][REPORT] = hashlib.sha256(bomb).hexdigest()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, blob in {**blobs, REPORT: bomb, MANIFEST: json.dumps(manifest).encode()}.items():
            archive.writestr(name, blob)
    return target


@pytest.mark.parametrize(("case", "message"), [
    ("not-a-zip", "is not a bundle"),
    ("zip-slip", "would escape"),
    ("absolute", "would escape"),
    ("unexpected", "unexpected member 'run-me.sh'"),
    ("symlink", "is a link or a directory"),
    ("zip-bomb", "compression bomb"),
    ("zstd-bomb", "the events inflate past"),
    ("long-line", "event line is over"),
    ("tiny-lines", "too many event lines"),
    ("report-values", "report.json holds more than"),
    ("checksum", "does not match its checksum"),
    ("missing", "missing report.json"),
    ("version", "bundle format 99 is not one this gitobs reads"),
    ("malformed", "config.json is not valid JSON"),
    ("deep", "nested"),
    ("deep-event", "nested"),
    ("deep-unknown-event", "nested"),
    ("far-future", "out of range"),
    ("offset", "out of range"),
])
def test_hostile_bundles_are_refused_in_one_line(worked, tmp_path, case, message):
    path = _hostile(worked, tmp_path, case)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for args in ([], ["--verify"], ["--timeline"], ["--into", str(tmp_path / "scratch")]):
        done = gitobs("replay", str(path), *args, cwd=tmp_path, ok=False)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written anywhere
    assert not (tmp_path.parent / "evil.sh").exists()


def _bounded_gitobs(*args: str, cwd: Path):
    """gitobs in a process held to 1 GiB of memory and 30 s: a read without bound fails, never hangs or swaps."""
    import resource
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-m", "gitobs", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=30, preexec_fn=limit)


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_only_a_regular_file_is_read_as_a_bundle(tmp_path, kind):
    path = {"device": Path("/dev/zero"), "fifo": tmp_path / "pipe.zip", "directory": tmp_path / "dir.zip"}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it to read would wait forever
    elif kind == "directory":
        path.mkdir()
    for args in (["replay", str(path)], ["report", "--from", str(path)]):
        done = _bounded_gitobs(*args, cwd=tmp_path)
        assert done.returncode == 2 and "not a regular file" in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1


def test_names_with_terminal_escapes_are_shown_inert(watched, tmp_path):
    commit_file(watched, "evil\x1b]0;pwned\x07\x1b[31m.txt", "x\n")  # git allows any byte in a file name
    blobs = members(make(watched, tmp_path, "--no-redact"))
    lines = zstandard.ZstdDecompressor().stream_reader(blobs[EVENTS]).read().splitlines()
    forged = []
    for line in lines:  # a hand-made bundle can say anything: a branch and a type with escapes too
        event = json.loads(line)
        if event["type"] == "commit.created":
            event["data"]["branch"] = "main\x1b[2J\x1b[31m[bold red]loud[/bold red]"
        forged.append(json.dumps(event).encode())
    forged.append(json.dumps({"v": 1, "seq": 999, "id": "x", "ts": "2026-12-01T00:00:00.000Z",
                              "type": "x.evil\x1b[5m", "src": "gitobs", "wt": "\x1b[1m", "data": {}}).encode())
    blobs[EVENTS] = zstandard.ZstdCompressor().compress(b"\n".join(forged) + b"\n")
    path = rezip(tmp_path / "escapes.zip", blobs)
    for args in ([], ["--timeline"], ["--format", "md"], ["--verify"]):
        done = gitobs("replay", str(path), *args, cwd=tmp_path, ok=False)
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, args
        assert "\x1b" not in done.stdout + done.stderr and "\x07" not in done.stdout + done.stderr, args
    text = gitobs("replay", str(path), "--timeline", cwd=tmp_path).stdout
    assert "[bold red]loud[/bold red]" in text  # markup shown as the text it is


def test_a_lone_surrogate_in_a_bundle_is_shown_inert_by_every_command(worked, tmp_path):
    """JSON may say "\\ud800", which no terminal encoding can write: --into listed such an event type among those
    left out and died in a UnicodeEncodeError traceback."""
    odd = _event(999, "x.\ud800odd\udfff", {"branch": "b\ud800"})
    path = rezip(tmp_path / "surrogate.zip", _with_lines(members(make(worked, tmp_path)), [odd]))
    for args in (["--into", str(tmp_path / "scratch")], [], ["--timeline"], ["--format", "md"], ["--verify"]):
        done = gitobs("replay", str(path), *args, cwd=tmp_path, ok=False)
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, (args, done.stderr)
    assert "1 x.\\ud800odd\\udfff" in gitobs("replay", str(path), "--into", str(tmp_path / "again"), cwd=tmp_path).stdout


def test_report_from_several_bundles_is_one_view(worked, tmp_path):
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", str(other))
    commit_file(other, "lib/util.py", "a\nb\n")
    gitobs("install", cwd=other)
    commit_file(other, "lib/util.py", "a\nb\nc\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = make(worked, tmp_path / "a"), make(other, tmp_path / "b")
    counts = [json.loads(members(path)[MANIFEST])["events"] for path in (first, second)]
    team = json.loads(gitobs("report", "--from", str(first), str(second), "--format", "json", cwd=tmp_path).stdout)
    assert team["events"] == sum(counts)
    commits = [json.loads(members(path)[MANIFEST])["counts"]["commit.created"] for path in (first, second)]
    heatmap = next(s for s in team["sections"] if s["name"] == "heatmap")
    totals = dict((label, value) for label, value, _ in heatmap["blocks"][0]["items"])
    assert totals["commits"] == sum(commits)
    done = gitobs("report", str(first), cwd=tmp_path, ok=False)
    assert done.returncode == 2 and "after --from" in done.stderr


# -- replay --into: a scratch repository that goes through the same history --------------------------------

REDONE = ("commit.created", "commit.amended", "branch.switch", "history.reset", "commit.undone", "history.merge",
          "commit.reverted")


def _types(repo: Path) -> list[str]:
    done = gitobs("events", "--format", "jsonl", "--no-scan", cwd=repo).stdout
    return [json.loads(line)["type"] for line in done.splitlines() if json.loads(line)["type"] in REDONE]


def test_replay_into_builds_a_repository_that_records_the_same_history(watched, tmp_path):
    git(watched, "switch", "-q", "-c", "feature/login")
    commit_file(watched, "src/login.py", "a\nb\n")
    git(watched, "commit", "-q", "--amend", "-m", "login, amended")
    commit_file(watched, "src/later.py", "x\n")
    git(watched, "reset", "-q", "--soft", "HEAD~1")
    commit_file(watched, "src/form.py", "f\n")
    git(watched, "switch", "-q", "main")
    git(watched, "merge", "-q", "--no-ff", "-m", "merge login", "feature/login")
    commit_file(watched, "notes.md", "n\n")
    git(watched, "revert", "--no-edit", "HEAD")
    gitobs("scan", cwd=watched)
    recorded = _types(watched)
    path = make(watched, tmp_path)
    scratch = tmp_path / "scratch"
    built = gitobs("replay", str(path), "--into", str(scratch), cwd=tmp_path).stdout
    assert f"built {scratch}" in built and "commit.created" in built
    gitobs("install", cwd=scratch)
    gitobs("scan", cwd=scratch)
    assert _types(scratch) == recorded
    assert {"commit.undone", "commit.reverted", "history.merge", "commit.amended"} <= set(recorded)


def test_replay_into_rebuilds_gitbutler_stacks(tmp_path):
    from test_gitbutler import watched_fixture

    repo = watched_fixture(tmp_path, "2026")
    path = make(repo, tmp_path, "--no-redact")  # the names in clear, to compare with the repository's
    scratch = tmp_path / "scratch"
    gitobs("replay", str(path), "--into", str(scratch), cwd=tmp_path)
    gitobs("install", cwd=scratch)

    def stacks(where: Path) -> set:
        done = gitobs("events", "--format", "jsonl", "--type", "vbranch.created", cwd=where).stdout
        return {(e["data"]["stack"], e["data"]["branch"], e["data"].get("applied", True))
                for e in map(json.loads, done.splitlines())}

    assert stacks(scratch) and stacks(scratch) == stacks(repo)


def test_replay_into_never_writes_outside_the_directory(watched, tmp_path):
    blobs = members(make(watched, tmp_path))
    evil = {"v": 1, "seq": 900, "id": "e", "ts": "2026-12-01T00:00:00.000Z", "type": "commit.created", "src": "reflog",
            "wt": ".", "data": {"sha": "a" * 40, "branch": "main",
                                "files": [["../../outside.txt", 1, 0], ["/tmp/abs.txt", 1, 0], [".git/config", 1, 0],
                                          ["lone\ud800surrogate.txt", 1, 0], ["ok/inside.txt", 1, 0]]}}
    lines = zstandard.ZstdDecompressor().stream_reader(blobs[EVENTS]).read() + json.dumps(evil).encode() + b"\n"
    blobs[EVENTS] = zstandard.ZstdCompressor().compress(lines)
    forged = rezip(tmp_path / "evil.zip", blobs)
    scratch = tmp_path / "deep" / "scratch"
    done = gitobs("replay", str(forged), "--into", str(scratch), cwd=tmp_path)
    assert "4 file path(s) could not be written safely" in done.stderr
    assert (scratch / "ok" / "inside.txt").exists()
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "deep" / "outside.txt").exists()
    assert "replayed" not in (scratch / ".git" / "config").read_text()
    assert gitobs("replay", str(forged), "--into", str(scratch), cwd=tmp_path, ok=False).returncode == 2  # not empty


def test_replay_into_refuses_a_bundle_that_would_write_past_its_caps(watched, tmp_path):
    # A few kB whose one commit asks for 21 files of 99,999 lines: past the cap on lines in the work tree.
    files = [[f"big/{n}.txt", 99_999, 0] for n in range(21)]
    big = _event(900, "commit.created", {"sha": "b" * 40, "branch": "main", "files": files})
    forged = rezip(tmp_path / "big.zip", _with_lines(members(make(watched, tmp_path)), [big]))
    scratch = tmp_path / "scratch"
    done = gitobs("replay", str(forged), "--into", str(scratch), cwd=tmp_path, ok=False)
    assert done.returncode == 2 and "lines" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("gitobs: error: ") and len(done.stderr.strip().splitlines()) == 1
    assert not scratch.exists()  # nothing of what was built is left


@pytest.mark.parametrize(("cap", "value", "files", "word"), [
    ("MAX_FILES", 5, lambda n: [[f"{n}/{k}.txt", 1, 0] for k in range(3)], "files"),
    ("MAX_LINES", 500, lambda n: [["a.txt", 200, 0]], "lines"),
    ("MAX_BYTES", 4000, lambda n: [["a.txt", 100, 100]], "bytes"),  # 100 lines rewritten: bytes add up, lines not
])
def test_each_cap_of_replay_into_is_kept(tmp_path, monkeypatch, cap, value, files, word):
    from gitobs.core.repo import GitobsError
    from gitobs.share import rebuild

    monkeypatch.setattr(rebuild, cap, value)
    commits = [_event(n, "commit.created", {"sha": f"{n:040x}", "branch": "main", "files": files(n)})
               for n in range(1, 4)]
    scratch = tmp_path / "scratch"
    scratch.mkdir()  # an empty directory named for --into is emptied again, not removed
    with pytest.raises(GitobsError, match=word):
        rebuild.rebuild(commits, scratch)
    assert scratch.is_dir() and not any(scratch.iterdir())


def test_a_forged_report_and_odd_events_are_reported_not_crashed_on(worked, tmp_path):
    blobs = members(make(worked, tmp_path))
    blobs[REPORT] = json.dumps({"sections": [{"blocks": [{"no": "id"}]}, "not a section"], "events": "many"}).encode()
    odd = [json.dumps({"v": 1, "seq": 1, "id": "x", "ts": "not a time", "type": "commit.created", "src": "hook",
                       "wt": ".", "data": {}}).encode(), b"[1, 2, 3]", b"not json at all"]
    lines = zstandard.ZstdDecompressor().stream_reader(blobs[EVENTS]).read() + b"\n".join(odd) + b"\n"
    blobs[EVENTS] = zstandard.ZstdCompressor().compress(lines)
    path = rezip(tmp_path / "odd.zip", blobs)
    verified = gitobs("replay", str(path), "--verify", cwd=tmp_path, ok=False)
    assert verified.returncode == 1 and "Traceback" not in verified.stderr and "difference" in verified.stdout
    for args in ([], ["--timeline"], ["--into", str(tmp_path / "scratch")]):
        done = gitobs("replay", str(path), *args, cwd=tmp_path)
        assert "Traceback" not in done.stderr, args


def test_timeline_steps_one_event_a_key_on_a_terminal(worked, tmp_path):
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    path = make(worked, tmp_path)
    main, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "gitobs", "replay", str(path), "--timeline", "--step"],
                               stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    os.close(terminal)

    def lines_after(key: bytes) -> int:
        os.write(main, key)  # one key, no Enter
        deadline, seen = time.monotonic() + 10, b""
        while time.monotonic() < deadline and not seen.endswith(b"\n"):
            ready, _, _ = select.select([process.stdout], [], [], 0.2)
            if ready:
                seen += os.read(process.stdout.fileno(), 4096)
        return seen.count(b"\n")

    try:
        assert lines_after(b" ") == 1
        assert lines_after(b"x") == 1
        os.write(main, b"q")
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        os.close(main)


def _with_lines(blobs: dict[str, bytes], extra: list[bytes]) -> dict[str, bytes]:
    """The bundle's members with `extra` event lines before its own."""
    lines = b"".join(e + b"\n" for e in extra) + zstandard.ZstdDecompressor().stream_reader(blobs[EVENTS]).read()
    return {**blobs, EVENTS: zstandard.ZstdCompressor().compress(lines)}


def _event(seq: int, kind: str, data: object) -> bytes:
    return json.dumps({"v": 1, "seq": seq, "id": f"e{seq}", "ts": "2026-12-01T00:00:00.000Z", "type": kind,
                       "src": "import", "wt": ".", "data": data}).encode()


def test_events_of_a_type_no_analyzer_reads_replay(worked, tmp_path):
    unread = [_event(1000 + n, "gitobs.paused", {}) for n in range(600)]  # a frame cut in pieces of nothing
    path = rezip(tmp_path / "unread.zip", _with_lines(members(make(worked, tmp_path)), unread))
    for args in ([], ["--verify"], ["--timeline"]):
        done = gitobs("replay", str(path), *args, cwd=tmp_path, ok=False)
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, (args, done.stderr)


def test_a_log_line_nested_past_the_decoder_is_skipped_when_bundling(watched, tmp_path):
    from gitobs.core.repo import locate
    from gitobs.log.eventlog import EventLog

    EventLog(locate(watched).obs.log).append([_event(10_000, "x.deep", None).replace(
        b'"data": null', b'"data": ' + b"[" * 5000 + b"]" * 5000)])
    done = gitobs("bundle", "--no-scan", "-o", str(tmp_path / "b.zip"), cwd=watched, ok=False)
    assert done.returncode == 0 and "1 malformed event line(s)" in done.stderr, done.stderr
    events = gitobs("events", "--no-scan", cwd=watched, ok=False)
    assert events.returncode == 0 and "Traceback" not in events.stderr, events.stderr


@pytest.mark.parametrize("name", ["x.lock", "@", "a@{1}", "a/", "a//b", ".hidden", "a/.b", "a.", "HEAD", "a\x7fb"])
def test_replay_into_takes_a_first_branch_git_refuses_without_a_traceback(tmp_path, name):
    from gitobs.share import rebuild

    commits = [_event(1, "commit.created", {"sha": "1" * 40, "branch": name, "files": [["a.txt", 1, 0]]}),
               _event(2, "branch.switch", {"from": name, "to": name + "2"}),
               _event(3, "commit.created", {"sha": "2" * 40, "branch": name, "files": [["b.txt", 1, 0]]})]
    built = rebuild.rebuild(commits, tmp_path / "scratch")
    assert built.done["commit.created"] == 2
    assert "main" in git(tmp_path / "scratch", "branch", "--format=%(refname:short)").stdout.split()


def test_replay_into_skips_a_path_deeper_than_any_disk_takes_without_a_traceback(tmp_path):
    """1,200 one-letter directories fit in PATH_MAX, yet making them (mkdir's parents, one call each) went past
    Python's recursion limit: a RecursionError traceback instead of a skipped path."""
    from gitobs.share import rebuild

    deep = "d/" * 1200 + "deep.txt"
    built = rebuild.rebuild([_event(1, "commit.created", {"sha": "1" * 40, "branch": "main",
                                                          "files": [[deep, 1, 0], ["ok.txt", 1, 0]]})],
                            tmp_path / "scratch")
    assert built.done["commit.created"] == 1 and built.skipped_paths == 1
    assert (tmp_path / "scratch" / "ok.txt").exists() and not (tmp_path / "scratch" / "d").exists()


def test_timeline_and_into_decode_one_event_at_a_time(worked, tmp_path):
    """Within every cap, 50 lines of 1 MB of empty lists take 50 MB as bytes and 1.2 GB decoded all at once
    (a 10 MiB bundle could ask for 25 GB): --timeline and --into must hold one decoded event at a time."""
    big = b'{"v": 1, "seq": 1, "id": "e", "ts": "2026-12-01T00:00:00.000Z", "type": "x.big", "src": "hook", ' \
          b'"wt": ".", "data": {"k": [' + b"[]," * 340_000 + b"[]]}}\n"
    padding = os.urandom(600_000).hex().encode()  # incompressible: keeps the events under the ratio cap
    padding = b"\n".join(padding[i:i + 1000] for i in range(0, len(padding), 1000)) + b"\n"
    blobs = members(make(worked, tmp_path))
    own = zstandard.ZstdDecompressor().stream_reader(blobs[EVENTS]).read()
    blobs[EVENTS] = zstandard.ZstdCompressor(level=3).compress(own + padding + big * 50)
    path = rezip(tmp_path / "wide.zip", blobs)
    for args in (["--timeline"], ["--into", str(tmp_path / "scratch")]):
        done = _bounded_gitobs("replay", str(path), *args, cwd=tmp_path)
        assert done.returncode == 0 and "MemoryError" not in done.stderr, (args, done.stderr[-500:])


@pytest.mark.parametrize("path", [".GIT/config", ".Git/hooks/post-checkout", ".git./config", ".git /config",
                                  ".g\u200cit/config", "GIT~1/config", "sub/.GiT/HEAD"])
def test_replay_into_never_writes_what_a_case_insensitive_disk_takes_for_dot_git(tmp_path, path):
    """macOS (and Windows) take .GIT, .git. and .g<zero-width>it for .git, as git's own checks know."""
    from gitobs.share import rebuild

    commit = _event(1, "commit.created", {"sha": "1" * 40, "branch": "main", "files": [[path, 1, 0], ["ok.txt", 1, 0]]})
    built = rebuild.rebuild([commit], tmp_path / "scratch")
    assert built.skipped_paths == 1 and (tmp_path / "scratch" / "ok.txt").exists()
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == [".git", "ok.txt"]
