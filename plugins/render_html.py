"""`--format html`: the report as a dashboard in one self-contained file. The page is built by html_page.py
(with html_blocks.py and html_assets.py), imported when an HTML report is rendered, so that loading the
plugins for another format does not import them.
"""

from __future__ import annotations

from gitobs.plugin import Renderer, Report, hookimpl


class HtmlRenderer(Renderer):
    format = "html"
    suffix = ".html"

    def render(self, report: Report, color: bool) -> str:
        from gitobs_plugins.html_page import page

        return page(report)


@hookimpl
def gitobs_renderers() -> list[Renderer]:
    return [HtmlRenderer()]
