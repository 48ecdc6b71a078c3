"""The heatmap's kept state loads lazily (a record's pairs stay packed until read), and a record's pairs are
added up only when a bucket came twice."""

from __future__ import annotations

import msgspec
from gitobs_plugins import heatmap
from gitobs_plugins.heatmap import BUCKETS, LIMIT, RUN_SAMPLES, HeatmapAnalyzer
from logfactory import LogBuilder, at, eventgen

from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.log.read import EventFilter
from gitobs.log.schema import CommitCreated, FileChange, WorktreeSample
from gitobs.replay import plugins
from gitobs.replay.analysis import Context
from gitobs.replay.engine import Consumer, decoder_for, dispatch, read_batches, replay
from gitobs.replay.report import build_report
from gitobs.replay.sections import encode_json

NOW = at("2026-11-30") / 1e9


def _log(path, events: list[tuple[str, str, list[tuple]]]):
    builder = LogBuilder(path)
    for kind, when, files in events:
        changes = [FileChange(*change) for change in files]
        if kind == "commit":
            builder.add("commit.created", CommitCreated(sha="a" * 40, branch="main", parents=["1" * 40],
                                                        files=changes), when)
        else:
            builder.add("worktree.sample", WorktreeSample(files=changes), when, src="worktree")
    return builder.write()


def _fed(log, instance: HeatmapAnalyzer) -> HeatmapAnalyzer:
    consumer = Consumer("heatmap", instance, HeatmapAnalyzer.consumes, fields=HeatmapAnalyzer.fields)
    replay(log, [consumer], [], EventFilter(), print)
    assert consumer.error is None, consumer.error
    return instance


def _analyzer() -> HeatmapAnalyzer:
    return HeatmapAnalyzer(Context(now=NOW, utc_offset_s=0, options={"heatmap.top": "1"}))


EARLIER = [("commit", f"2026-11-0{day} 10:00", [(f"src/f{index}.py", day, 1) for index in range(5)])
           for day in range(2, 8)] + [("sample", "2026-11-05 11:00", [("src/f1.py", 3, 0), ("docs/a.md", 1, 0)])]
LATER = [("sample", "2026-11-09 09:00", [("src/f2.py", 2, 0)]), ("commit", "2026-11-10 09:00", [("src/f2.py", 4, 4)]),
         ("commit", "2026-11-03 09:00", [("docs/a.md", 1, 1)])]  # back in time: a bucket it had


def test_a_loaded_state_unpacks_only_what_a_report_or_new_events_touch(tmp_path):
    kept = _fed(_log(tmp_path / "earlier", EARLIER), _analyzer()).save_state()
    encoded = msgspec.msgpack.encode(kept)
    loaded = _analyzer()
    loaded.load_state(msgspec.msgpack.decode(encoded, type=HeatmapAnalyzer.state_type))
    assert all(record[LIMIT] == 0 for record in loaded.files.records.values())  # all still packed
    assert msgspec.msgpack.encode(loaded.save_state()) == encoded  # saved again as it came

    _fed(_log(tmp_path / "later", LATER), loaded)
    whole = _fed(_log(tmp_path / "all", EARLIER + LATER), _analyzer())
    assert msgspec.json.encode(loaded.result()) == msgspec.json.encode(whole.result())
    records = loaded.files.records
    # the new events' files (src/f2.py is also the one row shown: top 1) were unpacked; the others never were
    assert records["src/f2.py"][LIMIT] and records["docs/a.md"][LIMIT]
    assert [path for path, record in records.items() if not record[LIMIT]] == [f"src/f{i}.py" for i in (0, 1, 3, 4)]
    assert msgspec.msgpack.encode(loaded.save_state()) == msgspec.msgpack.encode(whole.save_state())


def _counted(record: list, buckets: list[int]) -> None:
    for bucket in buckets:
        heatmap._enter(record, bucket)
        record[RUN_SAMPLES] += 1
    heatmap._settle(record)


