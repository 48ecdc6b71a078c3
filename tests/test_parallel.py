"""Two processes for one report (gitobs/replay/parallel.py): the log cut at a quiet gap, the tail replayed by a
forked child, analyzers merged or fed the shipped tail; and every way back to a one-process result."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from logfactory import at, eventgen

from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.log.read import EventFilter
from gitobs.replay import parallel, plugins
from gitobs.replay.analysis import Analyzer, Context
from gitobs.replay.engine import Consumer, matches, replay
from gitobs.replay.hookspecs import hookimpl
from gitobs.replay.report import build_report
from gitobs.replay.sections import Fact, Facts, encode_json

NOW = at("2024-06-01") / 1e9


def _write(log_dir: Path, events: list[schema.Event]) -> EventLog:
    # Small segments, so that a few thousand events make a log of many segments to cut.
    log = EventLog(log_dir, seal_bytes=32 << 10)
    lines = [schema.encode(event) for event in events]
    for start in range(0, len(lines), 200):
        log.append(lines[start:start + 200])
    return log


@pytest.fixture
def generated(tmp_path) -> EventLog:
    """Weeks of the benchmark's developer: events of every type, nights between working days."""
    return _write(tmp_path / "log", list(eventgen().events(6000, seed=3, files=300)))


@pytest.fixture(autouse=True)
def any_size(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)


class SeqDigest(Analyzer):
    """A third-party analyzer that cannot merge: it must still see every event once, in log order."""

    name = "seqdigest"
    title = "Seq digest"
    consumes = ("*",)

    def __init__(self, context) -> None:
        super().__init__(context)
        self.seqs: list[int] = []

    def feed(self, events) -> None:
        self.seqs.extend(event.seq for event in events)

    def result(self):
        ordered = self.seqs == sorted(self.seqs)
        return [Facts(id="seen", items=[Fact("events", len(self.seqs)), Fact("in order", ordered),
                                        Fact("sum", sum(self.seqs))])]


class BadMerge(SeqDigest):
    name = "badmerge"

    def merge(self, later) -> None:
        raise RuntimeError("cannot merge")


class Tracked(SeqDigest):
    """Merges, and remembers (weakly) every instance made in this process."""

    name = "tracked"
    made: list[weakref.ref] = []
    padding = 0  # more state: the largest stays in the parent, the next is handed to the child

    def __init__(self, context) -> None:
        super().__init__(context)
        self.ballast = list(range(self.padding))
        Tracked.made.append(weakref.ref(self))

    def __setstate__(self, state: dict) -> None:  # a tail from the child, unpickled here
        self.__dict__.update(state)
        Tracked.made.append(weakref.ref(self))

    def merge(self, later) -> None:
        self.seqs.extend(later.seqs)


class TrackedBig(Tracked):
    name = "trackedbig"
    padding = 200_000


class Plugin:
    def __init__(self, *analyzers) -> None:
        self.analyzers = list(analyzers)

    @hookimpl
    def gitobs_analyzers(self):
        return self.analyzers


def _json(log: EventLog, workers: int, extra: bool = False) -> bytes:
    provided = plugins.load(extra=[("test", Plugin(SeqDigest))] if extra else None)
    built = build_report(log, provided, [], Context(now=NOW), lambda _: None, workers=workers,
                         cache=False)
    return encode_json(built)


def _sides(log: EventLog, split) -> tuple:
    """Both sides of `split` replayed into an analyzer of every type: their counts."""
    everything = [Consumer("all", SeqDigest(Context(now=NOW)), ("*",))]
    head = replay(log, everything, [], EventFilter(), print, split=split, side="head")
    tail = replay(log, everything, [], EventFilter(), print, split=split, side="tail")
    return head, tail


@pytest.fixture
def joins(monkeypatch) -> list[str]:
    """Names of the analyzers given the child's tail, here or (their head handed over) in the child: empty
    when the tail was replayed here instead."""
    joined: list[str] = []
    original, handed = parallel._join, parallel._from_child

    def spy(consumer, *args):
        joined.append(consumer.name)
        return original(consumer, *args)

    def handed_spy(child, index, consumer, *args):
        joined.append(consumer.name)
        return handed(child, index, consumer, *args)

    monkeypatch.setattr(parallel, "_join", spy)
    monkeypatch.setattr(parallel, "_from_child", handed_spy)
    return joined


def test_the_log_is_cut_at_a_gap_near_its_middle(generated):
    split = parallel.split_point(generated, [0.0, 1800.0, None])
    segments = len(generated.segments())
    assert segments >= 8 and split is not None
    assert split.horizon_s == 1800.0 and abs(split.segment - segments * parallel.HEAD_SHARE) <= 1
    head, tail = _sides(generated, split)
    assert head.found and tail.found
    assert head.in_window + tail.in_window == 6000
    assert (tail.earliest - head.latest).total_seconds() > 1800


