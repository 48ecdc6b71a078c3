"""The two OTLP/HTTP encodings of the messages gitobs sends, protobuf and JSON, from one table of the
opentelemetry-proto definitions (the subset used: logs and traces export requests and their parts).

A message is a dict of field name -> value (lists for repeated fields, dicts for nested messages); fields
left out or at their default are not written, as proto3 does. Twenty lines of wire format beat a protobuf
runtime dependency; tests decode both encodings with the official definitions.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

REPEATED = True
# message -> [(field, number, type, repeated)]: type is a scalar kind below or another message's name.
MESSAGES: dict[str, list[tuple[str, int, str, bool]]] = {
    "ExportLogsServiceRequest": [("resource_logs", 1, "ResourceLogs", REPEATED)],
    "ExportTraceServiceRequest": [("resource_spans", 1, "ResourceSpans", REPEATED)],
    "ResourceLogs": [("resource", 1, "Resource", False), ("scope_logs", 2, "ScopeLogs", REPEATED),
                     ("schema_url", 3, "string", False)],
    "ResourceSpans": [("resource", 1, "Resource", False), ("scope_spans", 2, "ScopeSpans", REPEATED),
                      ("schema_url", 3, "string", False)],
    "Resource": [("attributes", 1, "KeyValue", REPEATED)],
    "ScopeLogs": [("scope", 1, "InstrumentationScope", False), ("log_records", 2, "LogRecord", REPEATED)],
    "ScopeSpans": [("scope", 1, "InstrumentationScope", False), ("spans", 2, "Span", REPEATED)],
    "InstrumentationScope": [("name", 1, "string", False), ("version", 2, "string", False)],
    "LogRecord": [("time_unix_nano", 1, "fixed64", False), ("severity_number", 2, "enum", False),
                  ("severity_text", 3, "string", False), ("body", 5, "AnyValue", False),
                  ("attributes", 6, "KeyValue", REPEATED), ("flags", 8, "fixed32", False),
                  ("trace_id", 9, "id", False), ("span_id", 10, "id", False),
                  ("observed_time_unix_nano", 11, "fixed64", False), ("event_name", 12, "string", False)],
    "Span": [("trace_id", 1, "id", False), ("span_id", 2, "id", False), ("parent_span_id", 4, "id", False),
             ("name", 5, "string", False), ("kind", 6, "enum", False),
             ("start_time_unix_nano", 7, "fixed64", False), ("end_time_unix_nano", 8, "fixed64", False),
             ("attributes", 9, "KeyValue", REPEATED), ("status", 15, "Status", False)],
    "Status": [("message", 2, "string", False), ("code", 3, "enum", False)],
    "KeyValue": [("key", 1, "string", False), ("value", 2, "AnyValue", False)],
    "AnyValue": [("string_value", 1, "string", False), ("bool_value", 2, "bool", False),
                 ("int_value", 3, "int64", False), ("double_value", 4, "double", False),
                 ("array_value", 5, "ArrayValue", False), ("kvlist_value", 6, "KeyValueList", False),
                 ("bytes_value", 7, "bytes", False)],
    "ArrayValue": [("values", 1, "AnyValue", REPEATED)],
    "KeyValueList": [("values", 1, "KeyValue", REPEATED)],
}
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
# AnyValue is a oneof: its members are written even at their default (an attribute of value 0 or "").
ONEOF = frozenset({"AnyValue"})


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64: ten bytes of two's complement, as protobuf writes it
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _scalar(kind: str, value: Any) -> tuple[int, bytes]:
    if kind in ("int64", "enum", "bool"):
        return VARINT, _varint(int(value))
    if kind == "fixed64":
        return FIXED64, struct.pack("<Q", value)
    if kind == "double":
        return FIXED64, struct.pack("<d", value)
    if kind == "fixed32":
        return FIXED32, struct.pack("<I", value)
    data = value.encode("utf-8", "surrogateescape") if kind == "string" else bytes(value)
    return LENGTH, _varint(len(data)) + data


def to_protobuf(message: str, value: dict) -> bytes:
    out = bytearray()
    for name, number, kind, repeated in MESSAGES[message]:
        if name not in value:
            continue
        items = value[name] if repeated else [value[name]]
        for item in items:
            if not item and message not in ONEOF and kind not in MESSAGES:
                continue  # proto3: a scalar at its default is not written
            if kind in MESSAGES:
                wire, data = LENGTH, _length_prefixed(to_protobuf(kind, item))
            else:
                wire, data = _scalar(kind, item)
            out += _varint(number << 3 | wire) + data
    return bytes(out)


def _length_prefixed(data: bytes) -> bytes:
    return _varint(len(data)) + data


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def to_json(message: str, value: dict) -> dict:
    """The OTLP/JSON form: lowerCamelCase names, 64-bit integers as decimal strings, enums as numbers,
    trace and span ids as hex (OTLP's exception to the protobuf JSON mapping), other bytes as base64."""
    out: dict[str, Any] = {}
    for name, _, kind, repeated in MESSAGES[message]:
        if name not in value:
            continue
        if repeated:
            out[_camel(name)] = [_json_value(kind, item) for item in value[name]]
        elif value[name] or message in ONEOF or kind in MESSAGES:
            out[_camel(name)] = _json_value(kind, value[name])
    return out


def _json_value(kind: str, value: Any) -> Any:
    if kind in MESSAGES:
        return to_json(kind, value)
    if kind in ("fixed64", "int64"):
        return str(int(value))
    if kind == "id":
        return bytes(value).hex()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    return value


def read_rejected(body: bytes, count_field: int = 1) -> tuple[int, str]:
    """A protobuf Export*ServiceResponse's partial_success: (rejected count, error message)."""
    fields = _fields(body)
    partial = fields.get(1)
    if not isinstance(partial, bytes):
        return 0, ""
    inner = _fields(partial)
    rejected = inner.get(count_field, 0)
    message = inner.get(2, b"")
    return (rejected if isinstance(rejected, int) else 0,
            message.decode("utf-8", "replace") if isinstance(message, bytes) else "")


def _fields(data: bytes) -> dict[int, int | bytes]:
    """The last value of each top-level field (varint or length-delimited); stops at anything else."""
    fields: dict[int, int | bytes] = {}
    position = 0
    while position < len(data):
        tag, position = _read_varint(data, position)
        number, wire = tag >> 3, tag & 7
        if wire == VARINT:
            fields[number], position = _read_varint(data, position)
        elif wire == LENGTH:
            size, position = _read_varint(data, position)
            fields[number], position = data[position:position + size], position + size
        elif wire in (FIXED64, FIXED32):
            position += 8 if wire == FIXED64 else 4
        else:
            break
    return fields


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while position < len(data):
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
    return value, position
