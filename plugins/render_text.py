"""`--format text`: the report for a terminal, drawn with rich.

Also the home of the drawing arithmetic the md and html renderers share (cell text, heat levels, calendar
layout, label placement), so every format shows the same numbers and the same levels.

Names from the log are data: every string from the report goes through `inert` into a rich `Text`, never
into a markup string, so neither terminal escapes nor rich markup in a branch name reach the terminal.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from rich import box
from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.style import Style
from rich.table import Table as RichTable
from rich.text import Text

from gitobs.plugin import (
    AnyBlock,
    Calendar,
    Cell,
    Facts,
    Grid,
    Note,
    Renderer,
    Report,
    Section,
    Table,
    Window,
    hookimpl,
    inert,
)

# ---------------------------------------------------------------------------------------------------------
# Shared by the text, md and html renderers.

LEVELS = 5  # heat levels 0..4, like GitHub's contribution graph: 0 is "none", 4 is "the block's max"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NONE_TEXT = "-"  # a cell with no value


def heat_level(value: float, top: float) -> int:
    """0 for nothing, else 1..4 by the value's share of the block's maximum (any activity shows)."""
    if value <= 0 or top <= 0:
        return 0
    return min(LEVELS - 1, math.ceil((LEVELS - 1) * value / top))


def cell_text(value: Cell) -> str:
    """A cell as plain text: floats to at most 3 decimals without trailing zeros, strings made inert."""
    if value is None:
        return NONE_TEXT
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, int):
        return str(value)
    return inert(value)


def with_unit(value: Cell, unit: str) -> str:
    text = cell_text(value)
    return f"{text} {inert(unit)}" if unit and value is not None else text


def fact_text(label: str, value: Cell, unit: str) -> str:
    """A fact's value beside its label: the unit is left out when the label already says it ("commits  11",
    not "commits  11 commits")."""
    return cell_text(value) if unit and unit in label.split() else with_unit(value, unit)


def is_number(value: Cell) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_columns(block: Table) -> list[bool]:
    """Columns whose cells are all numbers (or empty): shown right-aligned."""
    flags = []
    for index in range(len(block.columns)):
        values = [row[index] for row in block.rows if index < len(row) and row[index] is not None]
        flags.append(bool(values) and all(is_number(v) for v in values))
    return flags


def row_cells(block: Table, row: Sequence[Cell]) -> list[Cell]:
    """A row padded (or cut) to the table's columns, so a short row from a plugin still draws."""
    return [row[i] if i < len(row) else None for i in range(len(block.columns))]


def zero_columns(block: Table) -> list[int]:
    """Numeric columns that hold 0 in every row: text and Markdown leave them out (and say so); JSON keeps them.
    Only while two numeric columns stay: a figure against another (this week, last week) keeps both."""
    if not block.rows:
        return []
    numeric = numeric_columns(block)
    zero = [index for index, flag in enumerate(numeric)
            if flag and all(cell in (0, None) for cell in (row_cells(block, row)[index] for row in block.rows))]
    return zero if sum(numeric) - len(zero) >= 2 else []


def zero_rows(block: Table) -> list[int]:
    """Rows whose numeric cells are all 0 or empty: text and Markdown leave them out. Only in tables of two
    numeric columns or more (counts by category); a table with one is a list of things (a revert and its age
    of 0 h) whose rows are there for what they name."""
    numeric = [index for index, flag in enumerate(numeric_columns(block)) if flag]
    if len(numeric) < 2:
        return []
    return [number for number, row in enumerate(block.rows)
            if all(cell in (0, None) for cell in (row_cells(block, row)[index] for index in numeric))]


def zero_rows_text(hidden: list[int]) -> str | None:
    if not hidden:
        return None
    return f"{len(hidden)} row{'s' if len(hidden) > 1 else ''} with 0 in every column not shown"


def zero_columns_text(block: Table, hidden: list[int]) -> str | None:
    if not hidden:
        return None
    return f"not shown, 0 in every row: {', '.join(inert(block.columns[index]) for index in hidden)}"


def shown_rows_text(block: Table) -> str | None:
    if block.total_rows is not None and block.total_rows > len(block.rows):
        return f"showing {len(block.rows)} of {block.total_rows} rows"
    return None


def window_text(window: Window) -> str:
    parts = [f"{name} {inert(value)}" for name, value in
             (("since", window.since), ("until", window.until), ("path", window.path), ("branch", window.branch))
             if value is not None]
    return ", ".join(parts) or "everything recorded"


