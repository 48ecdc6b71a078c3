"""`--format html`: the report as one self-contained page: inline CSS and inline SVG heat maps, no scripts,
nothing loaded from anywhere (a Content-Security-Policy says so to the browser too).

Names from the log are data: every string is made inert and goes through html.escape.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from gitobs_plugins.render_text import (
    LEVELS,
    WEEKDAYS,
    calendar_day,
    calendar_layout,
    calendar_summary,
    cell_text,
    grid_summary,
    grid_top,
    header_items,
    heat_level,
    numeric_columns,
    place_labels,
    row_cells,
    shown_rows_text,
    with_unit,
)

from gitobs.plugin import (
    AnyBlock,
    Calendar,
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

PALETTE = ("#ebedf0", "#9be9a8", "#40c463", "#30a14e", "#216e39")  # GitHub's light ramp, level 0..4
CELL = 11  # px: a heat cell
STEP = 13  # px: cell plus gap
CHAR = 6.2  # px: estimated width of a 10px label character, to lay labels out without a browser
TOP = 16  # px: room for the column labels
LABEL_MAX = 40  # row labels (paths) are cut to this, keeping their end; the full one is in a tooltip

CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #fff;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin: 0 0 .4em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #d1d9e0; padding-bottom: .25em; margin-top: 2em; }
h3 { font-size: 1em; margin: 1.2em 0 .4em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15em 1.5em; margin: 0; }
dl.facts dt { color: #59636e; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .25em .75em; border-bottom: 1px solid #d1d9e0; text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #d1d9e0; }
td.num, th.num { text-align: right; }
.scroll { overflow-x: auto; }
.heatmap text { font: 10px system-ui, sans-serif; fill: #59636e; }
.muted { color: #59636e; }
.failed { color: #d1242f; font-weight: 600; }
.legend span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; vertical-align: middle; }
.warnings { margin-top: 2em; color: #9a6700; }
code { word-break: break-all; }
"""


def esc(value: object) -> str:
    """Inert (control characters visible), then escaped for text and attribute values alike."""
    return html.escape(inert(value), quote=True)


class HtmlRenderer(Renderer):
    format = "html"
    suffix = ".html"

    def render(self, report: Report, color: bool) -> str:
        parts = [_head(), "<body>", "<header>", "<h1>gitobs report</h1>", _pairs(header_items(report)),
                 "</header>", "<main>"]
        parts += [_section(section) for section in report.sections]
        parts.append("</main>")
        if report.warnings:
            items = "".join(f"<li>{esc(warning)}</li>" for warning in report.warnings)
            parts.append(f'<footer class="warnings"><h2>Warnings</h2><ul>{items}</ul></footer>')
        parts.append("</body>\n</html>\n")
        return "\n".join(parts)


def _head() -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>gitobs report</title>\n<style>{CSS}</style>\n</head>")


def _pairs(pairs: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in pairs)
    return f'<dl class="facts">{items}</dl>'


def _section(section: Section) -> str:
    parts = [f'<section id="section-{esc(section.name)}">', f"<h2>{esc(section.title or section.name)}</h2>"]
    if section.error is not None:
        parts.append(f'<p class="failed">failed: {esc(section.error)}</p>')
    elif not section.blocks:
        parts.append('<p class="muted">nothing in this window</p>')
    for block in section.blocks:
        title = f"<h3>{esc(block.title)}</h3>" if block.title else ""
        parts.append(f'<div class="block" data-block="{esc(block.id)}">{title}{_safe_block(block)}</div>')
    parts.append("</section>")
    return "\n".join(parts)


def _safe_block(block: AnyBlock) -> str:
    """One malformed block from a plugin shows as a failed line; the rest of the report still renders."""
    try:
        return _block(block)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return (f'<p class="failed">failed: block {esc(repr(block.id))} could not be drawn: '
                f"{esc(type(exc).__name__)}: {esc(exc)}</p>")


def _block(block: AnyBlock) -> str:
    if isinstance(block, Facts):
        return _pairs([(fact.label, with_unit(fact.value, fact.unit)) for fact in block.items])
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Grid):
        return _grid(block)
    if isinstance(block, Calendar):
        return _calendar(block)
    if isinstance(block, Note):
        return "<p>" + "<br>".join(esc(line) for line in block.text.split("\n")) + "</p>"
    return f'<p class="muted">(a {esc(type(block).__name__)} block: not drawn as HTML)</p>'


