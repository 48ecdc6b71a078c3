"""Events as OTLP log records, and the export requests that carry them and the traces (otlp_wire's form).

A record's `event_name` is the event type; its attributes are the envelope's (`gitobs.event.id`, `.seq`,
`.src`, `gitobs.worktree`) and the payload's fields as `gitobs.<field>`, typed: strings, integers, floats,
booleans, lists as arrays, tables as key-value lists, a file as {path, added, deleted}.
"""

from __future__ import annotations

import platform
from typing import Any

from gitobs import __version__, schema

SCOPE = {"name": "gitobs", "version": __version__}
SEVERITY_INFO, SEVERITY_WARN, SEVERITY_ERROR = 9, 13, 17
SEVERITIES = {"commit.blocked": SEVERITY_WARN, "commit.aborted": SEVERITY_WARN, "gitobs.error": SEVERITY_ERROR}
SEVERITY_TEXT = {SEVERITY_INFO: "INFO", SEVERITY_WARN: "WARN", SEVERITY_ERROR: "ERROR"}


def any_value(value: Any) -> dict | None:
    """A Python value as an OTLP AnyValue; None for None (the attribute is left out)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": value} if -(1 << 63) <= value < 1 << 63 else {"string_value": str(value)}
    if isinstance(value, float):
        return {"double_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, dict):
        return {"kvlist_value": {"values": attributes(value, "")}}
    if isinstance(value, (list, tuple)):
        return {"array_value": {"values": [item for item in map(any_value, value) if item is not None]}}
    return {"string_value": str(value)}


def attributes(values: dict, prefix: str = "gitobs.") -> list[dict]:
    out = []
    for key, value in values.items():
        converted = any_value(_file(value) if key == "files" else value)
        if converted is not None:
            out.append({"key": f"{prefix}{key}", "value": converted})
    return out


def _file(value: Any) -> Any:
    """[path, added, deleted] rows as tables, so a backend shows what each number is."""
    if isinstance(value, list):
        return [{"path": row[0], "added": row[1], "deleted": row[2]}
                if isinstance(row, list) and len(row) == 3 else row for row in value]
    return value


def log_record(event: schema.Event, observed_ns: int, link: tuple[bytes, bytes] | None) -> dict:
    data = event.data if isinstance(event.data, dict) else {}
    severity = SEVERITIES.get(event.type, SEVERITY_INFO)
    envelope = [{"key": "gitobs.event.id", "value": {"string_value": event.id}},
                {"key": "gitobs.event.seq", "value": {"int_value": event.seq}},
                {"key": "gitobs.event.src", "value": {"string_value": event.src}},
                {"key": "gitobs.worktree", "value": {"string_value": event.wt}}]
    record = {"time_unix_nano": round(schema.parse_ts(event.ts) * 1e9), "observed_time_unix_nano": observed_ns,
              "severity_number": severity, "severity_text": SEVERITY_TEXT[severity], "event_name": event.type,
              "body": {"string_value": event.type}, "attributes": envelope + attributes(data)}
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
