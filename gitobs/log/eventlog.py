"""Append-only event log: numbered segments of zstd frames holding JSON lines.

Layout (in production ``.git/obs/log/``): ``00000001.jsonl.zst``, ``00000002.jsonl.zst``, ...
Each segment is a concatenation of zstd frames, each frame holding whole ``\\n``-terminated lines.
The highest-numbered segment is the live one; lower ones are sealed and immutable.

Durability model: one append writes one checksummed frame and fsyncs it, so a crash can only leave a torn
frame at the very end of the live segment (a write that fails, on a full disk, is cut back). Readers skip
damage and resynchronise on the next frame magic, so one bad frame never hides the good ones after it. Repair
cuts only a live segment's torn tail off; other damage (a flipped bit in a sealed frame) is taken out of its
segment alone, with the lines that still decode from it written back. Every byte repair removes is kept first,
in ``log.damaged/`` next to the log.

Time index: each frame is written behind a small zstd skippable frame (zstd's own readers pass over it)
holding the true [min, max] of its lines' times and the data frame's length, under a CRC. A reader given a
time window jumps over the frames it excludes without inflating them. Nothing trusts an index blindly: one
that is damaged, of an unknown version, or does not end where a frame starts is not used, and its frame is
decoded as any other; frames without one (segments written before it) are always read.

Writers are assumed to be serialised by the caller (one appending process at a time).
"""

from __future__ import annotations

import itertools
import os
import re
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import zstandard

from gitobs.core.files import NO_FOLLOW, replace_with

__all__ = ["Corruption", "EventLog", "Repaired", "Selector", "json_objects"]

FRAME_MAGIC = b"\x28\xb5\x2f\xfd"
INDEX_MAGIC = b"\x5a\x2a\x4d\x18"  # a zstd skippable frame (0x184D2A5A), little-endian as zstd writes it
_SKIPPABLE = re.compile(rb"[\x50-\x5f]\x2a\x4d\x18")  # any of zstd's sixteen skippable magics
_MAGICS = re.compile(rb"\x28\xb5\x2f\xfd|[\x50-\x5f]\x2a\x4d\x18")
# tag, format version, min and max time (microseconds since the epoch), data frame length, CRC32 of the rest.
_INDEX = struct.Struct("<3sBqqI")
_INDEX_TAG = b"gto"
_INDEX_VERSION = 1
_INDEX_SIZE = 8 + _INDEX.size + 4  # skippable header (magic, size) + payload + CRC
_MAX_SKIPPABLE = 1 << 16  # a foreign skippable frame bigger than this is taken for damage, not jumped over
UNBOUNDED = (-(1 << 63), (1 << 63) - 1)  # a frame with a line whose time cannot be read: never skipped
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
MAX_FRAME_CONTENT = 256 << 20  # refuse to inflate more than this per frame (garbage or bombs)
_SEGMENT_NAME = re.compile(r"^(\d{8})\.jsonl\.zst$")
_SEAL_TMP_SUFFIX = ".seal-tmp"  # a seal's or a repair's rewrite before its rename
_ABANDONED_SUFFIX = ".abandoned"  # next to a segment a writer left because it was damaged while live
_SALVAGE_PIECE = 4096
_FEED_CHUNK = 1 << 20
# A frame inflates into one buffer of its declared size up to this (zstd's default, pieces of 128 KiB joined
# after, takes 10% longer); a bigger claim is inflated in those pieces, so a forged header can make this
# reserve at most that much address space, untouched.
_ONE_PIECE_MAX = 64 << 20
_ZSTD_PIECE = zstandard.DECOMPRESSION_RECOMMENDED_OUTPUT_SIZE
_ZSTD_BLOCK_MAX = 128 << 10
_MAX_FRAME_HEADER = 18
_TORN = "torn frame (file ends mid-frame)"
_CHECKSUM = "checksum mismatch"

CorruptionHandler = Callable[["Corruption"], None]
# The lines inflated from a damaged region, and the good lines just before and after it (None at a segment's
# edge) -> the ones to put back: a damaged frame can inflate into lines that parse but were never written.
Selector = Callable[[list[bytes], "bytes | None", "bytes | None"], list[bytes]]


