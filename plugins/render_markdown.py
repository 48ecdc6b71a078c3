"""`--format md`: the report as GitHub-flavoured Markdown (headings, pipe tables, bullet lists).

Names from the log are data: every string is made inert (control characters visible) and escaped, so a
branch named `a|b` stays in its cell and `<script>` or `[x](y)` in a path shows as text.
"""

from __future__ import annotations

import re

from gitobs_plugins.report_layout import (
    WEEKDAYS,
    calendar_day,
    calendar_layout,
    calendar_summary,
    cell_text,
    fact_text,
    for_reading,
    grid_summary,
    header_items,
    hidden_rows_text,
    is_number,
    numeric_columns,
    row_cells,
    shown_grid_rows,
    shown_rows_text,
    zero_columns,
    zero_columns_text,
    zero_rows,
    zero_rows_text,
)

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
    hookimpl,
    inert,
)

_INLINE = re.compile(r"[\\`*_\[\]|~<>&]")  # what would start emphasis, code, links, HTML or end a cell
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_LEADING = re.compile(r"^(\s*)(?:([#+=-])|(\d+)([.)]))")  # would start a heading or a list at a line start


def md_text(value: object) -> str:
    """A string as Markdown that shows exactly that string, on one line."""
    text = _INLINE.sub(lambda m: _ENTITIES.get(m.group(), "\\" + m.group()), inert(value))
    return _LEADING.sub(lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"),
                        text)


def md_cell(value: Cell) -> str:
    return cell_text(value) if is_number(value) or value is None else md_text(value)


def md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def md_table(header: list[str], right: list[bool], rows: list[list[str]]) -> list[str]:
    """A pipe table from cells already escaped."""
    rule = ["---:" if flag else "---" for flag in right]
    return [md_row(header), md_row(rule)] + [md_row(row) for row in rows]


class MarkdownRenderer(Renderer):
    format = "md"
    suffix = ".md"

    def render(self, report: Report, color: bool) -> str:
        lines = ["# gitobs report", ""]
        lines += [f"- **{label}:** {md_text(value)}" for label, value in header_items(report)]
        for section in for_reading(report.sections):
            lines += [""] + _section(section)
        if report.warnings:
            lines += ["", "## Warnings", ""] + [f"- {md_text(warning)}" for warning in report.warnings]
        return "\n".join(lines) + "\n"


def _section(section: Section) -> list[str]:
    lines = [f"## {md_text(section.title or section.name)}", ""]
    if section.error is not None:
        return lines + [f"**failed:** {md_text(section.error)}"]
    if not section.blocks:
        return lines + ["_nothing in this window_"]
    for index, block in enumerate(section.blocks):
        if index:
            lines.append("")
        if block.title:
            lines += [f"### {md_text(block.title)}", ""]
        lines += _safe_block(block)
    return lines


def _safe_block(block: AnyBlock) -> list[str]:
    """One malformed block from a plugin shows as a failed line; the rest of the report still renders."""
    try:
        return _block(block)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return [(f"**failed:** block {md_text(repr(block.id))} could not be drawn: "
                 f"{md_text(type(exc).__name__)}: {md_text(exc)}")]


def _block(block: AnyBlock) -> list[str]:
    if isinstance(block, Facts):
        return [f"- {md_text(fact.label)}: {_fact(fact.label, fact.value, fact.unit)}" for fact in block.items]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Grid):
        return _grid(block)
    if isinstance(block, Calendar):
        return _calendar(block)
    if isinstance(block, Note):
        return ["  \n".join(md_text(line) for line in block.text.split("\n"))]
    return [f"_(a {md_text(type(block).__name__)} block: not drawn as Markdown)_"]


def _fact(label: str, value: Cell, unit: str) -> str:
    """The value, and its unit unless the label already says it (as in text)."""
    shown = fact_text(label, value, unit)
    text = cell_text(value)
    return md_cell(value) + (md_text(shown[len(text):]) if len(shown) > len(text) else "")


def _table(block: Table) -> list[str]:
    hidden = zero_columns(block)
    kept = [index for index in range(len(block.columns)) if index not in hidden]
    numeric = numeric_columns(block)
    empty = zero_rows(block)
    rows = [[md_cell(cells[index]) for index in kept]
            for cells in (row_cells(block, row) for number, row in enumerate(block.rows) if number not in empty)]
    lines = md_table([md_text(block.columns[index]) for index in kept], [numeric[index] for index in kept], rows)
    if not block.rows:
        lines += ["", "_no rows_"]
    for said in (zero_rows_text(empty), zero_columns_text(block, hidden)):
        if said is not None:
            lines += ["", f"_{md_text(said)}_"]
    if (shown := shown_rows_text(block)) is not None:
        lines += ["", f"_{shown}_"]
    return lines


def _grid(block: Grid) -> list[str]:
    """A table of the numbers themselves: Markdown has no colour."""
    header = [""] + [md_text(label) for label in block.column_labels]
    right = [False] + [True] * len(block.column_labels)
    shown = shown_grid_rows(block)
    rows = [[md_text(block.row_labels[index])] + [cell_text(row[i]) if i < len(row) else cell_text(None)
                                                  for i in range(len(block.column_labels))]
            for index, row in ((index, block.cells[index]) for index in shown)]
    notes = [f"_{md_text(note)}_" for note in [hidden_rows_text(block, shown), grid_summary(block)] if note]
    return md_table(header, right, rows) + ["", "  \n".join(notes)]


def _calendar(block: Calendar) -> list[str]:
    """One row per week, Monday first, like the weekday rows of the other formats turned on their side."""
    layout = calendar_layout(block)
    rows = []
    for week in range(layout.weeks):
        counts = [layout.cells[day][week] for day in range(7)]
        monday = calendar_day(block, week * 7 - layout.lead)
        rows.append([monday] + ["" if count is None else str(count) for count in counts]
                    + [str(sum(count for count in counts if count is not None))])
    header = ["week of", *WEEKDAYS, "total"]
    return md_table(header, [False] + [True] * 8, rows) + ["", f"_{md_text(calendar_summary(block))}_"]


@hookimpl
def gitobs_renderers() -> list[Renderer]:
    return [MarkdownRenderer()]
