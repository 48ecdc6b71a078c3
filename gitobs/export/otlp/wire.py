"""The two OTLP/HTTP encodings of the messages gitobs sends, protobuf and JSON, from one table of the
opentelemetry-proto definitions (the subset used: logs and traces export requests and their parts).

A message is a dict of field name -> value (lists for repeated fields, dicts for nested messages); fields
left out or at their default are not written, as proto3 does. Attributes are (key, value) pairs of plain
Python values (str, int, float, bool, list, dict), as is a record's body ("any"); each encoder turns them
into KeyValue and AnyValue itself: they are most of what is sent, and the generic path would build three
dicts for each. A page of wire format beats a protobuf runtime dependency; tests decode both encodings
with the official definitions.
"""

from __future__ import annotations

import math
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
    "Resource": [("attributes", 1, "attribute", REPEATED)],
    "ScopeLogs": [("scope", 1, "InstrumentationScope", False), ("log_records", 2, "LogRecord", REPEATED)],
    "ScopeSpans": [("scope", 1, "InstrumentationScope", False), ("spans", 2, "Span", REPEATED)],
    "InstrumentationScope": [("name", 1, "string", False), ("version", 2, "string", False)],
    "LogRecord": [("time_unix_nano", 1, "fixed64", False), ("severity_number", 2, "enum", False),
                  ("severity_text", 3, "string", False), ("body", 5, "any", False),
                  ("attributes", 6, "attribute", REPEATED), ("flags", 8, "fixed32", False),
                  ("trace_id", 9, "id", False), ("span_id", 10, "id", False),
                  ("observed_time_unix_nano", 11, "fixed64", False), ("event_name", 12, "string", False)],
    "Span": [("trace_id", 1, "id", False), ("span_id", 2, "id", False), ("parent_span_id", 4, "id", False),
             ("name", 5, "string", False), ("kind", 6, "enum", False),
             ("start_time_unix_nano", 7, "fixed64", False), ("end_time_unix_nano", 8, "fixed64", False),
             ("attributes", 9, "attribute", REPEATED), ("status", 15, "Status", False)],
    "Status": [("message", 2, "string", False), ("code", 3, "enum", False)],
}
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


_ONE_BYTE = [bytes((value,)) for value in range(128)]


def _varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _ONE_BYTE[value]  # most tags, lengths and counts: no loop
    value &= (1 << 64) - 1  # negative int64: ten bytes of two's complement, as protobuf writes it
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _scalar(kind: str, value: Any) -> bytes:
    if kind in ("int64", "enum", "bool"):
        return _varint(int(value))
    if kind == "fixed64":
        return struct.pack("<Q", value)
    if kind == "double":
        return struct.pack("<d", value)
    if kind == "fixed32":
        return struct.pack("<I", value)
    data = value.encode("utf-8", "surrogateescape") if kind == "string" else bytes(value)
    return _varint(len(data)) + data


_WIRE = {"int64": VARINT, "enum": VARINT, "bool": VARINT, "fixed64": FIXED64, "double": FIXED64,
         "fixed32": FIXED32}
# message -> [(field, its tag's bytes, type, repeated, is a message)], computed once
_COMPILED = {message: [(name, _varint(number << 3 | (LENGTH if kind in MESSAGES else _WIRE.get(kind, LENGTH))),
                        kind, repeated, kind in MESSAGES) for name, number, kind, repeated in fields]
             for message, fields in MESSAGES.items()}


def to_protobuf(message: str, value: dict) -> bytes:
    out = bytearray()
    for name, tag, kind, repeated, nested in _COMPILED[message]:
        if name not in value:
            continue
        for item in value[name] if repeated else (value[name],):
            if nested:
                data = to_protobuf(kind, item)
            elif kind == "attribute":
                data = _key_value(*item)
            elif kind == "any":
                data = _any_value(item)
            elif item:  # proto3: a scalar at its default is not written
                out += tag + _scalar(kind, item)
                continue
            else:
                continue
            out += tag + _varint(len(data)) + data
    return bytes(out)


def _text(text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape")
    return _varint(len(data)) + data


_KEYS: dict[str, bytes] = {}  # attribute key -> its encoded field: a few dozen keys, used over and over


def _key_value(key: str, value: Any) -> bytes:
    """KeyValue {key = 1; AnyValue value = 2}."""
    head = _KEYS.get(key)
    if head is None:
        head = b"\x0a" + _text(key)
        if len(_KEYS) < 4096:  # keys inside tables (GitButler trailers, rebase steps) are open-ended
            _KEYS[key] = head
    data = _any_value(value)
    return head + b"\x12" + _varint(len(data)) + data


def _any_value(value: Any) -> bytes:
    """AnyValue, a oneof: string 1, bool 2, int 3, double 4, array 5, kvlist 6 (a member at its default
    value is still written: it says which member is set)."""
    if isinstance(value, str):
        return b"\x0a" + _text(value)
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + struct.pack("<d", value)
    if isinstance(value, dict):
        data = b"".join(b"\x0a" + _length(_key_value(key, item)) for key, item in value.items())
        return b"\x32" + _length(data)
    data = b"".join(b"\x0a" + _length(_any_value(item)) for item in value)
    return b"\x2a" + _length(data)


def _length(data: bytes) -> bytes:
    return _varint(len(data)) + data


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_JSON_NAMES = {message: [(name, _camel(name), kind, repeated) for name, _, kind, repeated in fields]
               for message, fields in MESSAGES.items()}


def to_json(message: str, value: dict) -> dict:
    """The OTLP/JSON form: lowerCamelCase names, 64-bit integers as decimal strings, enums as numbers,
    trace and span ids as hex (OTLP's exception to the protobuf JSON mapping)."""
    out: dict[str, Any] = {}
    for name, camel, kind, repeated in _JSON_NAMES[message]:
        if name not in value:
            continue
        if repeated:
            out[camel] = [_json_value(kind, item) for item in value[name]]
        elif value[name] or kind in MESSAGES:
            out[camel] = _json_value(kind, value[name])
    return out


def _json_value(kind: str, value: Any) -> Any:
    if kind in MESSAGES:
        return to_json(kind, value)
    if kind == "attribute":
        return {"key": value[0], "value": _json_any(value[1])}
    if kind == "any":
        return _json_any(value)
    if kind in ("fixed64", "int64"):
        return str(int(value))
    if kind == "id":
        return bytes(value).hex()
    return value


def _json_any(value: Any) -> dict:
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value} if math.isfinite(value) else {"stringValue": str(value)}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": key, "value": _json_any(item)} for key, item in value.items()]}}
    return {"arrayValue": {"values": [_json_any(item) for item in value]}}


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
