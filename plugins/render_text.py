"""`--format text`: the report for a terminal. The drawing (with rich) is text_draw.py, imported when a text
report is rendered, so that loading the plugins for another format does not import rich; the drawing
arithmetic it shares with the md and html renderers is report_layout.py.
"""

from __future__ import annotations

import os
import shutil

from gitobs.plugin import Renderer, Report, hookimpl

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
        from gitobs_plugins.text_draw import draw

        return draw(report, color, text_width(self.width, color))


@hookimpl
def gitobs_renderers() -> list[Renderer]:
    return [TextRenderer()]