def test_pairs_are_added_up_only_when_a_bucket_came_twice():
    record = heatmap._new_record()
    history = record[BUCKETS]
    _counted(record, list(range(100)))  # 100 buckets in time order: past LIMIT (64 pairs), nothing to add up
    assert record[BUCKETS] is history and history[::2] == list(range(100)) and set(history[1::2]) == {1}
    assert record[LIMIT] >= len(history)
    _counted(record, [5] * 3 + list(range(100, 200)))  # bucket 5 again (3 events), then 100 more
    assert record[BUCKETS][::2] == list(range(200))  # past LIMIT again: added up, bucket 5 once
    assert record[BUCKETS][11] == 4 and sum(record[BUCKETS][1::2]) == 203


def test_a_record_counts_each_kind_and_bucket_exactly_across_settles():
    # The counts shown take the events in only when settled; each bucket's events are those since it began.
    record = heatmap._new_record()
    commit, discard, sample = heatmap.RUN_COMMITS, heatmap.RUN_DISCARDS, RUN_SAMPLES
    steps = [[(1, commit), (1, sample), (2, discard), (2, sample)], [(2, sample), (3, commit), (3, commit), (1, discard)]]
    for step in steps:
        for bucket, slot in step:
            if record[heatmap.OPEN] != bucket:
                heatmap._enter(record, bucket)
            record[slot] += 1
        heatmap._settle(record)
        heatmap._settle(record)  # a second settle adds nothing
    assert [record[heatmap.COMMITS], record[heatmap.DISCARDS], record[heatmap.SAMPLES]] == [3, 2, 3]
    assert heatmap._summed(heatmap._pairs(record[BUCKETS])) == {1: 3, 2: 3, 3: 2}


def test_what_the_tallies_keep_past_their_capacity_is_the_same_however_the_stream_is_batched(tmp_path, monkeypatch):
    # The report cache feeds the events after its checkpoint in other batches than a full replay does. The
    # tallies were folded at the end of each batch, so which files were kept, and with what counts, depended
    # on where the batches fell: a cached report differed from a full one once a log named more files than
    # the capacity.
    monkeypatch.setattr(HeatmapAnalyzer, "capacity", 6)
    events = [("commit", f"2026-11-{1 + index // 24:02d} {index % 24:02d}:00",
               [(f"src/f{index * 7 % 23}.py", 1, 0), (f"d{index % 5}/g{index % 11}.md", 2, 1)])
              for index in range(400)]
    log = _log(tmp_path / "log", events)
    shown = set()
    for size in (1, 7, 50, 100, 256, 1000):
        instance = _analyzer()
        consumer = Consumer("heatmap", instance, HeatmapAnalyzer.consumes, fields=HeatmapAnalyzer.fields)
        for batch in read_batches(log, decoder_for([consumer], EventFilter()), EventFilter(), print, batch_events=size):
            dispatch(batch, [consumer])
        assert consumer.error is None, consumer.error
        assert instance.files.folded
        shown.add(msgspec.json.encode(instance.result()))
    assert len(shown) == 1


def test_a_cached_report_past_the_capacity_is_the_full_replay(tmp_path, monkeypatch):
    monkeypatch.setattr(HeatmapAnalyzer, "capacity", 40)
    lines = [schema.encode(event) for event in eventgen().events(900, seed=5, files=3000)]  # paths in hundreds
    directory = tmp_path / "obs" / "log"
    writer = EventLog(directory, seal_bytes=8 << 10)

    def same() -> None:
        def built(use_cache: bool) -> bytes:
            return encode_json(build_report(EventLog(directory), plugins.load(), ["heatmap"], Context(now=NOW),
                                            print, workers=1, cache=use_cache))
        full = built(False)
        assert built(True) == full  # cold, or after new events
        assert built(True) == full  # warm

    for start in range(0, 600, 50):
        writer.append(lines[start:start + 50])
    assert len(writer.segments()) > 2
    same()
    for start in range(600, 900, 30):  # the cache's batches start where it stopped, a full replay's elsewhere
        writer.append(lines[start:start + 30])
        same()
