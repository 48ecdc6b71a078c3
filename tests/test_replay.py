"""The replay engine and the plugin API around it: decoding only what is consumed, filters, batches,
enrichers, failing plugins, unknown types and damage, determinism."""

from __future__ import annotations

import json

import pytest
from conftest import git, gitobs
from logfactory import LogBuilder, at, block, report

from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.log.read import EventFilter
from gitobs.replay.analysis import Analyzer, Enricher
from gitobs.replay.engine import EventDecoder, normalize_path, read_batches
from gitobs.replay.hookspecs import hookimpl
from gitobs.replay.sections import Fact, Facts


class Recorder(Analyzer):
    """Keeps what it was fed: (type, branch-ish, files) per event, and the batch sizes."""

    name = "recorder"
    title = "Recorder"
    consumes = ("commit.*", "branch.switch", "x.*")
    order = 1

    def __init__(self, context) -> None:
        super().__init__(context)
        self.seen: list[tuple] = []
        self.batches: list[int] = []

    def feed(self, events) -> None:
        self.batches.append(len(events))
        for event in events:
            data = event.data
            files = [f[0] if isinstance(f, list) else f.path for f in (data.get("files", []) if isinstance(
                data, dict) else getattr(data, "files", []))]
            self.seen.append((event.type, event.t, files))

    def result(self):
        Recorder.last = self
        return [Facts(id="seen", items=[Fact("events", len(self.seen))])]


class Narrow(Analyzer):
    """Declares the fields it reads; keeps which attributes its events had."""

    name = "narrow"
    title = "Narrow"
    consumes = ("commit.*", "branch.switch")
    fields = {"commit.created": ("branch",), "branch.switch": ("wt",)}

    def feed(self, events) -> None:
        for event in events:
            data = event.data
            Narrow.seen.append((event.type, getattr(data, "branch", None), hasattr(data, "sha"), hasattr(event, "wt"),
                                data is None))

    def result(self):
        return []


class Exploding(Analyzer):
    name = "exploding"
    title = "Exploding"
    consumes = ("commit.created",)

    def feed(self, events) -> None:
        raise RuntimeError("boom\nsecond line")

    def result(self):
        return []


class BadResult(Analyzer):
    name = "bad_result"
    title = "Bad result"

    def feed(self, events) -> None:
        pass

    def result(self):
        return ["not a block"]


class Tagger(Enricher):
    """Adds one x.tagger.mark event per commit.created it sees."""

    name = "tagger"
    consumes = ("commit.created",)

    def enrich(self, events):
        out = []
        for event in events:
            out.append(event)
            if event.type == "commit.created":
                decoder = EventDecoder(lambda t: True)
                out.append(decoder.decode_line(json.dumps({
                    "type": "x.tagger.mark", "seq": event.seq, "ts": event.ts.isoformat().replace("+00:00", "Z"),
                    "data": {"sha": event.data.sha}}).encode()))
        return out


class Plugin:
    def __init__(self, *analyzers, enrichers=()) -> None:
        self.analyzers = list(analyzers)
        self.enrichers = list(enrichers)

    @hookimpl
    def gitobs_analyzers(self):
        return self.analyzers

    @hookimpl
    def gitobs_enrichers(self):
        return self.enrichers


def files(*paths: str) -> list[schema.FileChange]:
    return [schema.FileChange(p, 1, 0) for p in paths]


@pytest.fixture
def log(tmp_path) -> EventLog:
    builder = LogBuilder(tmp_path / "log")
    builder.add("commit.created", schema.CommitCreated(sha="a" * 40, branch="main", files=files(
        "src/api/x.py", "docs/a.md")), "2026-11-02 09:00")
    builder.add("worktree.sample", schema.WorktreeSample(branch="main", files=files("src/api/y.py")),
                "2026-11-02 09:10", src="worktree")
    builder.add("branch.switch", schema.BranchSwitch(from_="main", to="topic"), "2026-11-02 09:20", src="reflog")
    builder.add("commit.created", schema.CommitCreated(sha="b" * 40, branch="topic", files=files(
        "src/apiary.py")), "2026-11-03 10:00")
    builder.add("commit.amended", schema.CommitAmended(old="b" * 40, new="c" * 40, branch="topic"),
                "2026-11-04 11:00")
    return builder.write()


def test_analyzers_get_only_what_they_consume_in_log_order(log):
    built = report(log, ["recorder"], extra=[("t", Plugin(Recorder))])
    assert block(built, "recorder", "seen").items == [Fact("events", 4)]
    assert [kind for kind, _, _ in Recorder.last.seen] == [
        "commit.created", "branch.switch", "commit.created", "commit.amended"]
    assert Recorder.last.seen[0][1] == at("2026-11-02 09:00") / 1e9
    assert built.events == 5  # every event in the window counts, even the sample no one consumes (not decoded)


