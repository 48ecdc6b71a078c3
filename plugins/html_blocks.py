"""The HTML report's blocks drawn on the server side: facts, sortable tables, heat grids and calendars as
tables of cells, notes. Cell text, units and heat levels are the text renderer's, so every format says a value alike.

Names from the log are data: every string is made inert (control and bidi characters visible) and goes
through html.escape, in text and attribute values alike.
"""

from __future__ import annotations

import html
from datetime import date, timedelta

from gitobs_plugins.report_layout import (
    LEVELS,
    MONTHS,
    WEEKDAYS,
    cell_text,
    fact_text,
    heat_level,
    is_number,
)

from gitobs.plugin import AnyBlock, Calendar, Cell, Facts, Grid, Note, Table, inert

OTHER = "(other)"  # a folded row: left out of a grid's colour scale, so it cannot pale the real rows


def esc(value: object) -> str:
    """Inert, then escaped for text and attribute values alike."""
    return html.escape(inert(value), quote=True)


def block_html(block: AnyBlock) -> str:
    """One malformed block from a plugin shows as a failed line; the rest of the report still renders."""
    try:
        return _block(block)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return (f'<p class="failed">failed: block {esc(repr(block.id))} could not be drawn: '
                f"{esc(type(exc).__name__)}: {esc(exc)}</p>")


def _block(block: AnyBlock) -> str:
    if isinstance(block, Facts):
        return facts_html([(fact.label, fact_text(fact.label, fact.value, fact.unit)) for fact in block.items])
    if isinstance(block, Table):
        return table_html(block)
    if isinstance(block, Grid):
        return grid_html(block)
    if isinstance(block, Calendar):
        return calendar_html(block)
    if isinstance(block, Note):
        return "<p>" + "<br>".join(esc(line) for line in block.text.split("\n")) + "</p>"
    return f'<p class="muted">(a {esc(type(block).__name__)} block: not drawn as HTML)</p>'


