"""`--format json`: the report's structs as they are; same events and --now, same bytes."""

from __future__ import annotations

from gitobs.plugin import Renderer, Report, encode_json, hookimpl


class JsonRenderer(Renderer):
    format = "json"
    suffix = ".json"

    def render(self, report: Report, color: bool) -> str:
        return encode_json(report).decode()


@hookimpl
def gitobs_renderers() -> list[Renderer]:
    return [JsonRenderer()]