def test_filters_window_branch_and_path(log):
    built = report(log, ["recorder"], extra=[("t", Plugin(Recorder))],
                   since=at("2026-11-02 09:15") / 1e9, until=at("2026-11-04") / 1e9)
    assert [kind for kind, _, _ in Recorder.last.seen] == ["branch.switch", "commit.created"]
    report(log, ["recorder"], extra=[("t", Plugin(Recorder))], branch="topic")
    assert [kind for kind, _, _ in Recorder.last.seen] == ["branch.switch", "commit.created", "commit.amended"]
    # a path keeps events naming a file at or under it, with their lists narrowed: src/apiary.py is not under src/api
    built = report(log, ["recorder"], extra=[("t", Plugin(Recorder))], path=normalize_path("./src/api/"))
    assert Recorder.last.seen == [("commit.created", at("2026-11-02 09:00") / 1e9, ["src/api/x.py"])]
    assert built.window.path == "src/api"


def test_only_the_fields_consumers_read_are_built(log):
    Narrow.seen = []
    report(log, ["narrow"], extra=[("t", Plugin(Narrow))])
    assert Narrow.seen == [("commit.created", "main", False, False, False),  # (type, branch, sha? wt? data None?)
                           ("branch.switch", None, False, True, True),
                           ("commit.created", "topic", False, False, False),
                           ("commit.amended", None, False, False, True)]
    Narrow.seen = []  # beside an analyzer without `fields`, every field of the types it consumes is there
    report(log, ["narrow", "recorder"], extra=[("t", Plugin(Narrow, Recorder))])
    assert Narrow.seen[0] == ("commit.created", "main", True, True, False)


def test_events_shipped_between_processes_come_back_equal():
    import msgspec

    decoder = EventDecoder(lambda t: True)
    events = [decoder.decode_line(json.dumps(line).encode()) for line in (
        {"type": "x.tagger.mark", "seq": 3, "ts": "2026-11-02T09:00:00.000Z", "data": {"sha": "a"}},
        {"type": "commit.created", "seq": 4, "ts": "2026-11-02T09:00:01.000Z", "data": {"sha": "b" * 40}})]
    assert decoder.decode_packed(msgspec.msgpack.encode(events)) == events  # an x.* event among them too
    assert decoder.decode_packed(msgspec.msgpack.encode(events[1:])) == events[1:]


def test_dispatch_past_256_types_asks_each_analyzer(log, monkeypatch):
    from gitobs.replay import engine

    before = report(log, ["recorder"], extra=[("t", Plugin(Recorder))]) and Recorder.last.seen
    monkeypatch.setattr(engine, "_CODES", {f"x.filler.{n}": n for n in range(256)})  # no byte left for a type
    report(log, ["recorder"], extra=[("t", Plugin(Recorder))])
    assert Recorder.last.seen == before


def test_big_frames_are_cut_in_pieces_and_small_ones_gathered(tmp_path):
    builder = LogBuilder(tmp_path / "log")
    for minute in range(3000):
        builder.add("commit.attempt", schema.CommitAttempt(branch="main"), f"2026-11-02 {minute // 60 % 24:02d}:"
                    f"{minute % 60:02d}")
    log = builder.write()
    sizes = [len(b) for b in read_batches(log, EventDecoder(lambda t: True), EventFilter(), print, batch_events=1000)]
    assert sum(sizes) == 3000 and len(sizes) == 3  # one frame, cut in pieces of about a batch
    assert all(900 <= size <= 1100 for size in sizes)
    for _ in range(3):
        log.append([schema.encode(builder.events[0])])
    sizes = [len(b) for b in read_batches(log, EventDecoder(lambda t: True), EventFilter(), print,
                                          batch_events=3001)]
    assert sizes == [3001, 2]  # small frames are gathered until a batch is full


def test_a_failing_analyzer_is_reported_by_name_and_the_others_render(log):
    warnings: list[str] = []
    built = report(log, [], warnings=warnings, extra=[("t", Plugin(Recorder, Exploding, BadResult))])
    sections = {s.name: s for s in built.sections}
    assert sections["exploding"].error == "RuntimeError: boom" and sections["exploding"].blocks == []
    assert sections["bad_result"].error.startswith("TypeError: result() returned str")
    assert block(built, "recorder", "seen").items == [Fact("events", 4)]
    assert any("'exploding' (plugin 't') failed" in w for w in warnings)
    assert built.warnings == warnings


def test_enrichers_add_events_of_their_own_types(log):
    report(log, ["recorder"], extra=[("t", Plugin(Recorder, enrichers=[Tagger]))])
    kinds = [kind for kind, _, _ in Recorder.last.seen]
    assert kinds.count("x.tagger.mark") == 2 and kinds.index("x.tagger.mark") == 1