@dataclass(frozen=True)
class Corruption:
    segment: str  # file name, e.g. "00000003.jsonl.zst"
    offset: int  # byte offset of the bad frame in that file
    reason: str  # short human text
    torn_tail: bool  # damage runs to the end of its segment (a crash mid-append): truncation fixes it

    def describe(self) -> str:
        return f"{self.segment} at byte {self.offset}: {self.reason}"


@dataclass(frozen=True)
class Repaired:
    corruption: Corruption
    salvaged: int  # lines that still decoded from the damaged bytes, written back in their place
    kept: Path  # the damaged bytes, as they were

    @property
    def doubtful(self) -> bool:
        """The frame inflated whole but failed its checksum: one of the salvaged lines may hold the damage."""
        return self.salvaged > 0 and self.corruption.reason == _CHECKSUM


@dataclass(frozen=True)
class _Frame:
    start: int
    end: int  # offset just past the frame: where the next frame starts
    content: bytes  # whole lines, each ending in b"\n"

    @property
    def lines(self) -> list[bytes]:
        return self.content.split(b"\n")[:-1]


def _segment_name(number: int) -> str:
    return f"{number:08d}.jsonl.zst"


def segment_number(path: Path) -> int:
    match = _SEGMENT_NAME.match(path.name)
    assert match is not None, path
    return int(match.group(1))


def _fsync_directory(directory: Path) -> None:
    # A new or renamed directory entry is only durable once the directory itself is synced.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _cut_back(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass  # then it is a torn tail, as after a crash: reported, and repaired by doctor --repair


def _compressed_size_bound(content_size: int) -> int:
    # Worst case of the zstd format: header + raw blocks (3-byte header each) + checksum.
    blocks = content_size // _ZSTD_BLOCK_MAX + 1
    return _MAX_FRAME_HEADER + content_size + 3 * blocks + 4


def _decode_frame(data: memoryview, start: int) -> _Frame | str:
    """Decode the frame at ``start``; return it, or the reason it is bad."""
    if data[start : start + 4] != FRAME_MAGIC:
        return "not a zstd frame"
    header = data[start : start + _MAX_FRAME_HEADER]
    try:
        content_size = zstandard.get_frame_parameters(header).content_size
    except zstandard.ZstdError:
        return _TORN if len(data) - start < _MAX_FRAME_HEADER else "bad frame header"
    if content_size == zstandard.CONTENTSIZE_UNKNOWN:
        return "frame without content size"
    if content_size > MAX_FRAME_CONTENT:
        return "frame larger than 256 MiB"
    # The first feed normally covers the whole frame, which keeps the copy made for
    # unused_data proportional to this frame rather than to the rest of the segment.
    piece_size = content_size if 0 < content_size <= _ONE_PIECE_MAX else _ZSTD_PIECE
    decompressor = zstandard.ZstdDecompressor().decompressobj(write_size=piece_size)
    parts: list[bytes] = []
    fed_to = start
    decoded_size = 0
    chunk = _compressed_size_bound(content_size)
    try:
        while fed_to < len(data) and not decompressor.eof:
            piece = data[fed_to : fed_to + chunk]
            fed_to += len(piece)
            parts.append(decompressor.decompress(piece))
            chunk = _FEED_CHUNK
            decoded_size += len(parts[-1])
            if decoded_size > content_size:  # never inflate past what the header promised
                return "content size mismatch"
    except zstandard.ZstdError as error:
        return _CHECKSUM if "checksum" in str(error).lower() else "corrupt frame data"
    if not decompressor.eof:
        return _TORN
    content = b"".join(parts)
    if decoded_size != content_size:
        return "content size mismatch"
    if not content.endswith(b"\n"):
        return "frame does not end with a newline"
    end = fed_to - len(decompressor.unused_data)
    return _Frame(start, end, content)


class _Stamp(msgspec.Struct):
    ts: datetime


_STAMPS = msgspec.json.Decoder(_Stamp)


def time_range(content: bytes) -> tuple[int, int]:
    """The true [min, max] of the times of a frame's lines, in microseconds (UNBOUNDED when one cannot be read:
    such a frame is always decoded, so its bad line is counted as it was before)."""
    try:
        stamps = [(stamp.ts - _EPOCH) // _MICROSECOND for stamp in _STAMPS.decode_lines(content)]
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, TypeError, OverflowError):
        return UNBOUNDED
    return (min(stamps), max(stamps)) if stamps else UNBOUNDED


