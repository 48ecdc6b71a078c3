"""Events as OTLP log records, and the export requests that carry them and the traces (otlp_wire's form).

A record's `event_name` is the event type; its attributes are the envelope's (`gitobs.event.id`, `.seq`,
`.src`, `gitobs.worktree`) and the payload's fields as `gitobs.<field>`, typed: strings, integers, floats,
booleans, lists as arrays, tables as key-value lists, a file as {path, added, deleted}.
"""

from __future__ import annotations

import platform
from typing import Any

from gitobs import __version__
from gitobs.core.names import recorded
from gitobs.log import schema

SCOPE = {"name": "gitobs", "version": __version__}
SEVERITY_INFO, SEVERITY_WARN, SEVERITY_ERROR = 9, 13, 17
SEVERITIES = {"commit.blocked": SEVERITY_WARN, "commit.aborted": SEVERITY_WARN, "gitobs.error": SEVERITY_ERROR}
SEVERITY_TEXT = {SEVERITY_INFO: "INFO", SEVERITY_WARN: "WARN", SEVERITY_ERROR: "ERROR"}


def plain(value: Any) -> Any:
    """A value as an attribute can hold it: None left out of tables and lists, an integer beyond 64 bits
    as text, anything else unknown as text."""
    if isinstance(value, str):
        return recorded(value)  # OTLP strings are UTF-8: a name that was not, as the log writes it
    if isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if -(1 << 63) <= value < 1 << 63 else str(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value if item is not None]
    return str(value)


def attributes(values: dict, prefix: str = "gitobs.") -> list[tuple[str, Any]]:
    return [(f"{prefix}{key}", plain(_files(value) if key == "files" else value))
            for key, value in values.items() if value is not None]


def _files(value: Any) -> Any:
    """[path, added, deleted] rows as tables, so a backend shows what each number is."""
    if isinstance(value, list):
        return [{"path": row[0], "added": row[1], "deleted": row[2]}
                if isinstance(row, list) and len(row) == 3 else row for row in value]
    return value


def log_record(event: schema.Event, observed_ns: int, link: tuple[bytes, bytes] | None) -> dict:
    data = event.data if isinstance(event.data, dict) else {}
    severity = SEVERITIES.get(event.type, SEVERITY_INFO)
    envelope = [("gitobs.event.id", plain(event.id)), ("gitobs.event.seq", event.seq),
                ("gitobs.event.src", plain(event.src)), ("gitobs.worktree", plain(event.wt))]
    name = plain(event.type)
    record = {"time_unix_nano": round(schema.parse_ts(event.ts) * 1e9), "observed_time_unix_nano": observed_ns,
              "severity_number": severity, "severity_text": SEVERITY_TEXT[severity], "event_name": name,
              "body": name, "attributes": envelope + attributes(data)}
    if link is not None:
        record["trace_id"], record["span_id"] = link
    return record


def resource(repository: str) -> dict:
    return {"attributes": attributes({"service.name": "gitobs", "service.version": __version__,
                                      "gitobs.repository": repository, "gitobs.schema_version": schema.SCHEMA_VERSION,
                                      "os.type": platform.system().lower()}, "")}


def logs_request(repository: str, records: list[dict]) -> dict:
    return {"resource_logs": [{"resource": resource(repository),
                               "scope_logs": [{"scope": SCOPE, "log_records": records}]}]}


def traces_request(repository: str, traces: list[list[dict]]) -> dict:
    spans = [{**span, "attributes": attributes(span["attributes"])} for trace in traces for span in trace]
    return {"resource_spans": [{"resource": resource(repository), "scope_spans": [{"scope": SCOPE, "spans": spans}]}]}