def test_unknown_types_reach_globs_and_malformed_lines_are_counted(log):
    log.append([b'{"v":1,"seq":9,"id":"x","ts":"2026-11-05T00:00:00.000Z","type":"x.other.thing","src":"import",'
                b'"wt":".","data":{"files":[["src/z",1,0]]}}',
                b'{"v":1,"seq":10,"id":"y","ts":"2026-11-05T00:00:00.000Z","type":"commit.created","src":"hook",'
                b'"wt":".","data":{"sha":42}}',
                b'not json at all',
                b'{"v":1,"seq":11,"id":"z","ts":"2026-11-05T00:00:00.000Z","type":"x.deep","src":"import",'
                b'"wt":".","data":' + b"[" * 5000 + b"]" * 5000 + b'}'])  # past the decoder's recursion limit
    warnings: list[str] = []
    report(log, ["recorder"], warnings=warnings, extra=[("t", Plugin(Recorder))])
    assert Recorder.last.seen[-1] == ("x.other.thing", at("2026-11-05") / 1e9, ["src/z"])
    assert warnings == ["3 malformed event line(s) in the log were skipped"]


def test_damaged_frames_are_reported_and_skipped(log, tmp_path):
    segment = log.segments()[-1]
    good = segment.read_bytes()
    segment.write_bytes(good + b"\x28\xb5\x2f\xfdgarbage" + good)
    warnings: list[str] = []
    report(log, ["recorder"], warnings=warnings, extra=[("t", Plugin(Recorder))])
    assert len(Recorder.last.seen) == 8
    assert len(warnings) == 1 and warnings[0].startswith("damaged log: 00000001.jsonl.zst at byte")


def test_same_events_and_now_give_identical_json(watched):
    for name, text in (("a.txt", "1\n"), ("b.txt", "2\n3\n")):
        (watched / name).write_text(text)
        git(watched, "add", name)
        git(watched, "commit", "-q", "-m", "c")
    git(watched, "switch", "-q", "-c", "topic")
    args = ("report", "--format", "json", "--now", "2026-12-01", "--utc-offset", "+01:00", "-C", str(watched))
    first = gitobs(*args).stdout
    second = gitobs(*args, "--no-scan").stdout
    assert first == second
    parsed = json.loads(first)
    assert parsed["now"] == "2026-12-01T00:00:00Z" and parsed["utc_offset"] == "+01:00"
    assert parsed["events"] > 0


@pytest.mark.parametrize(("args", "message"), [
    (("--format", "yaml"), "unknown format 'yaml'"),
    (("--only", "nope"), "no analyzer named 'nope'"),
    (("--since", "yesterday"), "not a time: 'yesterday'"),
    (("--utc-offset", "+25:00"), "not a UTC offset"),
    (("-O", "idle_gap=3m"), "not an option: 'idle_gap=3m'"),
    (("-O", "patterns.idle_gap=banana"), "option patterns.idle_gap: not a duration: 'banana'"),
])
def test_bad_report_arguments_give_one_line_errors(watched, args, message):
    result = gitobs("report", "-C", str(watched), *args, ok=False)
    assert result.returncode == 2
    assert result.stderr.startswith("gitobs: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_report_on_a_repository_without_gitobs(repo):
    result = gitobs("report", "-C", str(repo), ok=False)
    assert result.returncode == 2 and "nothing recorded here yet" in result.stderr


@pytest.mark.parametrize("args", [("--since", "30d"), ("--branch", "main"), ("--path", "src"),
                                  ("--since", "7d", "--heatmap")])
def test_a_big_first_frame_the_filters_empty_still_reports(repo, args):
    # The README's examples, on a log whose first frame (cut in pieces) holds nothing they keep: a fresh
    # process whose first batch is empty.
    builder = LogBuilder(repo / ".git" / "obs" / "log")
    for minute in range(600):
        builder.add("commit.created", schema.CommitCreated(sha=f"{minute:040x}", branch="old", files=files(
            "lib/old.py")), f"2026-09-01 {minute // 60:02d}:{minute % 60:02d}")
    builder.add("commit.created", schema.CommitCreated(sha="f" * 40, branch="main", files=files("src/new.py")),
                "2026-11-29 10:00")
    builder.write()
    done = gitobs("report", "--no-scan", "--now", "2026-11-30", "-C", str(repo), *args, ok=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_an_empty_batch_first_is_dispatched_to_no_one(monkeypatch):
    from gitobs.replay import engine

    monkeypatch.setattr(engine, "_CODES", {})  # a fresh process: no type coded yet
    consumer = engine.Consumer("recorder", Recorder(None), Recorder.consumes)
    engine.dispatch([], [consumer])  # what an enricher that drops a whole batch hands on
    assert consumer.error is None and consumer.instance.batches == []
