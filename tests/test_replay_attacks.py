"""Attacks on the report engine's caches and its two processes (bundles' report cache, sections kept by a key
of now, the dashboard's bounded merge, the per-analyzer order check, the warm path that reads nothing): every
report here is compared byte for byte with a full replay in one process (cache=False, workers=1)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import msgspec
import pytest
import test_bundle
import zstandard
from conftest import gitobs
from logfactory import at, eventgen
from test_bundle import make, members, rezip
from test_parallel import _sides, _write

from gitobs.core.repo import ObsPaths
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.log.memory import MemoryLog
from gitobs.replay import cache, parallel, plugins
from gitobs.replay.analysis import Analyzer, Context
from gitobs.replay.engine import Consumer
from gitobs.replay.hookspecs import hookimpl
from gitobs.replay.report import build_report
from gitobs.replay.sections import Fact, Facts, encode_json
from gitobs.share.bundle import MANIFEST

NOW = at("2024-06-01") / 1e9
worked = test_bundle.worked  # the fixture: a recorded repository to bundle
EVENTS = list(eventgen().events(5000, seed=3, files=300))
LINES = [schema.encode(event) for event in EVENTS]


@pytest.fixture(autouse=True)
def any_size(monkeypatch, tmp_path):
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    monkeypatch.setenv("GITOBS_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))


def _json(log, use_cache: bool, workers: int = 1, only=(), **context) -> bytes:
    context.setdefault("now", NOW)
    built = build_report(log, plugins.load(), list(only), Context(**context), lambda _: None, workers=workers,
                         cache=use_cache)
    return encode_json(built)


# -- 1. bundles' report cache ------------------------------------------------------------------------------

BUNDLE_CONTEXTS = [
    {}, {"now": NOW + 3600}, {"now": NOW + 86400 * 3}, {"utc_offset_s": 3600}, {"utc_offset_s": -19800},
    {"now": at("2024-06-01 23:30") / 1e9, "utc_offset_s": 3600}, {"until": at("2024-01-10") / 1e9},
    {"since": at("2023-12-01") / 1e9}, {"path": "src"}, {"branch": "main"}, {"depth": 2},
    {"options": {"patterns.idle_gap": "10m", "heatmap.bucket": "week", "commands.period": "3d"}},
    {"only": ("heatmap", "summary")}, {"only": ("summary", "heatmap")},
]


def test_a_bundle_report_in_any_context_is_the_full_replay(tmp_path):
    lines = LINES[:3000]
    for context in BUNDLE_CONTEXTS + BUNDLE_CONTEXTS[::-1]:  # the second round finds most of them kept
        log = MemoryLog(lines, "one-digest")
        assert _json(log, True, **context) == _json(MemoryLog(lines), False, **context), context


def test_bundles_in_another_order_are_another_report(tmp_path):
    first, second = LINES[:1500], LINES[1500:3000]
    for order in ([first, second], [second, first], [first, second]):
        lines = [line for part in order for line in part]
        identity = "+".join("a" if part is first else "b" for part in order)
        assert _json(MemoryLog(lines, identity), True) == _json(MemoryLog(lines), False)


@pytest.mark.parametrize("planted", ["file", "dangling-link", "link-to-file", "directory", "truncated", "fifo",
                                     "link-to-another", "directories"])
def test_a_planted_bundle_cache_is_never_trusted_nor_a_traceback(tmp_path, planted):
    home = tmp_path / "cache-home"
    lines = LINES[:2000]
    full = _json(MemoryLog(lines), False)
    if planted == "file":
        home.parent.mkdir(parents=True, exist_ok=True)
        home.write_text("not a directory")
    elif planted == "dangling-link":
        home.symlink_to(tmp_path / "nowhere")
    elif planted == "link-to-file":
        (tmp_path / "elsewhere").write_text("x")
        (home / cache.BUNDLES_DIRECTORY).parent.mkdir(parents=True)
        (home / cache.BUNDLES_DIRECTORY).symlink_to(tmp_path / "elsewhere")
    elif planted == "directory":
        assert _json(MemoryLog(lines, "d"), True) == full
        [kept] = (home / cache.BUNDLES_DIRECTORY).glob(f"*{cache.SUFFIX}")
        kept.unlink()
        kept.mkdir()
    elif planted == "truncated":
        assert _json(MemoryLog(lines, "d"), True) == full
        [kept] = (home / cache.BUNDLES_DIRECTORY).glob(f"*{cache.SUFFIX}")
        kept.write_bytes(kept.read_bytes()[:-7])
    elif planted in ("fifo", "link-to-another"):
        assert _json(MemoryLog(lines, "d"), True) == full
        [kept] = (home / cache.BUNDLES_DIRECTORY).glob(f"*{cache.SUFFIX}")
        assert _json(MemoryLog(LINES[:1000], "other"), True) == _json(MemoryLog(LINES[:1000]), False)
        [other] = [path for path in kept.parent.glob(f"*{cache.SUFFIX}") if path != kept]
        kept.unlink()
        if planted == "fifo":
            os.mkfifo(kept)  # never waited on
        else:
            kept.symlink_to(other)  # another report's, valid: never followed
    else:  # directories where the least recently used checkpoints go (evicted)
        for number in range(cache.MAX_ENTRIES + 2):
            planted_directory = home / cache.BUNDLES_DIRECTORY / f"{number:040}{cache.SUFFIX}"
            planted_directory.mkdir(parents=True)
            os.utime(planted_directory, (1, 1))
    assert _json(MemoryLog(lines, "d"), True) == full
    assert _json(MemoryLog(lines, "d"), True) == full


def _other_manifest(bundle: Path, target: Path, **changes) -> Path:
    blobs = members(bundle)
    manifest = json.loads(blobs[MANIFEST])
    manifest.update(changes)
    return rezip(target, {**blobs, MANIFEST: json.dumps(manifest).encode()})


def test_bundles_of_the_same_events_with_other_manifests_replay_as_without_a_cache(worked, tmp_path):
    bundle = make(worked, tmp_path)
    now = json.loads(members(bundle)[MANIFEST])["now"]
    variants = [bundle, _other_manifest(bundle, tmp_path / "later.zip", now=now + 86400 * 9),
                _other_manifest(bundle, tmp_path / "east.zip", utc_offset_s=5 * 3600 + 1800),
                _other_manifest(bundle, tmp_path / "window.zip", window={"since": "2000-01-01T00:00:00Z"})]
    for index, variant in enumerate(variants + variants[::-1]):
        shared = gitobs("replay", str(variant), "-f", "json", cwd=tmp_path).stdout
        os.environ["GITOBS_CACHE_HOME"] = str(tmp_path / f"fresh-{index}")
        alone = gitobs("replay", str(variant), "-f", "json", cwd=tmp_path).stdout
        os.environ["GITOBS_CACHE_HOME"] = str(tmp_path / "cache-home")
        assert shared == alone, variant
    assert (tmp_path / "cache-home" / cache.BUNDLES_DIRECTORY).is_dir()
    both = [gitobs("report", "--from", str(variants[a]), str(variants[b]), "-f", "json", "--now", "2030-01-01",
                   cwd=tmp_path).stdout for a, b in ((0, 1), (1, 0), (0, 1))]
    assert both[0] == both[2]


def test_verify_never_reads_nor_writes_the_cache(worked, tmp_path):
    bundle = make(worked, tmp_path)
    done = gitobs("replay", "--verify", str(bundle), cwd=tmp_path, ok=False)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "cache-home").exists()


def test_a_bundle_whose_manifest_lies_about_its_events_is_refused(worked, tmp_path):
    bundle = make(worked, tmp_path)
    blobs = members(bundle)
    other = make(worked, tmp_path / "o") if (tmp_path / "o").mkdir() is None else None
    manifest = json.loads(blobs[MANIFEST])
    manifest["members"]["events.jsonl.zst"] = json.loads(members(other)[MANIFEST])["members"]["events.jsonl.zst"]
    lying = rezip(tmp_path / "lying.zip", {**blobs, MANIFEST: json.dumps(manifest).encode()}, fix_sums=False)
    done = gitobs("replay", str(lying), cwd=tmp_path, ok=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


# -- 2. sections kept by a key of now, in the repository's cache ------------------------------------------

def _append(obs: ObsPaths, lines: list[bytes]) -> EventLog:
    log = EventLog(obs.log, seal_bytes=31 << 10, sealed_level=3)  # many sealed segments and a live one
    for start in range(0, len(lines), 200):
        log.append(lines[start:start + 200])
    return log


@pytest.fixture
def obs(tmp_path) -> ObsPaths:
    paths = ObsPaths(tmp_path / ".git")
    _append(paths, LINES[:4000])
    assert len(EventLog(paths.log).segments()) >= 5
    return paths


NOW_CONTEXTS = [
    {}, {"now": NOW + 600}, {"now": NOW + 3600}, {"now": NOW + 86400}, {"now": NOW - 86400 * 40},
    {"now": at("2024-06-01 22:30") / 1e9, "utc_offset_s": 3600},
    {"now": at("2024-06-01 23:30") / 1e9, "utc_offset_s": 3600},  # local midnight passed, not UTC's
    {"now": at("2024-06-02 00:30") / 1e9, "utc_offset_s": 3600},  # UTC's too
    {"now": at("2024-06-01 18:00") / 1e9, "utc_offset_s": -19800},
    {"now": at("2024-06-01 19:00") / 1e9, "utc_offset_s": -19800},
    {"until": at("2024-01-10") / 1e9}, {"until": at("2024-01-10 00:00:01") / 1e9},
    {"options": {"commands.period": "3d", "hooks.budget.pre-commit": "1s"}},
    {"options": {"commands.period": "3d", "hooks.budget.pre-commit": "1s"}, "now": NOW + 86400 * 2},
    {"now": at("2020-01-01") / 1e9}, {"depth": 1, "options": {"heatmap.bucket": "month"}},
    {"depth": 1, "options": {"heatmap.bucket": "month"}, "now": at("2023-12-31 23:59:59") / 1e9},
    {"depth": 1, "options": {"heatmap.bucket": "month"}, "now": at("2024-01-01") / 1e9, "utc_offset_s": -3600},
]


@pytest.mark.parametrize("workers", [1, 2])
def test_sections_kept_by_a_key_of_now_are_shown_only_while_it_holds(obs, workers):
    for context in NOW_CONTEXTS + NOW_CONTEXTS[::-1]:
        full = _json(EventLog(obs.log), False, **context)
        assert _json(EventLog(obs.log), True, workers, **context) == full, context
        assert _json(EventLog(obs.log), True, workers, **context) == full, context


def test_kept_sections_after_new_events_on_another_day(obs):
    _json(EventLog(obs.log), True, 2)
    _append(obs, LINES[4000:4010])
    for context in ({}, {"now": NOW + 86400}, {}):
        assert _json(EventLog(obs.log), True, 2, **context) == _json(EventLog(obs.log), False, **context)


# -- 3. the dashboard's bounded merge ---------------------------------------------------------------------

def _shuffled_with_imports(seed: int) -> list[schema.Event]:
    live = list(eventgen().events(4000, seed=seed, files=200))
    old = [event for event in eventgen().events(2000, seed=seed + 10, files=200)
           if event.type in ("commit.created", "branch.switch")]
    for event in old:
        event.src = "import"
    old = old[1::2] + old[0::2]
    mixed = [event for pair in zip(live, old) for event in pair] + live[len(old):]
    late = [event for event in mixed[:800] if event.type == "commit.message_edit"]  # written late
    return [event for event in mixed if event not in late] + late


@pytest.mark.parametrize("held", [20_000, 200, 30, 1])
def test_a_bounded_dashboard_out_of_order_is_the_same_in_one_or_two_processes_cold_or_warm(obs, monkeypatch, held):
    from gitobs_plugins import dashboard

    monkeypatch.setattr(dashboard, "HELD_ROWS", held)
    shutil.rmtree(obs.log)
    _append(obs, [schema.encode(event) for event in _shuffled_with_imports(7)])
    full = _json(EventLog(obs.log), False, only=("dashboard",))
    assert (b'"complete from"' in full) == (held < 20_000)
    assert _json(EventLog(obs.log), False, 2, only=("dashboard",)) == full
    for workers in (2, 1, 2):
        assert _json(EventLog(obs.log), True, workers, only=("dashboard",)) == full
    shutil.rmtree(obs.root / cache.DIRECTORY)
    assert _json(EventLog(obs.log), True, 2) == _json(EventLog(obs.log), False)


# -- 4. the order check of two processes, per analyzer ----------------------------------------------------

def _both(log: EventLog, **context) -> None:
    serial = _json(log, False, 1, **context)
    assert b'"error": "' not in serial and b"malformed" not in serial
    assert _json(log, False, 2, **context) == serial, context


def _with_commands(events: list[schema.Event]) -> list[schema.Event]:
    """The generator's events with git's trace2 commands too (it makes none): a commit before each
    commit.created, a second before it, by three actors, some timing the pre-commit hook, some --no-verify."""
    out: list[schema.Event] = []
    actors = ("terminal", "ide", "agent")
    for number, event in enumerate(events):
        if event.type == "commit.created":
            hooks = [schema.HookRun("pre-commit", 0.25 + number % 7 / 10, int(number % 5 == 0), 1)] if number % 2 else []
            data = schema.GitCommand(command="commit", duration_s=1.5, hooks=hooks, no_verify=number % 9 == 0,
                                     actor=actors[number % 3])
            out.append(schema.make_event("git.command", data, ts_ns=int(schema.parse_ts(event.ts) * 1e9) - 10**9,
                                         src="trace2", wt=event.wt, provenance=f"cmd:{number}"))
        out.append(event)
    for number, event in enumerate(out, 1):
        event.seq = number
    return out


def test_late_events_of_one_type_give_the_same_report_in_two_processes(tmp_path):
    for kind in ("commit.message_edit", "branch.switch", "hook.ran", "git.command", "commit.created",
                 "gitobs.scan", "worktree.sample", "edit.discarded", "commit.reverted"):
        events = _with_commands(list(eventgen().events(5000, seed=3, files=300)))
        late = [event for event in events[:2600] if event.type == kind][-40:]
        moved = [event for event in events if event not in late]
        moved[3000:3000] = late  # past the cut, with times from before it
        _both(_write(tmp_path / kind, moved))


@pytest.mark.parametrize("kinds", [("commit.created", "commit.reverted"), ("branch.switch",),
                                   ("hook.ran", "git.command", "gitobs.scan"),
                                   ("commit.message_edit", "index.stage", "commit.aborted"), ("*",)])
def test_imported_events_of_any_type_interleaved_give_the_same_report_in_two_processes(tmp_path, kinds):
    live = _with_commands(list(eventgen().events(5000, seed=3, files=300)))
    old = [event for event in _with_commands(list(eventgen().events(5000, seed=8, files=300)))
           if "*" in kinds or event.type in kinds]
    for event in old:
        event.src = "import"
    old = old[1::2] + old[0::2]
    mixed = [event for pair in zip(live, old) for event in pair] + live[len(old):]
    log = _write(tmp_path / "log", mixed)
    _both(log)
    _both(log, since=at("2023-12-01") / 1e9)
    _both(log, branch="main")
    _both(log, path="src")


def test_imported_events_near_the_cut_with_live_times(tmp_path):
    # Imported events whose times are those of the live work around them (an import right after the work).
    live = list(eventgen().events(5000, seed=3, files=300))
    for index in range(0, len(live), 3):
        live[index].src = "import"
    _both(_write(tmp_path / "log", live))


# -- 5. the warm path that reads nothing: the live segment changed between reports ------------------------

def _live(obs: ObsPaths) -> Path:
    return EventLog(obs.log).segments()[-1]


@pytest.mark.parametrize("change", ["truncated", "emptied", "replaced", "grown", "replaced-same-size"])
def test_a_live_segment_changed_between_reports(obs, change):
    _json(EventLog(obs.log), True, 2)
    _json(EventLog(obs.log), True, 2)  # the live checkpoint, at the live segment's end
    live = _live(obs)
    data = live.read_bytes()
    if change == "truncated":
        live.write_bytes(data[: len(data) // 2])
    elif change == "emptied":
        live.write_bytes(b"")
    elif change == "grown":
        _append(obs, LINES[4000:4300])
    else:
        other = live.with_name(live.name + ".new")
        if change == "replaced":
            shutil.copy(live, other)
            os.replace(other, live)  # a new inode, the same bytes
        else:
            fresh = EventLog(obs.root / "other", seal_bytes=1 << 30)
            fresh.append(LINES[4000:4000 + data.count(b"\n") + 400])
            [made] = fresh.segments()
            body = made.read_bytes()
            if len(body) >= len(data):
                body = body[: len(data)]
            other.write_bytes(body + b"\0" * (len(data) - len(body)))
            os.replace(other, live)
    for context in ({}, {}, {"now": NOW + 86400}):
        assert _json(EventLog(obs.log), True, 2, **context) == _json(EventLog(obs.log), False, **context), change


# -- 1b. bundles: warnings and failing analyzers, kept and said again --------------------------------------

class Fragile(Analyzer):
    """A third-party analyzer that opted in to the cache, and fails on its 100th event."""

    name = "fragile"
    title = "Fragile"
    consumes = ("*",)
    state_version = 1
    state_type = int
    result_uses_now = False

    def __init__(self, context) -> None:
        super().__init__(context)
        self.seen = 0

    def feed(self, events) -> None:
        for _ in events:
            self.seen += 1
            if self.seen == 100:
                raise RuntimeError("the hundredth")

    def result(self):
        return [Facts(id="seen", items=[Fact("events", self.seen)])]

    def save_state(self) -> int:
        return self.seen

    def load_state(self, state: int) -> None:
        self.seen = state


class BadResult(Fragile):
    name = "badresult"

    def feed(self, events) -> None:
        self.seen += len(events)

    def result(self):
        raise ValueError("no result")


class Plugin:
    @hookimpl
    def gitobs_analyzers(self):
        return [Fragile, BadResult]


def test_a_bundle_report_kept_says_the_same_warnings_and_failures(tmp_path):
    lines = [*LINES[:1000], b"not json", b'{"v":1,"seq":1,"type":"commit.created","ts":"2024-01-01T00:00:00Z",'
             b'"data":{"files":7}}', *LINES[1000:2000]]

    def built(log) -> tuple[bytes, list[str]]:
        said: list[str] = []
        report = build_report(log, plugins.load(extra=[("test", Plugin())]), [], Context(now=NOW), said.append,
                              workers=1, cache=log.identity is not None)
        return encode_json(report), said

    full, expected = built(MemoryLog(lines))
    assert any("malformed" in w for w in expected) and any("hundredth" in w for w in expected)
    assert any("no result" in w for w in expected)
    for _ in range(3):  # made and kept, then loaded twice
        report, said = built(MemoryLog(lines, "with-warnings"))
        assert report == full and sorted(said) == sorted(expected)


def test_a_live_checkpoint_whose_states_will_not_load_is_mended_in_one_process(tmp_path, monkeypatch):
    # Its kept sections were left `shown` when its states would not load: the report then read the whole
    # log, threw it away (_Moved) and replayed it again, every time, and the checkpoint was never rewritten.
    obs = ObsPaths(tmp_path / ".git")
    log = _append(obs, LINES[:2990])
    log.append(LINES[2990:3000])
    assert log.segments()[-1].stat().st_size > 0  # events in the live segment: the sections are kept
    full = _json(EventLog(obs.log), False)
    assert _json(EventLog(obs.log), True) == full and _json(EventLog(obs.log), True) == full
    [path] = (obs.root / cache.DIRECTORY).glob(f"*{cache.SUFFIX}")
    store = cache.Store(obs.root / cache.DIRECTORY, 1 << 30)
    found = msgspec.msgpack.decode(zstandard.ZstdDecompressor().decompress(path.read_bytes()[len(cache.MAGIC):]),
                                   type=cache.Checkpoint)
    assert found.live is not None and found.sections
    found.states = [cache.Saved(s.name, s.error, msgspec.Raw(msgspec.msgpack.encode("not a state")))
                    if s.name == "dashboard" else s for s in found.states]  # one whose sections are not kept
    store.save(found)
    damaged = path.read_bytes()
    replays: list[int] = []
    original = cache.replay
    monkeypatch.setattr(cache, "replay", lambda *args, **kwargs: replays.append(1) or original(*args, **kwargs))
    assert _json(EventLog(obs.log), True) == full
    assert path.read_bytes() != damaged  # made again
    replays.clear()
    assert _json(EventLog(obs.log), True) == full and not replays  # and loaded: nothing read


def test_report_from_bundles_with_each_option_is_the_same_with_a_warm_cache(worked, tmp_path):
    first = make(worked, tmp_path)
    second = _other_manifest(first, tmp_path / "second.zip", now=json.loads(members(first)[MANIFEST])["now"] + 7200)
    variants = [[], ["--now", "2030-01-01"], ["--now", "2030-01-01T23:30:00Z", "--utc-offset", "+01:00"],
                ["--utc-offset", "-05:30"], ["-O", "patterns.idle_gap=1m"], ["--path", "src"],
                ["--branch", "main"], ["--since", "2000-01-01"], ["--until", "2100-01-01"], ["--summary", "--hooks"]]
    for index, extra in enumerate(variants + variants[::-1]):
        args = ("report", "--from", str(first), str(second), "-f", "json", *extra)
        shared = gitobs(*args, cwd=tmp_path).stdout
        os.environ["GITOBS_CACHE_HOME"] = str(tmp_path / f"fresh-{index}")
        alone = gitobs(*args, cwd=tmp_path).stdout
        os.environ["GITOBS_CACHE_HOME"] = str(tmp_path / "cache-home")
        assert shared == alone, extra


@pytest.mark.parametrize("held", [200, 30])
def test_a_bounded_dashboard_fed_old_days_after_its_checkpoint(obs, monkeypatch, held):
    # Past the checkpoint come events of days the kept state already dropped, and of days it holds.
    from gitobs_plugins import dashboard

    monkeypatch.setattr(dashboard, "HELD_ROWS", held)
    for workers in (2, 1):
        assert _json(EventLog(obs.log), True, workers) == _json(EventLog(obs.log), False)
    _append(obs, LINES[:300:3] + LINES[3900:4000:2])
    for workers in (1, 2, 2):
        assert _json(EventLog(obs.log), True, workers) == _json(EventLog(obs.log), False)
    assert b'"complete from"' in _json(EventLog(obs.log), False)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_repository_cache_directory_that_is_a_file_is_no_traceback(obs, workers):
    (obs.root / cache.DIRECTORY).write_text("not a directory")
    full = _json(EventLog(obs.log), False)
    for _ in range(2):
        assert _json(EventLog(obs.log), True, workers) == full


# -- found by the attacks above, fixed since ------------------------------------------------------------------

def test_malformed_lines_are_counted_once_in_two_processes(tmp_path, monkeypatch):
    # The tail decodes the pieces from the cut's segment (or offset) up to the cut, which the head decodes too:
    # their malformed lines are the head's to count.
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    lines = []
    for number, event in enumerate(eventgen().events(5000, seed=3, files=300)):
        lines.append(schema.encode(event))
        if number % 50 == 0:
            lines.append(b"not json")
    log = EventLog(tmp_path / "log", seal_bytes=32 << 10)
    for start in range(0, len(lines), 200):
        log.append(lines[start:start + 200])
    said = [json.loads(encode_json(build_report(log, plugins.load(), [], Context(now=at("2024-06-01") / 1e9),
                                                lambda _: None, workers=workers, cache=False)))["warnings"]
            for workers in (1, 2)]
    assert said[0] == ["100 malformed event line(s) in the log were skipped"]
    assert said[1] == said[0]


def _dashboard_notes(day: int, monkeypatch) -> dict:
    from gitobs_plugins import dashboard

    monkeypatch.setattr(dashboard, "HELD_ROWS", 5)
    commits = [e for e in eventgen().events(3000, seed=3, files=300) if e.type == "commit.created"][:20]
    for hour, event in enumerate(commits):  # 20 hours of one day: 20 activity rows, past the bound of 5
        event.ts = schema.format_ts((day * 86400 + 3600 * hour) * 10**9)
    built = build_report(MemoryLog([schema.encode(e) for e in commits]), plugins.load(), ["dashboard"],
                         Context(now=86400 * 3), lambda _: None, cache=False)
    [notes] = [b for b in json.loads(encode_json(built))["sections"][0]["blocks"] if b["id"] == "dataset_notes"]
    return {name: value for name, value, _ in notes["items"]}


@pytest.mark.parametrize("day", [0, -1])
def test_a_dashboard_day_past_the_bound_is_dropped_whatever_its_number(day, monkeypatch):
    assert _dashboard_notes(day, monkeypatch)["activity rows"] == 0  # day -1 + 1 == 0 once meant "no cut"


def test_an_imported_hook_run_just_past_the_cut_is_left_out_in_one_process_and_two(tmp_path, monkeypatch):
    # hooks says imported_in_any_order: imported hook runs and commands are left out, not paired by time
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    events = list(eventgen().events(5000, seed=3, files=300))
    now = at("2024-06-01") / 1e9
    consumers = [Consumer(cls.name, cls(Context(now=now)), tuple(cls.consumes)) for cls, _ in plugins.load().analyzers]
    split = parallel.split_point(_write(tmp_path / "plain", events), [parallel.horizon_of(c) for c in consumers])
    head, _ = _sides(_write(tmp_path / "plain2", events), split)
    end = int(head.latest.timestamp() * 1e9)
    command = schema.make_event("git.command", schema.GitCommand(command="commit", duration_s=0.5, hooks=[
        schema.HookRun("pre-commit", 0.4, 0, 1)]), ts_ns=end + 10**9, src="trace2", wt=".", provenance="t:1")
    ran = schema.make_event("hook.ran", schema.HookRan(hook="pre-commit", seconds=0.4), ts_ns=end + 15 * 10**8,
                            src="import", wt=".", provenance="t:2")
    cut = head.in_window
    crafted = events[:cut] + [command] + events[cut:cut + 1] + [ran] + events[cut + 1:]
    for number, event in enumerate(crafted, 1):
        event.seq = number
    log = _write(tmp_path / "log", crafted)
    reports = [encode_json(build_report(log, plugins.load(), [], Context(now=now), lambda _: None, workers=workers,
                                        cache=False)) for workers in (1, 2)]
    [hooks] = [s for s in json.loads(reports[0])["sections"] if s["name"] == "hooks"]
    [per_commit] = [block for block in hooks["blocks"] if block["id"] == "per_commit"]
    assert per_commit["items"][-1][:2] == ["runs seen both ways (counted once)", 0]  # the imported run left out
    assert reports[1] == reports[0]


@pytest.mark.parametrize("absurd", [
    {"type": "git.command", "data": {"command": "commit", "duration_s": 1e308, "exit": 0, "actor": "terminal"}},
    {"type": "hook.ran", "data": {"hook": "pre-commit", "seconds": -1e300}},
    {"type": "rollup.day", "data": {"day": "2026-13-45", "events": 3}},
    {"type": "rollup.day", "data": {"day": "2026-02-30", "events": 3}},
])
def test_a_line_with_a_number_or_day_no_analyzer_can_use_is_malformed_not_a_failed_section(absurd):
    """A hostile log or bundle: 1e308 seconds overflowed once rounded, a day that is none failed to parse,
    and each took a whole section down; the line is skipped and counted instead."""
    line = json.dumps({"v": 1, "seq": 9999, "ts": "2024-05-31T10:00:00Z", "src": "hook", "wt": ".", **absurd})
    log = MemoryLog([*LINES[:500], line.encode()])
    report = json.loads(_json(log, use_cache=False))
    assert report["warnings"] == ["1 malformed event line(s) in the log were skipped"]
    assert [s["name"] for s in report["sections"] if s.get("error")] == []
