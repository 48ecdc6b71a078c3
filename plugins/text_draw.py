"""The terminal drawing of `--format text`, with rich: imported only when a text report is rendered.

Names from the log are data: every string from the report goes through `inert` into a rich `Text`, never
into a markup string, so neither terminal escapes nor rich markup in a branch name reach the terminal.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from gitobs_plugins.report_layout import (
    LEVELS,
    WEEKDAYS,
    calendar_layout,
    calendar_summary,
    cell_text,
    fact_text,
    fit_period,
    for_reading,
    grid_summary,
    grid_top,
    header_items,
    heat_level,
    hidden_rows_text,
    numeric_columns,
    place_labels,
    row_cells,
    shown_grid_rows,
    shown_rows_text,
    zero_columns,
    zero_columns_text,
    zero_rows,
    zero_rows_text,
)
from rich import box
from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.style import Style
from rich.table import Table as RichTable
from rich.text import Text

from gitobs.plugin import (
    AnyBlock,
    Calendar,
    Facts,
    Grid,
    Note,
    Report,
    Section,
    Table,
    inert,
)

COLOURS = ("#2d333b", "#0e4429", "#006d32", "#26a641", "#39d353")  # GitHub's dark ramp: readable on both
RAMP = "·░▒▓█"  # the same levels as characters, when there is no colour
LABEL_MAX = 24  # row labels (paths) are cut to this, keeping their end
CELL_MAX = 11  # a grid cell widens up to this to fit its column label ("2026-11-02")

def draw(report: Report, color: bool, width: int) -> str:
    """The report as text of `width` columns, in colour or not."""
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
