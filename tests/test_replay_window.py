"""Time windows read through the log's time index (gitobs/log/eventlog.py): a windowed report over a log
whose frames carry the index is byte for byte the report over the same frames without it, though it
inflates only the frames the window overlaps. Times run out of order from frame to frame, as after an
import or a late spool."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from logfactory import at
from logfactory import eventgen as load_eventgen

from gitobs.log import eventlog, schema
from gitobs.log.eventlog import INDEX_MAGIC, EventLog
from gitobs.replay import parallel, plugins
from gitobs.replay.analysis import Context
from gitobs.replay.report import build_report
from gitobs.replay.sections import encode_json

NOW = at("2024-06-01") / 1e9


def _lines() -> list[bytes]:
    eventgen = load_eventgen()
    lines = [schema.encode(event) for event in eventgen.events(6000, seed=5, files=200)]
    chunks = [lines[start:start + 250] for start in range(0, len(lines), 250)]
    random.Random(5).shuffle(chunks)  # out of order from frame to frame
    return [line for chunk in chunks for line in chunk]


def _strip(path: Path) -> None:
    """Rewrite a segment as gitobs wrote it before the index: its data frames alone."""
    data, kept, start = path.read_bytes(), [], 0
    while start < len(data):
        assert data.startswith(INDEX_MAGIC, start)
        size = int.from_bytes(data[start + 4:start + 8], "little")
        length = int.from_bytes(data[start + 28:start + 32], "little")
        kept.append(data[start + 8 + size:start + 8 + size + length])
        start += 8 + size + length
    path.write_bytes(b"".join(kept))


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> tuple[EventLog, EventLog]:
    root = tmp_path_factory.mktemp("window")
    indexed = EventLog(root / "indexed", seal_bytes=48 << 10, sealed_level=3, frame_lines=250)
    lines = _lines()
    for start in range(0, len(lines), 250):
        indexed.append(lines[start:start + 250])
    shutil.copytree(indexed.directory, root / "plain")
    plain = EventLog(root / "plain")
    for path in plain.segments():
        _strip(path)
    assert len(indexed.segments()) >= 4
    return indexed, plain


def _report(log: EventLog, workers: int, **context) -> bytes:
    built = build_report(log, plugins.load(), [], Context(now=NOW, **context), lambda _: None, workers=workers,
                         cache=False)
    return encode_json(built)


WINDOWS = [{"since": at("2024-03-01") / 1e9}, {"until": at("2023-11-01") / 1e9},
           {"since": at("2023-12-01") / 1e9, "until": at("2024-01-15") / 1e9},
           {"since": at("2024-02-01") / 1e9, "path": "src"}, {"since": at("2024-01-01") / 1e9, "branch": "main"},
           {"since": at("2030-01-01") / 1e9}]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("context", WINDOWS)
def test_a_windowed_report_is_the_same_with_the_index_as_without(logs, workers, context, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    indexed, plain = logs
    expected = _report(plain, workers, **context)
    assert b'"error": "' not in expected
    assert _report(indexed, workers, **context) == expected


def test_a_window_inflates_only_the_frames_it_overlaps(logs, monkeypatch):
    indexed, plain = logs
    inflated: list[int] = []
    original = eventlog._decode_frame
    monkeypatch.setattr(eventlog, "_decode_frame", lambda data, start: inflated.append(start) or original(data, start))
    _report(indexed, 1)
    everything = len(inflated)
    inflated.clear()
    _report(indexed, 1, since=at("2030-01-01") / 1e9)
    assert everything >= 20 and inflated == []  # an empty window reads no frame at all
    inflated.clear()
    _report(plain, 1, since=at("2030-01-01") / 1e9)
    assert len(inflated) == everything  # without the index, every frame
