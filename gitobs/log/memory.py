"""An event log held in memory, for events that must not touch the disk (a bundle being made or replayed):
the reading side of EventLog, which is all replay needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

FRAME_LINES = 8192  # as sealed segments hold them


class MemoryLog:
    def __init__(self, lines: list[bytes], identity: str | None = None) -> None:
        # What the lines are, for the report cache: a digest of the verified bundles they came from (None:
        # lines of no bundle, never cached).
        self.identity = identity
        self.frames = [b"".join(line + b"\n" for line in lines[start:start + FRAME_LINES])
                       for start in range(0, len(lines), FRAME_LINES)]

    def segments(self) -> list[Path]:
        return []  # nothing on disk: replay stays in one process

    def size_bytes(self) -> int:
        return sum(map(len, self.frames))

    def iter_contents(self, on_corruption=None, start: int = 0, stop: int | None = None,
                      window: tuple[int, int] | None = None) -> Iterator[bytes]:
        yield from self.frames  # no time index: every frame, which readers filter line by line

    def iter_lines(self, on_corruption=None, window: tuple[int, int] | None = None) -> Iterator[bytes]:
        for frame in self.frames:
            yield from frame.split(b"\n")[:-1]