def indexed_frame(frame: bytes, content: bytes) -> bytes:
    """`frame` (the compressed `content`) behind its time index."""
    low, high = time_range(content)
    payload = _INDEX.pack(_INDEX_TAG, _INDEX_VERSION, low, high, len(frame))
    return INDEX_MAGIC + struct.pack("<I", len(payload) + 4) + payload + struct.pack("<I", zlib.crc32(payload)) + frame


@dataclass(frozen=True)
class _Index:
    end: int  # where the skippable frame ends (its data frame starts)
    low: int
    high: int
    frame_end: int  # where its data frame ends
    known: bool  # ours, intact, of this version: the range can be trusted


def _read_index(data: memoryview, start: int) -> _Index | str:
    """The skippable frame at `start`, or why it is damage. A foreign or newer one is passed over, unused."""
    if len(data) - start < 8:
        return _TORN
    size = int.from_bytes(data[start + 4 : start + 8], "little")
    end = start + 8 + size
    if end > len(data):
        return _TORN if size <= _MAX_SKIPPABLE else "bad skippable frame size"
    if data[start : start + 4] != INDEX_MAGIC or size != _INDEX.size + 4:
        if size > _MAX_SKIPPABLE or not _at_frame_edge(data, end):
            return "bad skippable frame"
        return _Index(end, *UNBOUNDED, end, known=False)
    payload = data[start + 8 : end - 4]
    if zlib.crc32(payload) != int.from_bytes(data[end - 4 : end], "little"):
        return "time index checksum mismatch"
    tag, version, low, high, length = _INDEX.unpack(payload)
    if tag != _INDEX_TAG or version != _INDEX_VERSION:  # another writer's, or a later format: not used
        return _Index(end, *UNBOUNDED, end, known=False)
    return _Index(end, low, high, end + length, known=True)


def _at_frame_edge(data: memoryview, position: int) -> bool:
    return position == len(data) or _MAGICS.match(data, position) is not None


def _next_magic(data: bytes, position: int) -> int:
    found = _MAGICS.search(data, position)
    return -1 if found is None else found.start()


def window_micros(since: float | None, until: float | None) -> tuple[int, int] | None:
    """A time window ([since, until) in seconds, None: open) in microseconds, widened by one against rounding."""
    if since is None and until is None:
        return None
    low = UNBOUNDED[0] if since is None else int(since * 1e6) - 1
    high = UNBOUNDED[1] if until is None else int(until * 1e6) + 2
    return low, high


def _outside(index: _Index, window: tuple[int, int] | None) -> bool:
    return window is not None and index.known and (index.high < window[0] or index.low >= window[1])


def _scan(data: bytes, segment: str, unsealed: bool, window: tuple[int, int] | None = None
          ) -> Iterator[_Frame | Corruption]:
    """Yield the valid frames and the damaged regions of one segment, in file order. `unsealed`: the live
    segment, or one a writer left damaged (only there can damage at the end be a crash mid-append). Frames
    whose time index puts them wholly outside `window` (window_micros) are passed over, not even inflated."""
    view = memoryview(data)
    position = 0
    bad_start: int | None = None  # start of the damaged region being skipped
    bad_reason = ""
    while position < len(data):
        decoded: _Frame | _Index | str
        index: _Index | None = None
        if _SKIPPABLE.match(data, position):
            index = decoded = _read_index(view, position)
            if isinstance(index, _Index):
                if _outside(index, window) and _at_frame_edge(view, index.frame_end):
                    decoded = _Frame(position, index.frame_end, b"")  # passed over: no lines
                elif index.known or _SKIPPABLE.match(data, index.end) is None:
                    decoded = _decode_frame(view, index.end)
                    if isinstance(decoded, _Frame):
                        decoded = replace(decoded, start=position)
                        if index.known and decoded.end != index.frame_end:
                            decoded = "time index does not match its frame"
                else:  # a foreign skippable frame followed by another: go on from there
                    position = index.end
                    continue
        else:
            decoded = _decode_frame(view, position)
        if isinstance(decoded, _Frame):
            if bad_start is not None:
                yield Corruption(segment, bad_start, bad_reason, torn_tail=False)
                bad_start = None
            if decoded.content:
                yield decoded
            position = decoded.end
            continue
        # Candidates that fail while resynchronising belong to the same damaged region.
        if bad_start is None:
            bad_start, bad_reason = position, decoded
        position = _next_magic(data, position + 1)
        if position < 0:
            break
    if bad_start is not None:
        # Damage that runs to the end of an unsealed segment is a crash mid-append there, even if later
        # appends went on in a new segment: cutting it off loses no valid frame. A seal writes a whole new
        # file, so damage at the end of a sealed one is damage like any other.
        yield Corruption(segment, bad_start, bad_reason, torn_tail=unsealed)


