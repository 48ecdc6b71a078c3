"""Tests for gitobs.log.eventlog on real files: round trips, sealing, damage, repair, crashes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gitobs.log import eventlog
from gitobs.log.eventlog import (
    FRAME_MAGIC,
    INDEX_MAGIC,
    Corruption,
    EventLog,
    Repaired,
    window_micros,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def event(i: int) -> bytes:
    return json.dumps({"seq": i, "kind": "commit", "msg": f"event number {i}"}).encode()


def append_events(log: EventLog, start: int, count: int, per_append: int = 1) -> list[bytes]:
    written = [event(i) for i in range(start, start + count)]
    for k in range(0, count, per_append):
        log.append(written[k : k + per_append])
    return written


def collect(log: EventLog) -> tuple[list[bytes], list[Corruption]]:
    found: list[Corruption] = []
    return list(log.iter_lines(found.append)), found


def corruptions(repaired: list[Repaired]) -> list[Corruption]:
    return [item.corruption for item in repaired]


def frame_offsets(path: Path) -> list[int]:
    """Offsets of the frames we wrote, each behind its time index (our small test lines never contain a magic)."""
    data = path.read_bytes()
    offsets, at = [], data.find(INDEX_MAGIC)
    while at >= 0:
        offsets.append(at)
        at = data.find(INDEX_MAGIC, at + 1)
    return offsets


# ----- round trips ---------------------------------------------------------------------------


def test_round_trip_across_many_appends(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "log")
    written = append_events(log, 0, 50) + append_events(log, 50, 150, per_append=7)
    lines, found = collect(log)
    assert lines == written and found == []
    assert [len(frame) for frame in log.iter_frames()][:3] == [1, 1, 1]
    assert EventLog(tmp_path / "log").last_lines(3) == written[-3:]
    assert log.size_bytes() == sum(p.stat().st_size for p in log.segments()) > 0


def test_empty_append_is_a_noop(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "log")
    log.append([])
    assert log.segments() == [] and log.size_bytes() == 0
    assert list(log.iter_lines()) == [] and log.check() == [] and log.last_lines(5) == []


def test_newline_in_line_is_rejected(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "log")
    with pytest.raises(ValueError):
        log.append([b'{"a":1}', b'{"b":\n2}'])
    assert list(log.iter_lines()) == []


# ----- sealing -------------------------------------------------------------------------------


def test_sealing_at_threshold(tmp_path: Path) -> None:
    log = EventLog(tmp_path, seal_bytes=4096, frame_lines=40)
    written: list[bytes] = []
    while len(log.segments()) < 2:
        written += append_events(log, len(written), 1)
    first, live = log.segments()
    assert live.name == "00000002.jsonl.zst" and live.stat().st_size == 0
    assert first.stat().st_size < 4096  # recompressed below the threshold it crossed
    frames = list(log.iter_frames())
    assert [line for frame in frames for line in frame] == written
    assert max(len(frame) for frame in frames) <= 40 and len(frames) < len(written)
    more = append_events(log, len(written), 5)
    assert [p.name for p in log.segments()] == [first.name, live.name]
    assert live.stat().st_size > 0
    assert list(log.iter_lines()) == written + more and log.check() == []


def test_sealed_segment_compresses_better(tmp_path: Path) -> None:
    # seal_bytes large enough to observe the unsealed state first.
    log = EventLog(tmp_path, seal_bytes=1 << 30)
    written = append_events(log, 0, 300)
    unsealed_per_line = log.size_bytes() / len(written)
    sealing = EventLog(tmp_path, seal_bytes=1)  # the next append crosses the threshold
    written += append_events(sealing, 300, 1)
    sealed_per_line = log.segments()[0].stat().st_size / len(written)
    assert sealed_per_line < unsealed_per_line / 3
    assert list(log.iter_lines()) == written


def test_leftover_seal_temp_ignored_then_cleaned(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    written = append_events(log, 0, 10)
    leftover = tmp_path / "00000001.jsonl.zst.seal-tmp"
    leftover.write_bytes(b"half a recompressed segment")
    assert list(log.iter_lines()) == written and log.check() == []
    assert log.segments() == [tmp_path / "00000001.jsonl.zst"]
    fresh = EventLog(tmp_path)
    written += append_events(fresh, 10, 1)
    assert not leftover.exists()
    assert list(fresh.iter_lines()) == written


# ----- damage --------------------------------------------------------------------------------


def test_torn_tail_reported_repaired_and_appendable(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    written = append_events(log, 0, 20, per_append=4)
    live = log.segments()[-1]
    last_frame = frame_offsets(live)[-1]
    os.truncate(live, live.stat().st_size - 3)

    lines, found = collect(log)
    assert lines == written[:-4]
    assert len(found) == 1 and found[0].torn_tail and found[0].offset == last_frame
    assert found[0].describe() == f"{live.name} at byte {last_frame}: {found[0].reason}"
    assert log.check() == found

    assert corruptions(log.repair()) == found
    assert live.stat().st_size == last_frame
    assert log.check() == [] and log.repair() == []
    more = append_events(EventLog(tmp_path), 100, 3)
    assert list(log.iter_lines()) == written[:-4] + more
    assert log.segments() == [live]


def test_corruption_in_the_middle_skips_only_the_bad_frame(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    written = append_events(log, 0, 10)
    live = log.segments()[-1]
    offsets = frame_offsets(live)
    data = bytearray(live.read_bytes())
    for i in range(offsets[4] + 8, offsets[5] - 2):
        data[i] ^= 0x5A
    live.write_bytes(bytes(data))

    lines, found = collect(log)
    assert lines == written[:4] + written[5:]
    assert [(c.offset, c.torn_tail) for c in found] == [(offsets[4], False)]
    damaged = data[offsets[4] : offsets[5]]
    [repaired] = log.repair()  # the frame alone is taken out: truncating would lose the good frames after it
    assert repaired.corruption == found[0] and repaired.kept.read_bytes() == damaged
    assert collect(log) == (written[:4] + written[5:], [])
    assert live.stat().st_size == len(data) - len(damaged)


def test_append_after_torn_tail_starts_new_segment(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    written = append_events(log, 0, 6, per_append=2)
    damaged = log.segments()[-1]
    os.truncate(damaged, damaged.stat().st_size - 5)
    damaged_bytes = damaged.read_bytes()

    more = append_events(EventLog(tmp_path), 50, 4)
    assert [p.name for p in log.segments()] == [damaged.name, "00000002.jsonl.zst"]
    assert damaged.read_bytes() == damaged_bytes  # evidence kept, nothing written after it
    lines, found = collect(log)
    assert lines == written[:-2] + more
    assert len(found) == 1 and found[0].segment == damaged.name and found[0].torn_tail
    assert corruptions(log.repair()) == found and log.check() == []  # still torn once later segments exist
    assert not list(tmp_path.glob("*.abandoned"))  # repaired, it is as sealed: later damage there is not torn
    assert collect(log) == (written[:-2] + more, [])


def sealed_log(directory: Path, frame_lines: int, frames: int) -> tuple[EventLog, list[bytes]]:
    """A log whose first segment is sealed into `frames` frames of `frame_lines` lines, and a live one."""
    log = EventLog(directory, seal_bytes=1 << 30, frame_lines=frame_lines)
    written = append_events(log, 0, frame_lines * frames - 1, per_append=frame_lines)
    log.seal_bytes = 1  # this append seals
    written += append_events(log, len(written), 1)
    log.seal_bytes = 1 << 30
    written += append_events(log, len(written), 3)
    assert [p.name for p in log.segments()] == ["00000001.jsonl.zst", "00000002.jsonl.zst"]
    return log, written


def damage(path: Path, start: int, stop: int) -> bytes:
    """Flip bits in [start, stop) of a file; the bytes as they were."""
    data = bytearray(path.read_bytes())
    for i in range(start, stop):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_flipped_bit_in_a_sealed_segments_last_frame_costs_that_frame_only(tmp_path: Path) -> None:
    log, written = sealed_log(tmp_path / "log", frame_lines=500, frames=4)
    sealed = log.segments()[0]
    last_frame = frame_offsets(sealed)[-1]
    data = bytearray(sealed.read_bytes())
    data[last_frame + 40] ^= 0x01
    sealed.write_bytes(bytes(data))

    found = log.check()
    assert [(c.segment, c.offset, c.torn_tail) for c in found] == [(sealed.name, last_frame, False)]
    [repaired] = log.repair()  # not a torn tail: a seal wrote the whole file at once
    assert repaired.corruption == found[0] and repaired.kept.read_bytes() == data[last_frame:]
    assert repaired.kept.parent == tmp_path / "log.damaged"
    lines, after = collect(log)
    assert after == [] and log.check() == []
    assert len(lines) == len(written) - 500 + repaired.salvaged
    assert lines[:1500] == written[:1500] and lines[-3:] == written[-3:]  # the other frames, all of them
    assert set(lines) <= set(written)
    more = append_events(EventLog(tmp_path / "log"), 10_000, 2)
    assert list(log.iter_lines())[-2:] == more


def test_repair_salvages_the_lines_a_damaged_frame_inflates_to_before_its_damage(tmp_path: Path) -> None:
    log, written = sealed_log(tmp_path / "log", frame_lines=6000, frames=1)  # ~300 KiB: three zstd blocks
    sealed = log.segments()[0]
    damage(sealed, sealed.stat().st_size - 200, sealed.stat().st_size - 100)
    [repaired] = log.repair()
    assert repaired.corruption.reason == "corrupt frame data" and repaired.salvaged >= 2000
    assert list(log.iter_lines()) == written[: repaired.salvaged] + written[6000:]


def test_a_frame_whose_checksum_alone_is_damaged_is_salvaged_whole(tmp_path: Path) -> None:
    log, written = sealed_log(tmp_path / "log", frame_lines=300, frames=2)
    sealed = log.segments()[0]
    damage(sealed, sealed.stat().st_size - 1, sealed.stat().st_size)  # the last frame's checksum
    [repaired] = log.repair()
    assert repaired.corruption.reason == "checksum mismatch" and repaired.salvaged == 300
    assert collect(log) == (written, [])


def test_repair_hands_the_selector_the_good_lines_around_a_frame_whose_magic_was_hit(tmp_path: Path) -> None:
    log, written = sealed_log(tmp_path / "log", frame_lines=100, frames=3)
    sealed = log.segments()[0]
    middle = sealed.read_bytes().find(FRAME_MAGIC, frame_offsets(sealed)[1])  # the data frame, past its index
    damage(sealed, middle, middle + 1)
    seen = []

    def select(lines: list[bytes], before: bytes | None, after: bytes | None) -> list[bytes]:
        seen.append((before, after))
        return lines

    [repaired] = log.repair(select)
    assert repaired.corruption.reason == "not a zstd frame" and seen == [(written[99], written[200])]
    assert repaired.salvaged == 100 and collect(log) == (written, [])  # its magic restored, it inflates whole


def test_a_repair_interrupted_before_its_rename_leaves_the_segment_as_it_was(tmp_path: Path,
                                                                          monkeypatch) -> None:
    log, written = sealed_log(tmp_path / "log", frame_lines=100, frames=3)
    sealed = log.segments()[0]
    damaged = damage(sealed, frame_offsets(sealed)[1] + 20, frame_offsets(sealed)[1] + 30)

    def crash(*args) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        log.repair()
    monkeypatch.undo()
    assert sealed.read_bytes() == damaged  # the rewrite never replaced it half-written
    append_events(EventLog(tmp_path / "log"), 1000, 1)  # the next writer clears the leftover
    assert not list((tmp_path / "log").glob("*.seal-tmp"))
    assert len(log.repair()) == 1 and log.check() == []
    assert collect(log)[0][:100] == written[:100]


@pytest.mark.parametrize(
    "contents",
    [
        b"",
        b"not zstd at all\n",
        FRAME_MAGIC,
        FRAME_MAGIC * 50,
        FRAME_MAGIC + b"\xff" * 40,
        bytes(random.Random(7).getrandbits(8) for _ in range(5000)),
        (FRAME_MAGIC + bytes(random.Random(8).getrandbits(8) for _ in range(60))) * 30,
    ],
    ids=["empty", "text", "magic", "magics", "bad-header", "random", "random-frames"],
)
def test_garbage_never_raises(tmp_path: Path, contents: bytes) -> None:
    (tmp_path / "00000001.jsonl.zst").write_bytes(contents)
    log = EventLog(tmp_path)
    lines, found = collect(log)
    assert lines == []
    assert (found == []) == (contents == b"")
    assert all(c.torn_tail for c in found[-1:])
    assert log.check() == found and log.last_lines(3) == []
    written = append_events(log, 0, 2)
    assert list(log.iter_lines()) == written


def test_frame_without_trailing_newline_is_corrupt(tmp_path: Path) -> None:
    import zstandard

    log = EventLog(tmp_path)
    written = append_events(log, 0, 2)
    segment = log.segments()[-1]
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    with open(segment, "ab") as out:
        out.write(compressor.compress(b'{"no":"newline"}'))
        out.write(compressor.compress(event(2) + b"\n"))
    lines, found = collect(log)
    assert lines == written + [event(2)]
    assert len(found) == 1 and not found[0].torn_tail and "newline" in found[0].reason


def test_oversized_frame_is_reported_not_decompressed(tmp_path: Path) -> None:
    # Single-segment header with an 8-byte content size of 300 MiB, then one empty raw block.
    header = FRAME_MAGIC + bytes([0xE0]) + (300 << 20).to_bytes(8, "little")
    (tmp_path / "00000001.jsonl.zst").write_bytes(header + b"\x01\x00\x00")
    found = EventLog(tmp_path).check()
    assert [(c.offset, c.reason, c.torn_tail) for c in found] == [(0, "frame larger than 256 MiB", True)]


# ----- last_lines ----------------------------------------------------------------------------


def test_last_lines_across_segment_boundary(tmp_path: Path) -> None:
    log = EventLog(tmp_path, seal_bytes=2048)
    written: list[bytes] = []
    while len(log.segments()) < 3:
        written += append_events(log, len(written), 3, per_append=3)
    assert log.segments()[-1].stat().st_size == 0  # a seal just rolled over
    written += append_events(log, len(written), 2)
    n = 2 + 5  # the live segment holds 2 lines: this reaches into the sealed one before
    assert log.last_lines(n) == written[-n:]
    assert log.last_lines(1) == written[-1:]
    assert log.last_lines(len(written) + 10) == written


# ----- crashes -------------------------------------------------------------------------------

CHILD = r"""
import sys
from pathlib import Path
from gitobs.log.eventlog import EventLog