def header_items(report: Report) -> list[tuple[str, str]]:
    # `gitobs scan` says how many events it recorded; each scan that recorded some also writes one gitobs.scan
    # event of its own, which the report counts like any other.
    items = [("now", inert(report.now)), ("local times", f"UTC{inert(report.utc_offset)}"),
             ("window", window_text(report.window)),
             ("events", f"{report.events} (with gitobs's own scan records, which gitobs scan does not count)")]
    if report.rollup_days:
        items.append(("rollups", f"{report.rollup_days} days from daily rollups: the heatmap, hesitation and "
                                 "counts include them, the other sections see raw events only"))
    return items


DATASET = "dataset"  # a block id's start: rows for programs (the HTML dashboard's filters), not for reading


def for_reading(sections: list[Section]) -> list[Section]:
    """Text and markdown leave out a section made only of datasets; JSON and HTML keep it."""
    return [section for section in sections
            if not (section.blocks and all(block.id.startswith(DATASET) for block in section.blocks))]


# Rows that sum many files: they are drawn against the scale of the others and never set it, or every real
# row would be the palest shade. Their cells above the scale's top are drawn at the top level.
SCALE_LEFT_OUT = ("(other)", "(files beyond the cap)")


def grid_top(block: Grid) -> float:
    """The largest cell of the rows that set the scale (all rows, when only left-out ones have cells)."""
    rows = [row for label, row in zip(block.row_labels, block.cells) if label not in SCALE_LEFT_OUT]
    top = max((max(row, default=0) for row in rows), default=0)
    return top if top > 0 else max((max(row, default=0) for row in block.cells), default=0)


def shown_grid_rows(block: Grid) -> list[int]:
    """The rows with something in them: a row that is 0 everywhere is left out of text and Markdown. Rows
    that are the days of the week (the punchcard) are an axis, like time: a quiet Sunday stays."""
    if tuple(block.row_labels) == WEEKDAYS:
        return list(range(min(len(block.cells), len(block.row_labels))))
    return [index for index, row in enumerate(block.cells) if index < len(block.row_labels) and any(row)]


def hidden_rows_text(block: Grid, shown: list[int]) -> str | None:
    hidden = len(block.row_labels) - len(shown)
    return f"{hidden} row{'s' if hidden > 1 else ''} with nothing in any column not shown" if hidden > 0 else None


# Time columns a grid may be coarsened to, finest first: a label's form says its period.
PERIODS = (("day", re.compile(r"\d{4}-\d{2}-\d{2}")), ("week", re.compile(r"\d{4}-W\d{2}")),
           ("month", re.compile(r"\d{4}-\d{2}")), ("quarter", re.compile(r"\d{4}-Q[1-4]")),
           ("year", re.compile(r"\d{4}")))


def period_of(labels: Sequence[str]) -> int | None:
    """The index in PERIODS of the period every label names, None when they are not all one period's."""
    for index, (_, pattern) in enumerate(PERIODS):
        if labels and all(pattern.fullmatch(label) for label in labels):
            return index
    return None


def coarser_label(label: str, period: int) -> str:
    """The label of the next coarser period holding this one (a week goes to its Monday's month)."""
    if period == 0:
        year, week, _ = date.fromisoformat(label).isocalendar()
        return f"{year}-W{week:02d}"
    if period == 1:
        monday = date.fromisocalendar(int(label[:4]), int(label[6:]), 1)
        return f"{monday.year}-{monday.month:02d}"
    if period == 2:
        return f"{label[:4]}-Q{(int(label[5:]) - 1) // 3 + 1}"
    return label[:4]


def coarsened(block: Grid, period: int) -> Grid:
    """The grid with its time columns summed into the next coarser period (columns stay in time order)."""
    labels: list[str] = []
    groups: list[list[int]] = []
    for index, label in enumerate(block.column_labels):
        key = coarser_label(label, period)
        if not labels or labels[-1] != key:
            labels.append(key)
            groups.append([])
        groups[-1].append(index)
    cells = [[sum(row[i] for i in group if i < len(row)) for group in groups] for row in block.cells]
    return Grid(id=block.id, title=block.title, row_labels=block.row_labels, column_labels=labels, cells=cells,
                unit=block.unit)


def fit_period(block: Grid, room: int) -> tuple[Grid, str | None]:
    """A time grid whose columns do not fit `room` characters (one each) summed into coarser periods (day,
    week, month, quarter, year) until they do, and a sentence saying so; other grids as they are."""
    period = period_of(block.column_labels)
    if period is None or len(block.column_labels) <= room:
        return block, None
    first, count = period, len(block.column_labels)
    while len(block.column_labels) > room and period < len(PERIODS) - 1:
        block, period = coarsened(block, period), period + 1
    return block, (f"by {PERIODS[period][0]}: {count} {PERIODS[first][0]}s do not fit {room} columns, "
                   f"summed into {len(block.column_labels)} (a wider --width or COLUMNS shows finer ones)")