@dataclass(frozen=True)
class _Span:
    """A good frame's place, and its first and last lines: what repair needs of it."""

    start: int
    end: int
    first: bytes
    last: bytes


def _span(frame: _Frame) -> _Span:
    content = frame.content
    first = content[: content.find(b"\n")]
    return _Span(frame.start, frame.end, first, content[content.rfind(b"\n", 0, len(content) - 1) + 1 : -1])


def _around(items: list[_Span | Corruption], index: int) -> tuple[_Span | None, _Span | None]:
    """The good frames around a damaged region (two regions never follow each other: _scan makes them one)."""
    before = items[index - 1] if index > 0 else None
    after = items[index + 1] if index + 1 < len(items) else None
    assert not isinstance(before, Corruption) and not isinstance(after, Corruption)
    return before, after


def _salvage(region: bytes) -> list[bytes]:
    """The whole lines inflated from each frame start in a damaged region, up to where each fails."""
    if _SKIPPABLE.match(region) and len(region) >= 8:  # its time index, intact or not, holds no lines
        size = int.from_bytes(region[4:8], "little")
        region = region[8 + size :] if size <= _MAX_SKIPPABLE else region
    region = FRAME_MAGIC + region[4:]  # it starts where a frame should: the damage may be in its magic
    lines: list[bytes] = []
    start = 0
    while start >= 0:
        lines += _inflate_until_damage(region[start:]).split(b"\n")[:-1]
        start = region.find(FRAME_MAGIC, start + 1)
    return lines


def _inflate_until_damage(data: bytes) -> bytes:
    """What the frame at the start of `data` inflates to before its decoder fails (a checksum mismatch fails
    only once all of it is out). A failing call returns nothing of what it inflated, so the piece that
    failed is fed again, after the ones before it, one byte at a time."""
    inflated, failed_at = _feed(zstandard.ZstdDecompressor().decompressobj(), data, _SALVAGE_PIECE)
    if failed_at is None:
        return inflated
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    before, _ = _feed(decompressor, data[:failed_at], _SALVAGE_PIECE)
    last, _ = _feed(decompressor, data[failed_at : failed_at + _SALVAGE_PIECE], 1)
    return before + last


def _feed(decompressor, data: bytes, piece: int) -> tuple[bytes, int | None]:
    """Feed `data` `piece` bytes at a time until its frame ends or fails: what came out, and where the
    piece that failed starts (None: none failed)."""
    parts: list[bytes] = []
    size = 0
    for start in range(0, len(data), piece):
        if decompressor.eof or size > MAX_FRAME_CONTENT:
            break
        try:
            parts.append(decompressor.decompress(data[start : start + piece]))
        except zstandard.ZstdError:
            return b"".join(parts), start
        size += len(parts[-1])
    return b"".join(parts), None


def json_objects(lines: list[bytes], before: bytes | None, after: bytes | None) -> list[bytes]:
    """The default Selector: the lines that parse as JSON objects."""
    return [line for line in lines if _is_json_object(line)]


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(msgspec.json.decode(line), dict)
    except msgspec.DecodeError:
        return False


def _replace_file(path: Path, pieces: list[bytes]) -> None:
    """Write `pieces` as the new content of `path`: a new file, synced, renamed over it."""
    replace_with(path, path.with_name(path.name + _SEAL_TMP_SUFFIX), pieces, sync_dir=_fsync_directory)


