"""The drawing arithmetic the text, md and html renderers share (cell text, units, heat levels, hidden rows and
columns, coarser periods, calendar layout, label placement), so every format shows the same numbers and the
same levels. Plain Python: a renderer that needs rich (render_text) imports it itself, so loading the
plugins to make a JSON report does not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from gitobs.plugin import Calendar, Cell, Grid, Report, Section, Table, Window, inert

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