def facts_html(pairs: list[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in pairs)
    return f'<dl class="facts">{items}</dl>'


def table_html(block: Table) -> str:
    """A table the page's script sorts by any column (numbers by their value: data-sort holds it)."""
    width = len(block.columns)
    rows = [[row[i] if i < len(row) else None for i in range(width)] for row in block.rows]
    numeric = [any(is_number(row[i]) for row in rows) and all(row[i] is None or is_number(row[i]) for row in rows)
               for i in range(width)]
    head = "".join(f'<th{_num(flag)} scope="col" tabindex="0">{esc(name)}</th>'
                   for name, flag in zip(block.columns, numeric))
    body = "".join("<tr>" + "".join(_cell(value, flag) for value, flag in zip(row, numeric)) + "</tr>" for row in rows)
    parts = [(f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
              "</table></div>")]
    if not rows:
        parts.append('<p class="muted">no rows</p>')
    if block.total_rows is not None and block.total_rows > len(rows):
        parts.append(f'<p class="muted">showing {len(rows)} of {block.total_rows} rows</p>')
    return "".join(parts)


def _cell(value: Cell, numeric: bool) -> str:
    if numeric and value is not None:
        return f'<td class="num" data-sort="{esc(repr(float(value)))}">{esc(cell_text(value))}</td>'
    return f"<td{_num(numeric)}>{esc(cell_text(value))}</td>"


def _num(flag: bool) -> str:
    return ' class="num"' if flag else ""


def grid_html(block: Grid) -> str:
    """Rows and columns that are zero everywhere are left out (and counted below the grid), but for a week
    of hours (rows Mon..Sun), drawn whole like a clock; "(other)" stays out of the colour scale."""
    rows = [(label, list(cells)) for label, cells in zip(block.row_labels, block.cells)]
    whole = tuple(block.row_labels) == WEEKDAYS
    columns = [i for i in range(len(block.column_labels)) if whole or any(i < len(c) and c[i] for _, c in rows)]
    shown = [(label, cells) for label, cells in rows if whole or any(cells)]
    top = max((cells[i] for label, cells in shown if label != OTHER for i in columns if i < len(cells)), default=0)
    top = top or max((cells[i] for _, cells in shown for i in columns if i < len(cells)), default=0)
    unit = f" {inert(block.unit)}" if block.unit else ""
    # labels longer than a cell is wide ("2026-11-02") stand upright, so the grid keeps its cells' width
    upright = any(len(inert(block.column_labels[i])) > 3 for i in columns)
    th = '<th scope="col" class="upright">' if upright else '<th scope="col">'
    head = "".join(f"{th}{esc(block.column_labels[i])}</th>" for i in columns)
    body = []
    for label, cells in shown:
        tds = "".join(_heat_cell(cells[i] if i < len(cells) else 0, top,
                                 f"{inert(label)} · {inert(block.column_labels[i])}: {cell_text(cells[i])}{unit}")
                      for i in columns)
        body.append(f'<tr><th scope="row" class="label" title="{esc(label)}">{esc(_cut(inert(label)))}</th>{tds}</tr>')
    hidden = []
    if len(shown) < len(rows):
        hidden.append(f"{len(rows) - len(shown)} empty rows")
    if len(columns) < len(block.column_labels):
        hidden.append(f"{len(block.column_labels) - len(columns)} empty columns")
    summary = f"max {cell_text(top)}{unit}" + (f"; not shown: {', '.join(hidden)}" if hidden else "")
    if not shown:
        return f'<p class="muted">{esc("nothing to show" + (f" ({summary})" if hidden else ""))}</p>'
    return (f'<div class="scroll"><table class="heat" data-block="{esc(block.id)}"><thead><tr><td></td>{head}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>{_legend(summary)}")


def calendar_html(block: Calendar) -> str:
    """Weekday rows (Mon..Sun) by week columns, the newest week at the right edge, months above."""
    first = date.fromisoformat(block.first_day)
    lead = first.weekday()
    weeks = (lead + len(block.counts) + 6) // 7
    top = max(block.counts, default=0)
    unit = f" {inert(block.unit)}" if block.unit else ""
    grid: list[list[str]] = [['<td class="pad"></td>'] * weeks for _ in range(7)]
    for index, count in enumerate(block.counts):
        day = first + timedelta(days=index)
        tip = f"{day.isoformat()} {WEEKDAYS[day.weekday()]}: {count}{unit}"
        grid[(lead + index) % 7][(lead + index) // 7] = _heat_cell(count, top, tip)
    labels = [_month_of(first, lead, week) for week in range(weeks)]
    months = [label if week == 0 or labels[week - 1] != label else "" for week, label in enumerate(labels)]
    head = "".join(f'<th scope="col" class="month"><span>{label}</span></th>' for label in months)
    body = "".join(f'<tr><th scope="row" class="label">{WEEKDAYS[row]}</th>{"".join(grid[row])}</tr>'
                   for row in range(7))
    return (f'<div class="scroll"><table class="heat calendar" data-block="{esc(block.id)}"><thead><tr><td></td>'
            f"{head}</tr></thead><tbody>{body}</tbody></table></div>{_legend(_calendar_summary(block, first, unit))}")


def _month_of(first: date, lead: int, week: int) -> str:
    """A week belongs to the month of its first shown day."""
    return MONTHS[(first + timedelta(days=max(0, week * 7 - lead))).month - 1]


def _calendar_summary(block: Calendar, first: date, unit: str) -> str:
    total = sum(block.counts)
    if total <= 0:
        return f"nothing on {len(block.counts)} days"
    top = max(block.counts)
    active = sum(1 for count in block.counts if count > 0)
    busiest = first + timedelta(days=block.counts.index(top))
    return f"total {total}{unit} on {active} of {len(block.counts)} days; busiest {busiest.isoformat()} ({top}{unit})"


def _heat_cell(value: float, top: float, tip: str) -> str:
    return f'<td class="l{heat_level(value, top)}" title="{esc(tip)}"></td>'


def _legend(summary: str) -> str:
    swatches = "".join(f'<i class="l{level}"></i>' for level in range(LEVELS))
    return f'<p class="legend muted">less {swatches} more &nbsp; {esc(summary)}</p>'


def _cut(label: str, limit: int = 40) -> str:
    """Paths keep their end, where the file name is (the full one is the row's tooltip)."""
    return label if len(label) <= limit else "…" + label[len(label) - limit + 1:]
