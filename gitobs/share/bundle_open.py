"""Opening a bundle: untrusted input, read in memory and checked before anything uses it.

Refused, each with one line: anything but a regular file (a device, a pipe); a file that is not a zip; a
member name that is absolute, has `..`, a backslash or a drive, or is not one of the bundle's members (so
nothing is ever extracted or written anywhere); a symlink or a directory; a member over its size cap, by
its header or by what it actually inflates to (read in slices, stopped at the cap); a compression ratio no
real bundle has; events that inflate past EVENTS_RATIO times their size or EVENTS_CAP (stopped there, as a
stream), hold more than one line per EVENT_LINE_BYTES of that, or a line over LINE_CAP or nested deeper than
MAX_DEPTH; a missing member, or one whose
sha256 is not the manifest's; an unknown format version; malformed or too deeply nested JSON, or JSON of
more than MAX_JSON_VALUES values. Names inside
are data: every renderer shows them inert.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from gitobs.core.files import open_regular
from gitobs.core.repo import GitobsError
from gitobs.share.bundle import (
    BUNDLE_MEMBERS,
    CONFIG,
    ENVIRONMENT,
    EVENTS,
    FORMAT,
    MANIFEST,
    REPORT,
)

CAPS = {MANIFEST: 1 << 20, REPORT: 64 << 20, CONFIG: 1 << 20, ENVIRONMENT: 1 << 20, EVENTS: 256 << 20}
# Bytes of JSON lines the events may inflate to: EVENTS_RATIO times what they take in the zip (zstd level 19
# gives 7-9 on real events, ~40 on one type repeated with nothing but its time changing), at least
# EVENTS_FLOOR, and never past EVENTS_CAP (about 3.5 million events: years of heavy work).
EVENTS_RATIO = 100
EVENTS_FLOOR = 1 << 20
EVENTS_CAP = 1 << 30
LINE_CAP = 1 << 20  # one event line
# Event lines per byte the events may inflate to: an event is over 100 bytes, and in memory every line costs
# some 50 bytes besides its own, so a million 2-byte lines would take twenty times what their bytes do.
EVENT_LINE_BYTES = 64
MAX_RATIO = 200  # inflated / stored: zstd on event lines gives ~10, deflate on JSON ~20
MAX_DEPTH = 64  # JSON nesting
# Values in a JSON member (its commas and brackets, strings' included: errs on the safe side). A report holds a
# few thousand (30,000 events: 3,200), and in memory a value costs 30 to 60 bytes where `[],` takes 3.
MAX_JSON_VALUES = 1 << 20
LATEST_NOW = 32503680000  # 3000-01-01: a report's now past this is no real one
READ_SLICE = 1 << 16


class BundleError(GitobsError):
    pass


@dataclass
class Bundle:
    path: Path
    manifest: dict
    events: list[bytes]
    report: bytes
    config: dict
    environment: dict

    @property
    def events_digest(self) -> str:
        """The SHA-256 of its events, as the manifest lists it (checked against them when it was opened)."""
        return self.manifest["members"][EVENTS]


def open_bundle(path: Path) -> Bundle:
    with _regular_file(path) as handle:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise BundleError(f"{path} is not a bundle (not a zip file: {exc})") from None
        return _checked(archive, path)


def _checked(archive: zipfile.ZipFile, path: Path) -> Bundle:
    with archive:
        members = _members(archive, path)
        blobs = {name: _read(archive, info, path) for name, info in members.items()}
    manifest = _parse(blobs[MANIFEST], MANIFEST, path)
    _check_manifest(manifest, blobs, path)
    events = _lines(blobs[EVENTS], path)
    config, environment = (_parse(blobs[name], name, path) for name in (CONFIG, ENVIRONMENT))
    _parse(blobs[REPORT], REPORT, path)
    return Bundle(path, manifest, events, blobs[REPORT], config, environment)


def _regular_file(path: Path) -> BinaryIO:
    """`path` opened to read, if it is a regular file: a device (/dev/zero) or a pipe has no end a zip reader
    can seek to, and would be read without bound or waited on forever (core.files.open_regular)."""
    try:
        fd, _ = open_regular(path)
    except FileNotFoundError:
        raise BundleError(f"no such bundle: {path}") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot be read ({exc.strerror})") from None
    except ValueError:
        raise BundleError(f"{path} is not a regular file: a bundle is a .zip file") from None
    return os.fdopen(fd, "rb")


def _members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.split("/") or "\\" in name or ":" in name:
            raise BundleError(f"{path}: member {name!r} would escape (absolute, .. or a drive)")
        if stat.S_ISLNK(info.external_attr >> 16) or info.is_dir():
            raise BundleError(f"{path}: member {name!r} is a link or a directory")
        if name not in BUNDLE_MEMBERS:
            raise BundleError(f"{path}: unexpected member {name!r} (a bundle holds {', '.join(BUNDLE_MEMBERS)})")
        if name in found:
            raise BundleError(f"{path}: member {name!r} appears twice")
        if info.file_size > CAPS[name]:
            raise BundleError(f"{path}: member {name!r} is over its size cap ({CAPS[name]} bytes)")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 16:
            raise BundleError(f"{path}: member {name!r} inflates {info.file_size // info.compress_size}x: "
                              "a compression bomb, not a bundle")
        found[name] = info
    missing = [name for name in BUNDLE_MEMBERS if name not in found]
    if missing:
        raise BundleError(f"{path}: missing {', '.join(missing)}")
    return found


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    """The member's bytes, never more than its cap whatever its header says."""
    cap = CAPS[info.filename]
    parts, size = [], 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(READ_SLICE):
                size += len(chunk)
                if size > cap:
                    raise BundleError(f"{path}: member {info.filename!r} inflates past its cap ({cap} bytes)")
                parts.append(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise BundleError(f"{path}: member {info.filename!r} cannot be read: {exc}") from None
    return b"".join(parts)


_NOT_JSON_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def _parse(blob: bytes, name: str, path: Path) -> dict:
    if blob.count(b",") + blob.count(b"[") + blob.count(b"{") > MAX_JSON_VALUES:
        raise BundleError(f"{path}: {name} holds more than {MAX_JSON_VALUES} values (a report has thousands)")
    depth = deepest = 0
    for char in blob.translate(None, _NOT_JSON_BRACKETS):  # ints; brackets in strings too: errs on the safe side
        if char in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (0x5D, 0x7D):
            depth -= 1
    if deepest > MAX_DEPTH:
        raise BundleError(f"{path}: {name} is nested {deepest} deep (at most {MAX_DEPTH})")
    try:
        value = json.loads(blob)
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{path}: {name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BundleError(f"{path}: {name} is not a JSON object")
    return value


def _check_manifest(manifest: dict, blobs: dict[str, bytes], path: Path) -> None:
    version = manifest.get("format")
    if version != FORMAT:
        raise BundleError(f"{path}: bundle format {version!r} is not one this gitobs reads (format {FORMAT})")
    sums = manifest.get("members")
    if not isinstance(sums, dict):
        raise BundleError(f"{path}: the manifest lists no checksums")
    for name in BUNDLE_MEMBERS:
        if name == MANIFEST:
            continue
        expected = sums.get(name)
        if not isinstance(expected, str):
            raise BundleError(f"{path}: the manifest has no checksum for {name}")
        if hashlib.sha256(blobs[name]).hexdigest() != expected:
            raise BundleError(f"{path}: {name} does not match its checksum: changed or damaged")
    for key, kind in (("now", (int, float)), ("utc_offset_s", int), ("window", dict), ("events", int)):
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise BundleError(f"{path}: the manifest's {key} is missing or of the wrong type")
    if not 0 <= manifest["now"] <= LATEST_NOW or abs(manifest["utc_offset_s"]) > 14 * 3600:
        raise BundleError(f"{path}: the manifest's now or UTC offset is out of range")


def _lines(blob: bytes, path: Path) -> list[bytes]:
    """The event lines, inflated as a stream and refused as soon as they pass their cap (EVENTS_RATIO times
    `blob`, at most EVENTS_CAP), a line passes LINE_CAP or nests deeper than MAX_DEPTH: before any is
    decoded."""
    cap = min(EVENTS_CAP, max(EVENTS_FLOOR, EVENTS_RATIO * len(blob)))
    most_lines = cap // EVENT_LINE_BYTES
    reader = zstandard.ZstdDecompressor().stream_reader(blob)
    lines: list[bytes] = []
    pending, total = b"", 0
    try:
        while chunk := reader.read(READ_SLICE):
            total += len(chunk)
            if total > cap:
                raise BundleError(f"{path}: the events inflate past {cap} bytes ({len(blob)} in the zip): "
                                  "a compression bomb, not a bundle")
            pending += chunk
            end = pending.rfind(b"\n") + 1
            complete, pending = pending[:end], pending[end:]
            _check_lines(complete, path)
            lines += complete.split(b"\n")[:-1]
            if len(lines) > most_lines:
                raise BundleError(f"{path}: too many event lines for their size (over {most_lines}): "
                                  "not a bundle")
            if len(pending) > LINE_CAP:
                raise BundleError(f"{path}: an event line is over {LINE_CAP} bytes")
    except zstandard.ZstdError as exc:
        raise BundleError(f"{path}: the events are not a valid zstd stream ({exc})") from None
    if pending:
        raise BundleError(f"{path}: the events end in the middle of a line")
    return lines


def _check_lines(text: bytes, path: Path) -> None:
    """Whole lines: none over LINE_CAP (the longest is no longer than the text) nor nested too deep."""
    if len(text) > LINE_CAP and max(map(len, text.split(b"\n"))) > LINE_CAP:
        raise BundleError(f"{path}: an event line is over {LINE_CAP} bytes")
    if not _nesting_within(text, MAX_DEPTH):
        raise BundleError(f"{path}: an event line is nested more than {MAX_DEPTH} deep")


_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}\n")))


def _nesting_within(text: bytes, depth: int) -> bool:
    """Whether no line of `text` nests brackets more than about `depth` deep, in C: each pass of removing
    every innermost `[]` (braces made brackets, everything else but line ends dropped) peels one level, so
    what `depth` passes leave holds no pair; and no line is left with more than `depth` brackets it never
    closes. A line passed is nested at most 2 * `depth` deep, far from any decoder's recursion limit.
    Brackets in strings count too, which only errs on the safe side."""
    brackets = text.translate(_AS_BRACKETS, _NOT_BRACKETS)
    for _ in range(depth):
        if b"[]" not in brackets:
            break
        brackets = brackets.replace(b"[]", b"")
    return b"[]" not in brackets and b"[" * (depth + 1) not in brackets