def test_no_split_for_a_small_log_one_segment_or_no_analyzer_that_merges(generated, tmp_path, monkeypatch):
    assert parallel.split_point(generated, [None, None]) is None
    one = EventLog(tmp_path / "one")
    one.append([schema.encode(event) for event in eventgen().events(500, seed=3, files=30)])
    assert parallel.split_point(one, [0.0]) is None
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 1 << 30)
    assert parallel.split_point(generated, [0.0]) is None


def test_two_processes_make_the_same_report_as_one(generated, joins):
    serial = _json(generated, workers=1, extra=True)
    assert b'"error": "' not in serial and b'"heatmap"' in serial and b'"seqdigest"' in serial
    assert not joins
    assert _json(generated, workers=2, extra=True) == serial
    # The built-ins merge; the analyzer without merge() was fed the shipped tail after its head.
    assert set(joins) == {cls.name for cls, _ in plugins.load().analyzers} | {"seqdigest"}


def test_an_analyzer_that_cannot_merge_sees_every_event_once_in_order(generated, joins):
    provided = plugins.load(extra=[("test", Plugin(SeqDigest))])
    built = build_report(generated, provided, ["seqdigest", "heatmap"], Context(now=NOW), print, workers=2,
                         cache=False)
    section = next(s for s in built.sections if s.name == "seqdigest")
    assert sorted(joins) == ["heatmap", "seqdigest"]  # alone it would not be split: nothing to merge
    assert [(f.label, f.value) for f in section.blocks[0].items] == [
        ("events", 6000), ("in order", True), ("sum", 6000 * 6001 // 2)]


def test_a_report_leaves_no_cycle_holding_an_analyzer(generated, joins):
    """Every analyzer (fed here, merged away, or handed to the child) is freed when its report is made, by
    reference counting: the cyclic collector, run next, would walk every state the report made."""
    Tracked.made.clear()
    provided = plugins.load(extra=[("test", Plugin(Tracked, TrackedBig))])
    was = gc.isenabled()
    gc.disable()
    try:
        built = build_report(generated, provided, ["tracked", "trackedbig"], Context(now=NOW), print, workers=2,
                             cache=False)
        assert sorted(joins) == ["tracked", "trackedbig"]
        assert [s.blocks[0].items[0].value for s in built.sections] == [6000, 6000]
        assert len(Tracked.made) >= 3  # both heads, and the tail merged here
        assert [ref for ref in Tracked.made if ref() is not None] == []
    finally:
        if was:
            gc.enable()


def test_a_merge_that_raises_fails_its_section_only(generated, joins):
    warnings: list[str] = []
    provided = plugins.load(extra=[("test", Plugin(BadMerge))])
    built = build_report(generated, provided, ["badmerge", "heatmap"], Context(now=NOW), warnings.append, workers=2,
                         cache=False)
    sections = {s.name: s for s in built.sections}
    assert sections["badmerge"].error == "RuntimeError: cannot merge"
    assert sections["heatmap"].error is None and sections["heatmap"].blocks
    assert any("'badmerge'" in w and "cannot merge" in w for w in warnings)


def test_the_dashboard_over_its_bound_gives_the_same_report_in_two_processes(generated, joins, monkeypatch):
    from gitobs_plugins import dashboard

    for held in (20_000, 300, 40):  # nothing dropped; the oldest days dropped, in either part or only once merged
        monkeypatch.setattr(dashboard, "HELD_ROWS", held)
        serial = _json(generated, workers=1)
        assert (b'"complete from"' in serial) == (held < 20_000)
        joins.clear()
        assert _json(generated, workers=2) == serial and "dashboard" in joins


def test_a_failed_child_has_its_part_done_here(generated, joins, monkeypatch):
    serial = _json(generated, workers=1)

    def broken(*args, **kwargs):
        raise MemoryError("the child ran out")

    monkeypatch.setattr(parallel.pickle, "dumps", broken)  # used in the child only
    assert _json(generated, workers=2) == serial
    assert not joins


def test_a_child_that_dies_while_making_sections_has_them_made_here(generated, joins, monkeypatch):
    serial = _json(generated, workers=1)

    def dies(head, later, keep=False):  # the child's part after it sent its states: merging what it was handed
        import os
        os._exit(3)

    monkeypatch.setattr(parallel, "_merged_sections", dies)
    assert _json(generated, workers=2) == serial
    assert set(joins) >= {"heatmap", "branches", "hesitation", "reverts", "vbranches", "patterns", "hooks"}


def _order_free() -> set[str]:
    """The loaded analyzers that take the child's part of a log out of time order: those that merge in any
    order, and those that cannot merge (fed its shipped tail, in log order)."""
    return {cls.name for cls, _ in plugins.load().analyzers
            if getattr(cls, "merge", Analyzer.merge) is Analyzer.merge or getattr(cls, "merges_in_any_order", False)}


def test_a_tail_event_too_close_to_the_head_sends_the_tail_back_here(tmp_path, joins):
    # An event written late (an old time, after the cut's gap) would join the head's last session in one
    # process: the child's tail cannot be merged, so the tail is replayed here for the analyzers whose merge
    # needs time order; the heatmap's counts add up in any order, and it takes the child's part.
    events = list(eventgen().events(6000, seed=3, files=300))
    log = _write(tmp_path / "log", events)
    split = parallel.split_point(log, [1800.0])
    head, tail = _sides(log, split)
    late = events[head.in_window + 50]
    late.ts = schema.format_ts(int(head.latest.timestamp() * 1e9) + 60 * 10**9)
    log = _write(tmp_path / "late", events)
    assert tail.found
    serial = _json(log, workers=1, extra=True)
    assert _json(log, workers=2, extra=True) == serial
    # The late event's own analyzers that need order replay the tail here; the rest, in order in their own
    # events, take the child's part.
    takers = {cls.name for cls, _ in plugins.load().analyzers if matches(late.type, cls.consumes)}
    assert set(joins) >= _order_free() | {"seqdigest"} and not (set(joins) - _order_free()) & takers
    assert "patterns" in takers and {"commands", "hooks"} <= set(joins)


def test_imported_history_out_of_time_order_gives_the_same_report_in_two_processes(tmp_path, joins):
    # Frames whose times overlap throughout, as an import writes them: no cut is in time order.
    events = list(eventgen().events(6000, seed=4, files=300))
    chunks = [events[start:start + 300] for start in range(0, len(events), 300)]
    chunks = chunks[1::2] + chunks[0::2]
    log = _write(tmp_path / "log", [event for chunk in chunks for event in chunk])
    serial = _json(log, workers=1, extra=True)
    assert b'"error": "' not in serial
    assert _json(log, workers=2, extra=True) == serial
    assert set(joins) >= _order_free() | {"seqdigest"} and "patterns" not in joins


def test_an_import_out_of_time_order_still_merges_what_leaves_imported_history_out(tmp_path, joins):
    # Live work in time order, and an import's commits, out of time order, written all through the log:
    # patterns, branches and the like leave imported history out (imported_in_any_order), the heatmap and
    # the dashboard merge in any order, reverts takes no commit.created: all of them take the child's part.
    live = list(eventgen().events(6000, seed=3, files=300))
    old = [event for event in eventgen().events(3000, seed=6, files=300) if event.type == "commit.created"]
    for event in old:
        event.src = "import"
    old = old[1::2] + old[0::2]
    mixed = [event for pair in zip(live, old) for event in pair] + live[len(old):]
    log = _write(tmp_path / "log", mixed)
    serial = _json(log, workers=1)
    assert b'"error": "' not in serial and b"of them imported" in serial
    assert _json(log, workers=2) == serial
    assert set(joins) == {cls.name for cls, _ in plugins.load().analyzers}


def test_a_log_with_no_quiet_gap_after_the_cut_is_replayed_here(tmp_path, joins):
    # One long burst: every event a minute after the last, so no gap exceeds the sessions' idle gap.
    burst = []
    for index, event in enumerate(eventgen().events(4000, seed=5, files=100)):
        event.ts = schema.format_ts(at("2024-01-10") + index * 60 * 10**9)
        burst.append(event)
    log = _write(tmp_path / "log", burst)
    assert parallel.split_point(log, [1800.0]) is not None
    serial = _json(log, workers=1)
    assert _json(log, workers=2) == serial
    assert not joins


def test_a_time_window_and_a_branch_give_the_same_report_in_two_processes(generated, joins):
    def windowed(workers: int) -> bytes:
        context = Context(now=NOW, since=at("2023-11-25") / 1e9, until=at("2023-12-20") / 1e9, branch="main")
        built = build_report(generated, plugins.load(), [], context, lambda _: None, workers=workers,
                             cache=False)
        return encode_json(built)

    serial = windowed(1)
    assert b'"error": "' not in serial
    assert windowed(2) == serial
    assert joins


def test_a_log_of_few_big_segments_is_cut_inside_one_at_a_frame(tmp_path, joins):
    # An import's log: segments of many frames. The cut goes to the frame start nearest the middle, found
    # by the frames' time indexes, and both sides read their share of that segment.
    log = EventLog(tmp_path / "log", seal_bytes=256 << 10, frame_lines=300)  # one sealed segment, one live
    lines = [schema.encode(event) for event in eventgen().events(6000, seed=3, files=300)]
    for start in range(0, len(lines), 200):
        log.append(lines[start:start + 200])
    split = parallel.split_point(log, [1800.0])
    assert len(log.segments()) == 2 and split is not None and split.segment == 0 and split.offset > 0
    head, tail = _sides(log, split)
    assert head.found and tail.found and head.in_window + tail.in_window == 6000
    assert head.in_window > 1000 and tail.in_window > 1000
    serial = _json(log, workers=1, extra=True)
    assert _json(log, workers=2, extra=True) == serial
    assert "seqdigest" in joins and "heatmap" in joins