def grid_summary(block: Grid) -> str:
    return f"max {with_unit(grid_top(block), block.unit)}"


@dataclass(frozen=True)
class CalendarLayout:
    """A calendar as weekday rows (Mon..Sun) x week columns, GitHub style."""

    first: date
    lead: int  # empty cells before `first` in the first week (0 when first_day is a Monday)
    weeks: int
    cells: list[list[int | None]]  # cells[weekday][week]: the day's count, None outside the calendar
    months: list[tuple[int, str]]  # (week, "Nov"): where each month's first shown week is


def calendar_layout(block: Calendar) -> CalendarLayout:
    first = date.fromisoformat(block.first_day)
    lead = first.weekday()
    weeks = (lead + len(block.counts) + 6) // 7
    cells: list[list[int | None]] = [[None] * weeks for _ in range(7)]
    for index, count in enumerate(block.counts):
        cells[(lead + index) % 7][(lead + index) // 7] = count
    months: list[tuple[int, str]] = []
    for week in range(weeks):  # a week belongs to the month of its first shown day
        month = (first + timedelta(days=max(0, week * 7 - lead))).month
        if not months or months[-1][1] != MONTHS[month - 1]:
            months.append((week, MONTHS[month - 1]))
    return CalendarLayout(first=first, lead=lead, weeks=weeks, cells=cells, months=months)


def calendar_day(block: Calendar, index: int) -> str:
    return (date.fromisoformat(block.first_day) + timedelta(days=index)).isoformat()


def calendar_summary(block: Calendar) -> str:
    """Total, active days and the busiest day (the first one, on ties)."""
    counts = block.counts
    total = sum(counts)
    if total <= 0:
        return f"nothing on {len(counts)} days"
    top = max(counts)
    active = sum(1 for count in counts if count > 0)
    busiest = calendar_day(block, counts.index(top))
    return (f"total {with_unit(total, block.unit)} on {active} of {len(counts)} days; "
            f"busiest {busiest} ({with_unit(top, block.unit)})")


def place_labels(labels: Sequence[tuple[float, str]], limit: float, char_width: float = 1,
                 gap: float = 1) -> list[tuple[float, str]]:
    """Axis labels (start position, text) that fit without overlapping, ending by `limit`.

    Placed from the right, so the latest labels win: a partial first month gives way to the next.
    """
    placed: list[tuple[float, str]] = []
    bound = limit
    for position, text in reversed(labels):
        if position + len(text) * char_width <= bound:
            placed.append((position, text))
            bound = position - gap
    return placed[::-1]


# ---------------------------------------------------------------------------------------------------------
# The terminal renderer.

COLOURS = ("#2d333b", "#0e4429", "#006d32", "#26a641", "#39d353")  # GitHub's dark ramp: readable on both
RAMP = "·░▒▓█"  # the same levels as characters, when there is no colour
LABEL_MAX = 24  # row labels (paths) are cut to this, keeping their end
CELL_MAX = 11  # a grid cell widens up to this to fit its column label ("2026-11-02")
PLAIN_WIDTH = 100


MIN_WIDTH = 20
MAX_WIDTH = 1000  # wider is no terminal's: --width 1000000000 would draw rules of a billion characters


def text_width(explicit: int | None, terminal: bool) -> int:
    """--width, else COLUMNS when set (piped too), else the terminal's width, else PLAIN_WIDTH (piped output
    is no terminal: its width is not asked); always within MIN_WIDTH..MAX_WIDTH."""
    if explicit is not None:
        return min(MAX_WIDTH, max(MIN_WIDTH, explicit))
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return min(MAX_WIDTH, max(MIN_WIDTH, int(columns)))
    return min(MAX_WIDTH, max(MIN_WIDTH, shutil.get_terminal_size((PLAIN_WIDTH, 24)).columns)) if terminal \
        else PLAIN_WIDTH


class TextRenderer(Renderer):
    format = "text"
    suffix = ".txt"
    width: int | None = None  # `gitobs report --width N` sets it on its own copy

    def render(self, report: Report, color: bool) -> str:
        width = text_width(self.width, color)
        out = io.StringIO()
        console = Console(file=out, force_terminal=color, no_color=not color, width=width, markup=False,
                          highlight=False, emoji=False, color_system="auto" if color else None,
                          legacy_windows=False)
        # Background ramps need 256 colours or more: 16-colour (or dumb) terminals get the characters.
        heat = _Heat(console.color_system in ("truecolor", "256"), width)
        for renderable in _document(report, heat):
            console.print(renderable)
        return out.getvalue()


@dataclass(frozen=True)
class _Heat:
    """How heat cells are drawn: colour backgrounds or ramp characters, within `width` columns."""

    backgrounds: bool
    width: int

    def cell(self, level: int | None, cell_width: int) -> Text:
        """Cells wider than 2 keep a blank column at their end, so neighbours of one level stay apart."""
        body = cell_width - 1 if cell_width > 2 else cell_width
        if level is None:
            text = Text(" " * body)
        elif self.backgrounds:
            text = Text(" " * body, style=Style(bgcolor=COLOURS[level]))
        else:
            text = Text(RAMP[level] * body)
        text.append(" " * (cell_width - body))
        return text

    def legend(self, summary: str) -> Text:
        text = Text()
        text.append("less ", style="dim")
        for level in range(LEVELS):
            text.append_text(self.cell(level, 1))
        text.append(" more", style="dim")
        text.append(f"   {summary}", style="dim")
        return text


def _document(report: Report, heat: _Heat) -> list[RenderableType]:
    items: list[RenderableType] = [Text("gitobs report", style="bold"), _pairs(header_items(report)), Text()]
    for section in for_reading(report.sections):
        items += _section(section, heat)
        items.append(Text())
    if report.warnings:
        items.append(Text("warnings", style="bold yellow"))
        items += [Text(f"- {inert(warning)}", style="yellow") for warning in report.warnings]
    return items


def _section(section: Section, heat: _Heat) -> list[RenderableType]:
    items: list[RenderableType] = [Rule(Text(inert(section.title or section.name), style="bold"),
                                        align="left", style="dim")]
    if section.error is not None:
        return items + [Text(f"failed: {inert(section.error)}", style="bold red")]
    if not section.blocks:
        return items + [Text("nothing in this window", style="dim")]
    for index, block in enumerate(section.blocks):
        if index:
            items.append(Text())
        if block.title:
            items.append(Text(inert(block.title), style="bold"))
        items += _safe_block(block, heat)
    return items


def _safe_block(block: AnyBlock, heat: _Heat) -> list[RenderableType]:
    """One malformed block from a plugin shows as a failed line; the rest of the report still renders."""
    try:
        return _block(block, heat)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return [Text(f"failed: block {inert(block.id)!r} could not be drawn: {type(exc).__name__}: "
                     f"{inert(exc)}", style="bold red")]


def _block(block: AnyBlock, heat: _Heat) -> list[RenderableType]:
    if isinstance(block, Facts):
        return [_pairs([(inert(f.label), fact_text(f.label, f.value, f.unit)) for f in block.items])]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Grid):
        return _grid(block, heat)
    if isinstance(block, Calendar):
        return _calendar(block, heat)
    if isinstance(block, Note):
        return [Text(inert(line)) for line in block.text.split("\n")]
    return [Text(f"(a {type(block).__name__} block: not drawn as text)", style="dim")]


