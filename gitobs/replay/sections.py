"""What an analyzer returns: typed blocks every renderer knows how to draw, and the report that holds them.

The JSON report is these structs encoded as they are (docs/plugins.md documents it). Every block has an
`id` that is stable across versions, for scripts that read the JSON. Cells hold plain numbers and strings:
no markup, no colour, no pre-formatted text.
"""

from __future__ import annotations

import msgspec

REPORT_FORMAT = 1  # bumped when a field changes meaning or goes away

Cell = str | int | float | None


class Block(msgspec.Struct, kw_only=True, tag_field="kind", omit_defaults=True):
    id: str  # stable machine name within its section: "by_file", "punchcard"
    title: str = ""


class Fact(msgspec.Struct, array_like=True):
    label: str
    value: Cell
    unit: str = ""  # "s", "commits", ...: shown after the value


class Facts(Block, tag="facts"):
    """A few labelled numbers."""

    items: list[Fact] = []


class Table(Block, tag="table"):
    columns: list[str]
    rows: list[list[Cell]] = []
    total_rows: int | None = None  # rows there were before the table was cut to its shown length


class Grid(Block, tag="grid"):
    """A heat grid: rows x columns of numbers (files x weeks, days x hours)."""

    row_labels: list[str]
    column_labels: list[str]
    cells: list[list[int | float]]  # cells[row][column]
    unit: str = ""


class Calendar(Block, tag="calendar"):
    """Counts per day from `first_day` (a Monday, YYYY-MM-DD), one after another: a GitHub-style year."""

    first_day: str
    counts: list[int]
    unit: str = ""


class Note(Block, tag="note"):
    text: str


AnyBlock = Facts | Table | Grid | Calendar | Note


class Section(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str  # the analyzer's name
    title: str
    plugin: str = ""  # the plugin that provided the analyzer
    blocks: list[AnyBlock] = []
    error: str | None = None  # the analyzer failed: this says how; blocks is empty


class Window(msgspec.Struct, kw_only=True, omit_defaults=True):
    since: str | None = None
    until: str | None = None
    path: str | None = None
    branch: str | None = None


class Report(msgspec.Struct, kw_only=True):
    format: int = REPORT_FORMAT
    now: str  # the moment the report is "as of" (`--now`), UTC
    utc_offset: str  # the offset local times (hours, days) are shown in: "+01:00"
    window: Window
    events: int  # events replayed after filtering (a daily rollup counts the raw events it replaced)
    sections: list[Section]
    rollup_days: int = 0  # days of the window that come from daily rollups (gitobs gc)
    warnings: list[str] = []


def encode_json(report: Report) -> bytes:
    """Deterministic: field order is declaration order and keys of plain dicts are sorted."""
    return msgspec.json.format(msgspec.json.encode(report, order="deterministic"), indent=2) + b"\n"