def _table(block: Table) -> str:
    right = numeric_columns(block)
    head = "".join(f"<th{_num(flag)}>{esc(name)}</th>" for name, flag in zip(block.columns, right))
    body = "".join("<tr>" + "".join(f"<td{_num(flag)}>{esc(cell_text(value))}</td>"
                                    for value, flag in zip(row_cells(block, row), right)) + "</tr>"
                   for row in block.rows)
    parts = [f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>']
    if not block.rows:
        parts.append('<p class="muted">no rows</p>')
    if (shown := shown_rows_text(block)) is not None:
        parts.append(f'<p class="muted">{esc(shown)}</p>')
    return "".join(parts)


def _num(flag: bool) -> str:
    return ' class="num"' if flag else ""


def _grid(block: Grid) -> str:
    top = grid_top(block)
    unit = f" {block.unit}" if block.unit else ""
    cells = [[(col, heat_level(value, top), f"{row_label} · {col_label}: {cell_text(value)}{unit}")
              for col, (col_label, value) in enumerate(zip(block.column_labels, row))]
             for row_label, row in zip(block.row_labels, block.cells)]
    columns = [(i, label) for i, label in enumerate(block.column_labels)]
    return _heatmap(block.id, list(block.row_labels), columns, len(block.column_labels), cells) + \
        _legend(grid_summary(block))


def _calendar(block: Calendar) -> str:
    layout = calendar_layout(block)
    top = max(block.counts, default=0)
    unit = f" {block.unit}" if block.unit else ""
    rows: list[list[tuple[int, int, str]]] = [[] for _ in range(7)]
    for index, count in enumerate(block.counts):
        position = layout.lead + index
        tip = f"{calendar_day(block, index)} {WEEKDAYS[position % 7]}: {count}{unit}"
        rows[position % 7].append((position // 7, heat_level(count, top), tip))
    return _heatmap(block.id, list(WEEKDAYS), layout.months, layout.weeks, rows) + _legend(calendar_summary(block))


def _heatmap(block_id: str, row_labels: list[str], column_labels: Sequence[tuple[int, str]], columns: int,
             rows: list[list[tuple[int, int, str]]]) -> str:
    """An SVG of rows of cells (column, level, tooltip) under column labels; every size is explicit so the
    page lays out without scripts."""
    shown = [_cut(inert(label)) for label in row_labels]
    left = math.ceil(max((len(label) for label in shown), default=0) * CHAR) + 8
    column_labels = [(i * STEP, inert(text)) for i, text in column_labels]
    span = max([columns * STEP] + [x + len(text) * CHAR for x, text in column_labels[-1:]])
    width, height = left + math.ceil(span), TOP + len(row_labels) * STEP
    parts = [(f'<div class="scroll"><svg class="heatmap" data-block="{esc(block_id)}" width="{width}" '
              f'height="{height}" viewBox="0 0 {width} {height}" role="img">')]
    for x, text in place_labels(column_labels, span, CHAR, CHAR):
        parts.append(f'<text x="{left + x:g}" y="{TOP - 5}">{esc(text)}</text>')
    for index, (label, full) in enumerate(zip(shown, row_labels)):
        y = TOP + index * STEP
        tooltip = f"<title>{esc(full)}</title>" if label != inert(full) else ""
        parts.append(f'<text x="{left - 6}" y="{y + CELL - 2}" text-anchor="end">{esc(label)}{tooltip}</text>')
        parts += [f'<rect x="{left + column * STEP}" y="{y}" width="{CELL}" height="{CELL}" rx="2" '
                  f'fill="{PALETTE[level]}"><title>{esc(tip)}</title></rect>' for column, level, tip in rows[index]]
    parts.append("</svg></div>")
    return "".join(parts)


def _legend(summary: str) -> str:
    swatches = "".join(f'<span style="background:{PALETTE[level]}"></span> ' for level in range(LEVELS))
    return f'<p class="legend muted">less {swatches}more &nbsp; {esc(summary)}</p>'


def _cut(label: str) -> str:
    """Paths keep their end, where the file name is."""
    return label if len(label) <= LABEL_MAX else "…" + label[len(label) - LABEL_MAX + 1:]


@hookimpl
def gitobs_renderers() -> list[Renderer]:
    return [HtmlRenderer()]