def _pairs(pairs: list[tuple[str, str]]) -> RichTable:
    """Label/value lines with the values aligned."""
    grid = RichTable.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    for label, value in pairs:
        grid.add_row(Text("  " + label), Text(value))
    return grid


def _table(block: Table) -> list[RenderableType]:
    table = RichTable(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    hidden = zero_columns(block)
    kept = [index for index in range(len(block.columns)) if index not in hidden]
    numeric = numeric_columns(block)
    for index in kept:
        table.add_column(Text(inert(block.columns[index])), justify="right" if numeric[index] else "left")
    empty = zero_rows(block)
    for number, row in enumerate(block.rows):
        if number not in empty:
            cells = row_cells(block, row)
            table.add_row(*(Text(cell_text(cells[index])) for index in kept))
    items: list[RenderableType] = [table]
    if not block.rows:
        items.append(Text("no rows", style="dim"))
    for said in (zero_rows_text(empty), zero_columns_text(block, hidden)):
        if said is not None:
            items.append(Text(said, style="dim"))
    if (shown := shown_rows_text(block)) is not None:
        items.append(Text(shown, style="dim"))
    return items


def _grid(block: Grid, heat: _Heat) -> list[RenderableType]:
    shown = shown_grid_rows(block)
    notes = [note for note in [hidden_rows_text(block, shown)] if note]
    block = Grid(id=block.id, title=block.title, row_labels=[block.row_labels[i] for i in shown],
                 column_labels=block.column_labels, cells=[block.cells[i] for i in shown], unit=block.unit)
    label_width = _label_width(block.row_labels)
    block, fitted = fit_period(block, max(1, heat.width - label_width - 1))
    notes += [fitted] if fitted else []
    top = grid_top(block)  # of the periods drawn: summed ones hold more
    levels = [[heat_level(value, top) for value in row] for row in block.cells]
    labels = [(i, inert(label)) for i, label in enumerate(block.column_labels)]
    widest = max((len(text) for _, text in labels), default=1)
    return _heat_lines([inert(label) for label in block.row_labels], labels, levels, len(block.column_labels),
                       heat, grid_summary(block), "columns", widest + 1, notes)


def _calendar(block: Calendar, heat: _Heat) -> list[RenderableType]:
    layout = calendar_layout(block)
    top = max(block.counts, default=0)
    levels = [[None if count is None else heat_level(count, top) for count in row] for row in layout.cells]
    return _heat_lines(list(WEEKDAYS), layout.months, levels, layout.weeks, heat, calendar_summary(block), "weeks")


def _label_width(row_labels: Sequence[str]) -> int:
    return min(LABEL_MAX, max((len(label) for label in row_labels), default=0))


def _heat_lines(row_labels: list[str], column_labels: Sequence[tuple[int, str]], levels: list[list[int | None]],
                columns: int, heat: _Heat, summary: str, unit: str, wanted: int = 2,
                notes: Sequence[str] = ()) -> list[RenderableType]:
    """A heat map: labelled rows of cells under a line of column labels. Cells are `wanted` characters wide
    (up to CELL_MAX: room for every column label) when the width allows, else 2 or 1. When even 1 is too
    wide the map wraps into bands, the oldest first, so the latest column is always at the right edge of
    the last band: no column is ever dropped."""
    label_width = _label_width(row_labels)
    room = max(1, heat.width - label_width - 1)
    cell_width = max(1, min(max(2, min(wanted, CELL_MAX)), room // max(1, columns)))
    per_band = max(1, room // cell_width)
    bands = max(1, math.ceil(columns / per_band))  # the same count as the spans below
    items: list[RenderableType] = []
    # cut from the right, so the first band holds what is left over: (start, stop) per band, oldest first
    spans = [(max(0, stop - per_band), stop) for stop in range(columns, 0, -per_band)][::-1] or [(0, 0)]
    for band, (start, stop) in enumerate(spans):
        if band:
            items.append(Text())
        items += _band(row_labels, column_labels, levels, (start, stop), heat, label_width, cell_width, room)
    if bands > 1:
        items.append(Text(f"{columns} {unit} in {bands} bands, oldest first: the latest is at the right end "
                          "of the last", style="dim"))
    items += [Text(note, style="dim") for note in notes]
    items.append(heat.legend(summary))
    return items


def _band(row_labels: list[str], column_labels: Sequence[tuple[int, str]], levels: list[list[int | None]],
          span: tuple[int, int], heat: _Heat, label_width: int, cell_width: int, room: int) -> list[RenderableType]:
    """The rows of the columns from span[0] up to span[1], under their labels."""
    start, stop = span
    header = _axis(column_labels, start, stop, cell_width, room)
    items: list[RenderableType] = []
    if header:
        items.append(Text(" " * (label_width + 1) + header, style="dim", no_wrap=True, overflow="crop"))
    for label, row in zip(row_labels, levels):
        line = Text(no_wrap=True, overflow="crop")
        line.append(_cut(label, label_width).ljust(label_width) + " ", style="dim")
        for column in range(start, stop):
            line.append_text(heat.cell(row[column] if column < len(row) else 0, cell_width))
        items.append(line)
    return items


def _axis(labels: Sequence[tuple[int, str]], start: int, stop: int, cell_width: int, room: int) -> str:
    """Column labels over their columns; the last may run past the cells, up to the terminal's edge."""
    shown = [((column - start) * cell_width, text) for column, text in labels if start <= column < stop]
    earlier = [text for column, text in labels if column < start]
    if earlier and not any(column == start for column, _ in labels):  # a band begun part way into a label's span
        shown.insert(0, (0, earlier[-1]))
    line = [" "] * room
    for position, text in place_labels(shown, room):
        line[int(position):int(position) + len(text)] = text
    return "".join(line).rstrip()


def _cut(label: str, width: int) -> str:
    """Paths keep their end, where the file name is."""
    return label if len(label) <= width else "…" + label[len(label) - width + 1:]


@hookimpl
def gitobs_renderers() -> list[Renderer]:
    return [TextRenderer()]