directory, run = Path(sys.argv[1]), int(sys.argv[2])
log = EventLog(directory, seal_bytes=3000, frame_lines=16)
stamp = lambda i: b"20%02d-01-01T00:00:00.000Z" % ((i * 7919) % 90 + 10)  # times out of order, frame to frame
i = 0
print("ready", flush=True)
while True:
    batch = [b'{"run":%d,"i":%d,"pad":"%s","ts":"%s"}' % (run, i + k, b"x" * (i % 23), stamp(i + k))
             for k in range(1 + i % 3)]
    log.append(batch)
    i += len(batch)
"""


def test_sigkill_during_appends_loses_nothing_but_a_torn_tail(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    for run in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(run)], stdout=subprocess.PIPE, env=env
        )
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.02, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()

    log = EventLog(tmp_path)
    lines, found = collect(log)
    seen = [json.loads(line) for line in lines]
    keys = [(entry["run"], entry["i"]) for entry in seen]
    assert keys == sorted(set(keys)), f"seed {seed}: out of order or duplicated"
    for entry in seen:  # every line is exactly one the child wrote
        assert set(entry) == {"run", "i", "pad", "ts"} and entry["pad"] in {"x" * k for k in range(23)}
    for run in range(5):
        numbers = [i for r, i in keys if r == run]
        assert numbers == list(range(len(numbers))), f"seed {seed}: gap in run {run}"
    # A SIGKILL can at worst cut an append short: only truncated frames, never bad checksums.
    assert all(c.reason.startswith("torn frame") for c in found), (seed, found)
    assert all(c.torn_tail for c in found)
    assert len(log.segments()) > 2, "the children should have sealed segments"
    # The time index of every frame written or sealed before the kill still tells a window's lines true.
    window = (at("2040-01-01"), at("2050-01-01"))
    assert in_window(log.iter_lines(window=window_micros(*window)), *window) == in_window(lines, *window)


# ----- time index ------------------------------------------------------------------------------


def at(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()


def stamped(i: int, day: str) -> bytes:
    return json.dumps({"seq": i, "ts": f"{day}T12:00:00.000Z"}).encode()


def in_window(lines, since: float, until: float) -> list[bytes]:
    return [line for line in lines if since <= at(json.loads(line)["ts"][:10]) + 43200 < until]


def timed_log(directory: Path) -> tuple[EventLog, list[bytes]]:
    """Sealed frames of 10 lines whose times are out of order from frame to frame (an import, a late spool),
    and one frame whose lines span years."""
    log = EventLog(directory, seal_bytes=1 << 30, frame_lines=10)
    days = ["2024-03-01", "2021-05-01", "2024-03-02", "2019-01-01", "2024-03-03"]
    written = [stamped(10 * f + k, day) for f, day in enumerate(days) for k in range(10)]
    written += [stamped(50, "2010-01-01"), stamped(51, "2030-01-01")]
    for start in range(0, len(written), 10):
        log.append(written[start : start + 10])
    log._seal(log.segments()[-1])
    return log, written


def without_index(path: Path) -> bytes:
    """The segment as gitobs wrote it before the time index: its data frames alone."""
    data, kept, at_ = path.read_bytes(), [], 0
    while at_ < len(data):
        assert data.startswith(INDEX_MAGIC, at_)
        size = int.from_bytes(data[at_ + 4 : at_ + 8], "little")
        length = int.from_bytes(data[at_ + 28 : at_ + 32], "little")
        kept.append(data[at_ + 8 + size : at_ + 8 + size + length])
        at_ += 8 + size + length
    return b"".join(kept)


WINDOWS = [("2024-03-02", "2024-03-03"), ("2021-01-01", "2022-01-01"), ("2025-01-01", "2026-01-01"),
           ("2000-01-01", "2100-01-01"), ("2029-01-01", "2031-01-01")]


def test_a_window_reads_only_the_frames_it_overlaps_out_of_order_times_and_all(tmp_path: Path, monkeypatch) -> None:
    log, written = timed_log(tmp_path / "log")
    inflated = []
    original = eventlog._decode_frame
    monkeypatch.setattr(eventlog, "_decode_frame", lambda data, start: inflated.append(start) or original(data, start))
    for since, until in WINDOWS:
        inflated.clear()
        read = list(log.iter_lines(window=window_micros(at(since), at(until))))
        assert in_window(read, at(since), at(until)) == in_window(written, at(since), at(until))
        assert len(inflated) < 6 or until == "2100-01-01"
    inflated.clear()
    assert len(list(log.iter_lines(window=window_micros(at("2024-03-02"), at("2024-03-03"))))) == 12
    assert len(inflated) == 2  # the frame of that day and the one spanning years: the others jumped over
    assert list(log.iter_lines(window=window_micros(at("2025-01-01"), at("2026-01-01")))) == written[50:]


def test_segments_without_an_index_are_read_whole(tmp_path: Path) -> None:
    log, written = timed_log(tmp_path / "log")
    segment = log.segments()[0]
    segment.write_bytes(without_index(segment))  # a segment written before the index
    for since, until in WINDOWS:
        assert list(log.iter_lines(window=window_micros(at(since), at(until)))) == written
    assert log.check() == []
    log.append([stamped(60, "2024-03-02")])  # later appends are indexed; the old frames stay as they are
    assert list(log.iter_lines(window=window_micros(at("2026-01-01"), at("2027-01-01")))) == written


@pytest.mark.parametrize("where", [0, 5, 9, 13, 20, 27, 30, 33])
def test_a_damaged_index_hides_no_event(tmp_path: Path, where: int) -> None:
    log, written = timed_log(tmp_path / "log")
    segment = log.segments()[0]
    second = frame_offsets(segment)[1]
    damage(segment, second + where, second + where + 1)  # magic, size, tag, times, length or CRC
    window = window_micros(at("2021-01-01"), at("2022-01-01"))  # the second frame's
    assert in_window(log.iter_lines(window=window), at("2021-01-01"), at("2022-01-01")) == written[10:20]
    assert [c.offset for c in log.check()] == [second]  # reported, and repair takes out the index alone
    log.repair()
    assert list(log.iter_lines()) == written and log.check() == []


def test_an_index_that_does_not_fit_its_frame_or_is_newer_is_not_used(tmp_path: Path) -> None:
    log, written = timed_log(tmp_path / "log")
    segment = log.segments()[0]
    second = frame_offsets(segment)[1]
    data = bytearray(segment.read_bytes())
    payload = bytearray(data[second + 8 : second + 32])
    payload[20:24] = (int.from_bytes(payload[20:24], "little") - 1).to_bytes(4, "little")  # a wrong length
    data[second + 8 : second + 36] = bytes(payload) + zlib.crc32(payload).to_bytes(4, "little")
    segment.write_bytes(bytes(data))
    window = window_micros(at("1990-01-01"), at("1991-01-01"))  # outside every frame
    assert list(log.iter_lines(window=window)) == written[10:20]  # its frame decoded, never skipped
    payload[3] = 9  # a version this gitobs does not know: its range is not trusted
    payload[20:24] = (int.from_bytes(payload[20:24], "little") + 1).to_bytes(4, "little")
    data[second + 8 : second + 36] = bytes(payload) + zlib.crc32(payload).to_bytes(4, "little")
    segment.write_bytes(bytes(data))
    assert list(log.iter_lines(window=window)) == written[10:20]
    assert list(log.iter_lines()) == written and log.check() == []


def test_a_line_without_a_readable_time_keeps_its_frame_in_every_window(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "log")
    log.append([stamped(0, "2024-01-01"), b'{"seq": 1, "ts": "yesterday"}'])
    log.append([stamped(2, "2024-01-01"), b"not json"])
    log.append([stamped(3, "2024-01-01")])
    window = window_micros(at("2025-01-01"), None)
    read = [json.loads(line)["seq"] for line in log.iter_lines(window=window) if line.startswith(b"{")]
    assert read == [0, 1, 2]  # not the third frame's


SEAL_KILLER = r"""
import os, signal, sys
from pathlib import Path
from gitobs.log import eventlog