def _keep(directory: Path, segment: str, offset: int, region: bytes) -> Path:
    """Put damaged bytes aside, durably, under a name no earlier repair used."""
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in itertools.count():
        kept = directory / f"{segment}@{offset}" if attempt == 0 else directory / f"{segment}@{offset}.{attempt}"
        try:
            fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            continue
    try:
        _write_all(fd, region)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_directory(directory)
    return kept


class EventLog:
    def __init__(
        self,
        directory: Path,
        *,
        seal_bytes: int = 1 << 20,
        level: int = 3,
        sealed_level: int = 19,
        frame_lines: int = 8192,
    ) -> None:
        self.directory = Path(directory)
        self.seal_bytes = seal_bytes
        self.level = level
        self.sealed_level = sealed_level
        self.frame_lines = frame_lines
        self._live: Path | None = None  # chosen on the first append, after verification

    # ----- layout -------------------------------------------------------------------------

    def segments(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if _SEGMENT_NAME.match(p.name)]
        return sorted(found, key=segment_number)

    def end_mark(self) -> list:
        """[newest segment's name, its size]: changes with every append, seal or repair."""
        segments = self.segments()
        if not segments:
            return []
        try:
            return [segments[-1].name, segments[-1].stat().st_size]
        except FileNotFoundError:
            return []

    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.segments())

    def _segment_path(self, number: int) -> Path:
        return self.directory / _segment_name(number)

    # ----- writing ------------------------------------------------------------------------

    def append(self, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        for line in lines:
            if b"\n" in line:
                raise ValueError("an event line must not contain a newline")
        live = self._live if self._live is not None else self._open_for_first_append()
        content = b"".join(line + b"\n" for line in lines)
        frame = indexed_frame(self._compressor(self.level).compress(content), content)
        created = not live.exists()
        fd = os.open(live, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NO_FOLLOW, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                _write_all(fd, frame)
                os.fsync(fd)
            except OSError:
                _cut_back(fd, start)  # a write that failed (a full disk) leaves no torn frame to repair
                raise
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if created:
            _fsync_directory(self.directory)
        if size >= self.seal_bytes:
            self._seal(live)

    def _open_for_first_append(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob("*" + _SEAL_TMP_SUFFIX):
            leftover.unlink()  # a seal or repair interrupted before os.replace; the segment is intact
        segments = self.segments()
        if not segments:
            self._live = self._segment_path(1)
        elif segments[-1].is_symlink() or self._has_corruption(segments[-1]):
            # Never write after garbage nor destroy evidence: check/repair report it later. Nor through a
            # link (a copied .git's, pointing at a file of the user's).
            _mark_abandoned(segments[-1])
            self._live = self._segment_path(segment_number(segments[-1]) + 1)
        else:
            self._live = segments[-1]
        return self._live

    def _has_corruption(self, segment: Path) -> bool:
        scanned = _scan(segment.read_bytes(), segment.name, unsealed=True)
        return any(isinstance(item, Corruption) for item in scanned)

    def _compressor(self, level: int) -> zstandard.ZstdCompressor:
        return zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)

    def _seal(self, segment: Path) -> None:
        data = segment.read_bytes()
        scanned = list(_scan(data, segment.name, unsealed=True))
        if not any(isinstance(item, Corruption) for item in scanned):
            self._recompress(segment, (item.lines for item in scanned if isinstance(item, _Frame)))
        else:  # leave the damaged bytes as they are, for check/repair to report
            _mark_abandoned(segment)
        # Creating the next (empty) segment now keeps "highest-numbered is live" true on disk.
        next_segment = self._segment_path(segment_number(segment) + 1)
        os.close(os.open(next_segment, os.O_WRONLY | os.O_CREAT, 0o644))
        _fsync_directory(self.directory)
        self._live = next_segment

    def _recompress(self, segment: Path, frames: Iterator[list[bytes]]) -> None:
        """Rewrite ``segment`` as fewer, larger, better-compressed frames, atomically."""
        compressor = self._compressor(self.sealed_level)
        temp = segment.with_name(segment.name + _SEAL_TMP_SUFFIX)
        pending: list[bytes] = []
        with open(temp, "wb") as out:
            for lines in frames:
                pending.extend(lines)
                while len(pending) >= self.frame_lines:
                    batch, pending = pending[: self.frame_lines], pending[self.frame_lines :]
                    out.write(_sealed_frame(compressor, batch))
            if pending:
                out.write(_sealed_frame(compressor, pending))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, segment)
        _fsync_directory(self.directory)

    # ----- reading ------------------------------------------------------------------------

    def _scan_all(self, start: int = 0, stop: int | None = None, window: tuple[int, int] | None = None,
                  after: int = 0, before: int | None = None) -> Iterator[_Frame | Corruption]:
        # One segment in memory at a time; each frame is decoded on demand.
        segments = self.segments()
        chosen = range(len(segments))[start:stop]
        for index in chosen:
            data = segments[index].read_bytes()
            first = after if index == chosen[0] else 0
            last = before if before is not None and index == chosen[-1] else len(data)
            for item in _scan(data[first:last], segments[index].name, _unsealed(segments, index), window):
                yield replace(item, offset=item.offset + first) if first and isinstance(item, Corruption) else item

    def iter_contents(self, on_corruption: CorruptionHandler | None = None, start: int = 0,
                      stop: int | None = None, window: tuple[int, int] | None = None, after: int = 0,
                      before: int | None = None) -> Iterator[bytes]:
        """Each valid frame's text, undivided: for readers that parse many lines in one call. `start` and
        `stop` pick segments by position, as in a slice of segments(); `after` and `before` are byte offsets
        of frame starts (frame_starts) in the first and the last of them, to begin and to end there. With
        `window` (window_micros), frames whose time index puts them wholly outside it are left out: the lines
        that remain are a superset of the window's, and readers still filter each line."""
        for item in self._scan_all(start, stop, window, after, before):
            if isinstance(item, _Frame):
                yield item.content
            elif on_corruption is not None:
                on_corruption(item)

    def iter_contents_from(self, place: Sequence, on_corruption: CorruptionHandler | None = None
                           ) -> Iterator[tuple[list, bytes]]:
        """Each valid frame's text from `place` ([segment name, byte offset], as end_mark() gives or this
        yields) on, with the place just past it: a reader that keeps the last place reads each frame once.
        A seal rewrites a segment, so a place in one that is no longer the newest means its start; a place
        the log does not have (renumbered by a rewrite) means the log's start."""
        segments = self.segments()
        names = [path.name for path in segments]
        first = names.index(place[0]) if place and place[0] in names else 0
        offset = int(place[1]) if place and first == len(names) - 1 and place[0] == names[first] else 0
        for index in range(first, len(segments)):
            start = offset if index == first else 0
            with open(segments[index], "rb") as handle:
                handle.seek(start)
                data = handle.read()
            if start and data and not _MAGICS.match(data):
                start, data = 0, segments[index].read_bytes()  # truncated or replaced since: from its start
            for item in _scan(data, names[index], _unsealed(segments, index)):
                if isinstance(item, _Frame):
                    yield [names[index], start + item.end], item.content
                elif on_corruption is not None:
                    on_corruption(Corruption(item.segment, start + item.offset, item.reason, item.torn_tail))

    def iter_frames(self, on_corruption: CorruptionHandler | None = None, window: tuple[int, int] | None = None
                    ) -> Iterator[list[bytes]]:
        for content in self.iter_contents(on_corruption, window=window):
            yield content.split(b"\n")[:-1]

    def iter_lines(self, on_corruption: CorruptionHandler | None = None, window: tuple[int, int] | None = None
                   ) -> Iterator[bytes]:
        for lines in self.iter_frames(on_corruption, window):
            yield from lines

    def last_lines(self, n: int) -> list[bytes]:
        """The last ``n`` valid lines, reading segments backwards only as far as needed."""
        if n <= 0:
            return []
        collected: list[bytes] = []
        segments = self.segments()
        for index in range(len(segments) - 1, -1, -1):
            segment = segments[index]
            tail: deque[bytes] = deque(maxlen=n - len(collected))
            for item in _scan(segment.read_bytes(), segment.name, _unsealed(segments, index)):
                if isinstance(item, _Frame):
                    tail.extend(item.lines)
            collected = list(tail) + collected
            if len(collected) >= n:
                break
        return collected

    # ----- integrity ----------------------------------------------------------------------

    @property
    def damaged_dir(self) -> Path:
        """Where repair keeps the bytes it takes out of the log: beside it, so a gc's swap leaves them."""
        return self.directory.with_name(self.directory.name + ".damaged")

    def _scan_for_damage(self) -> Iterator[tuple[Path, bytes, list[_Span | Corruption]]]:
        """Each damaged segment, its bytes and its scan (of the frames, only their places and edge lines)."""
        segments = self.segments()
        for index, segment in enumerate(segments):
            data = segment.read_bytes()
            items = [_span(item) if isinstance(item, _Frame) else item
                     for item in _scan(data, segment.name, _unsealed(segments, index))]
            if any(isinstance(item, Corruption) for item in items):
                yield segment, data, items

    def check(self) -> list[Corruption]:
        return [item for _, _, items in self._scan_for_damage() for item in items if isinstance(item, Corruption)]

    def repair(self, select: Selector = json_objects, before: Callable[[], None] | None = None) -> list[Repaired]:
        """Take all damage out of the log and report it: a torn tail is cut off (the writer that was cut
        short writes its events again); any other damaged region is replaced by the lines that still decode
        from it and `select` keeps. The segment is rewritten atomically, after its damaged bytes are kept in
        damaged_dir. `before` is called once, when damage is found, before anything is changed. The caller
        holds the writers' lock."""
        repaired: list[Repaired] = []
        for index, (segment, data, items) in enumerate(self._scan_for_damage()):
            if index == 0 and before is not None:
                before()
            repaired += self._repair_segment(segment, data, items, select)
            _abandoned_mark(segment).unlink(missing_ok=True)  # clean now: later damage is not a torn append
        return repaired

    def _repair_segment(self, segment: Path, data: bytes, items: list[_Span | Corruption],
                        select: Selector) -> list[Repaired]:
        pieces: list[bytes] = []
        repaired: list[Repaired] = []
        for index, item in enumerate(items):
            if isinstance(item, _Span):
                pieces.append(data[item.start : item.end])  # good frames stay byte for byte
                continue
            before, after = _around(items, index)
            region = data[item.offset : after.start if after else len(data)]
            kept = _keep(self.damaged_dir, segment.name, item.offset, region)
            around = (before.last if before else None, after.first if after else None)
            salvaged = [] if item.torn_tail else select(_salvage(region), *around)
            if salvaged:
                content = b"".join(line + b"\n" for line in salvaged)
                pieces.append(indexed_frame(self._compressor(self.sealed_level).compress(content), content))
            repaired.append(Repaired(item, len(salvaged), kept))
        _replace_file(segment, pieces)
        return repaired


def _sealed_frame(compressor: zstandard.ZstdCompressor, lines: list[bytes]) -> bytes:
    content = b"".join(line + b"\n" for line in lines)
    return indexed_frame(compressor.compress(content), content)


def frame_starts(path: Path) -> list[int]:
    """Where the frames of a segment start, from their time indexes alone (nothing inflated): up to the first
    frame without an intact one (all of them in a segment written by this gitobs), after the first at 0."""
    try:
        view = memoryview(path.read_bytes())
    except OSError:
        return [0]
    starts, position = [0], 0
    while position < len(view) and INDEX_MAGIC == view[position : position + 4]:
        index = _read_index(view, position)
        if not isinstance(index, _Index) or not index.known or not _at_frame_edge(view, index.frame_end):
            break
        position = index.frame_end
        if position < len(view):
            starts.append(position)
    return starts


def _unsealed(segments: list[Path], index: int) -> bool:
    return index == len(segments) - 1 or _abandoned_mark(segments[index]).exists()


def _abandoned_mark(segment: Path) -> Path:
    return segment.with_name(segment.name + _ABANDONED_SUFFIX)


def _mark_abandoned(segment: Path) -> None:
    """Remember that `segment` was live when a writer moved on from its damage: its tail may be torn."""
    os.close(os.open(_abandoned_mark(segment), os.O_WRONLY | os.O_CREAT | NO_FOLLOW, 0o644))
    _fsync_directory(segment.parent)