directory, where = Path(sys.argv[1]), sys.argv[2]
log = eventlog.EventLog(directory, seal_bytes=1 << 30, frame_lines=10)
lines = [b'{"seq":%d,"ts":"20%02d-06-01T00:00:00.000Z"}' % (i, 10 + (i * 37) % 80) for i in range(95)]
for start in range(0, 95, 5):
    log.append(lines[start:start + 5])
written = [0]
if where == "writing":  # killed after the first frames of the rewrite are written
    real = eventlog._sealed_frame
    def sealed_frame(compressor, batch):
        written[0] += 1
        if written[0] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(compressor, batch)
    eventlog._sealed_frame = sealed_frame
else:  # killed with the rewrite complete, before its rename
    eventlog.os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
log._seal(log.segments()[-1])
"""


@pytest.mark.parametrize("where", ["writing", "renaming"])
def test_sigkill_during_a_seal_loses_nothing_and_the_index_still_holds(tmp_path: Path, where: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run([sys.executable, "-c", SEAL_KILLER, str(tmp_path), where], env=env)
    assert child.returncode == -signal.SIGKILL
    assert list(tmp_path.glob("*.seal-tmp"))  # the rewrite left behind; the segment as it was
    log = EventLog(tmp_path)
    lines, found = collect(log)
    assert len(lines) == 95 and found == []
    window = (at("2040-01-01"), at("2060-01-01"))
    assert in_window(log.iter_lines(window=window_micros(*window)), *window) == in_window(lines, *window)
    log.append([stamped(95, "2050-01-01")])  # the next writer clears the leftover and goes on
    assert not list(tmp_path.glob("*.seal-tmp")) and len(list(log.iter_lines())) == 96


FULL_DISK = r"""
import resource, signal, sys
from pathlib import Path
from gitobs.log.eventlog import EventLog

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
log = EventLog(Path(sys.argv[1]))
log.append([b'{"seq":%d}' % i for i in range(3)])
size = log.segments()[-1].stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, resource.RLIM_INFINITY))  # room for part of a frame
try:
    log.append([b'{"seq":%d,"pad":"%s"}' % (i, b"%d" % i * 50) for i in range(3, 200)])
except OSError as error:
    print(error.errno)
"""


def test_an_append_the_disk_cannot_hold_leaves_no_torn_frame(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], env=env, capture_output=True, text=True)
    assert child.returncode == 0 and child.stdout.strip() == "27", child.stderr  # EFBIG
    log = EventLog(tmp_path)
    assert log.check() == [] and len(list(log.iter_lines())) == 3
    log.append([b'{"seq":3}'])  # the same segment goes on: nothing to abandon
    assert [path.name for path in log.segments()] == ["00000001.jsonl.zst"] and len(list(log.iter_lines())) == 4
