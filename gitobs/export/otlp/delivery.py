"""OTLP export with a durable cursor: every event and trace reaches the collector once, whether it is up,
down for a day, or the export is killed half way.

Per endpoint, `.git/obs/export/otlp-<token>/` holds `cursor.json` and a queue of encoded requests. A run
1. sends what the queue holds (left by a run that could not reach the collector), oldest first;
2. reads the events after the cursor's seq, in chunks; for each chunk it writes the logs request and the
   traces request it makes into the queue, then the cursor (its seq, the open traces, the queue's names)
   in one atomic write, then sends and dequeues them one by one.
A request is in the queue until the collector accepted it, so an outage loses nothing, and a chunk is read
once, so nothing is sent twice. The one window left is a crash between the collector's answer and the
cursor's write: that request is sent again on the next run (at-least-once there; each log record carries
`gitobs.event.id` and each span a stable id, for backends that deduplicate).
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import msgspec

from gitobs.core import config
from gitobs.core.files import write_atomic
from gitobs.core.lock import exclusive
from gitobs.core.redact import Redactor, export_salt, repository_label, token
from gitobs.core.registry import data_home
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.core.safe_text import inert
from gitobs.export.otlp import records
from gitobs.export.otlp.send import Retry, Sender
from gitobs.export.otlp.traces import TraceBuilder
from gitobs.export.otlp.wire import to_json, to_protobuf
from gitobs.log import schema
from gitobs.log.eventlog import EventLog, segment_number

CHUNK_EVENTS = 1024  # log records a request: about 1 MiB before gzip, well under collectors' limits
EXTENSIONS = {"protobuf": "pb", "json": "json"}
MESSAGE = {"logs": "ExportLogsServiceRequest", "traces": "ExportTraceServiceRequest"}


@dataclass(frozen=True)
class OtlpSettings:
    endpoint: str
    encoding: str = "protobuf"
    headers: dict = field(default_factory=dict)
    timeout_s: float = 10.0
    redact: bool = True

    @classmethod
    def load(cls, common_dir: Path) -> OtlpSettings:
        found = config.load(common_dir, config.main_work_tree(common_dir))
        return cls(endpoint=found["export.otlp.endpoint"], encoding=found["export.otlp.encoding"],
                   headers=found["export.otlp.headers"], timeout_s=found["export.otlp.timeout"],
                   redact=found["export.otlp.redact"])


@dataclass
class Cursor:
    endpoint: str = ""
    seq: int = 0  # the last event read into the queue
    segment: int = 0  # where to start reading: the segment that held that event
    traces: dict = field(default_factory=dict)  # TraceBuilder state: commits and checkouts still open
    queue: list[str] = field(default_factory=list)  # request files not yet accepted, oldest first
    made: int = 0  # requests queued so far: the next one's number, so that no two share a file name
    records: int = 0  # accepted so far
    spans: int = 0
    rejected: int = 0  # refused by the collector in a partial success (not retried, as OTLP asks)
    last_ok: str = ""  # UTC, ISO 8601
    last_error: str = ""


@dataclass
class ExportResult:
    skipped: bool = False  # another export of this endpoint is running
    records: int = 0
    spans: int = 0
    requests: int = 0
    queued: int = 0  # requests still waiting for the collector
    error: str = ""
    done: bool = True  # False: stopped by the time budget, with events still to read


def queue_dir(obs: ObsPaths, endpoint: str) -> Path:
    return obs.root / "export" / f"otlp-{token(endpoint, b'gitobs-endpoint')}"


def load_cursor(directory: Path, endpoint: str) -> Cursor:
    try:
        raw = json.loads((directory / "cursor.json").read_text())
        known = {name: raw[name] for name in Cursor.__dataclass_fields__ if name in raw}
        return Cursor(**known)
    except FileNotFoundError:
        return Cursor(endpoint=endpoint)
    except (ValueError, TypeError) as exc:
        raise GitobsError(f"{directory / 'cursor.json'}: unreadable export cursor ({exc}); delete the "
                          f"directory to export everything again") from None


def save_cursor(directory: Path, cursor: Cursor) -> None:
    write_atomic(directory / "cursor.json", (json.dumps(asdict(cursor), indent=1) + "\n").encode())


def export(common_dir: Path, settings: OtlpSettings, retry: Retry = Retry(), budget_s: float | None = None,
           wait_s: float = 10.0, now_ns: int | None = None, sleep=time.sleep) -> ExportResult:
    if not settings.endpoint:
        raise GitobsError("no OTLP endpoint: pass --endpoint URL or set export.otlp.endpoint in your "
                          "user config (gitobs config set --user export.otlp.endpoint URL)")
    obs = ObsPaths(common_dir)
    directory = queue_dir(obs, settings.endpoint)
    directory.mkdir(parents=True, exist_ok=True)
    with exclusive(directory / "lock", wait_s) as held:
        if not held:
            return ExportResult(skipped=True)
        run = _Run(obs, directory, settings, Sender(settings.endpoint, settings.headers, settings.timeout_s,
                                                      retry, sleep), budget_s, now_ns)
        return run.go()


class _Run:
    def __init__(self, obs: ObsPaths, directory: Path, settings: OtlpSettings, sender: Sender,
                 budget_s: float | None, now_ns: int | None) -> None:
        self.obs, self.directory, self.settings, self.sender = obs, directory, settings, sender
        self.deadline = None if budget_s is None else time.monotonic() + budget_s
        self.now_ns = now_ns if now_ns is not None else time.time_ns()
        self.cursor = load_cursor(directory, settings.endpoint)
        self.result = ExportResult()
        salt = export_salt(data_home()) if settings.redact else None
        self.redactor = Redactor(salt) if salt is not None else None
        self.repository = repository_label(obs.common_dir, salt)

    def go(self) -> ExportResult:
        self._drop_orphans()
        if self._drain():
            self._read_on()
        self.result.queued = len(self.cursor.queue)
        self.result.error = self.cursor.last_error if self.result.queued else ""
        return self.result

    def _read_on(self) -> None:
        builder = TraceBuilder(copy.deepcopy(self.cursor.traces))
        chunk: list[schema.Event] = []
        segment = self.cursor.segment
        for segment, event in _events_after(EventLog(self.obs.log), self.cursor.seq, self.cursor.segment):
            chunk.append(event)
            if len(chunk) == CHUNK_EVENTS:
                if not self._ship(chunk, builder, segment) or self._out_of_time():
                    self.result.done = False
                    return
                chunk = []
        self._ship(chunk, builder, segment, last=True)

    def _ship(self, chunk: list[schema.Event], builder: TraceBuilder, segment: int, last: bool = False) -> bool:
        """Queue one chunk's requests together with the cursor past it, then send the queue. The last
        chunk also finishes the traces that can no longer grow."""
        if self.redactor is not None:
            for event in chunk:
                # a keyed id (the log's is an unkeyed hash of its origin, a guessed name checkable against it),
                # before the traces, whose ids are made of it
                event.id = self.redactor.event_id(event.id)
                event.wt = self.redactor.worktree(event.wt)  # before the traces, whose saved state is by worktree
                if isinstance(event.data, dict):
                    event.data = self.redactor.payload(event.data)
        log_records = [records.log_record(event, self.now_ns, builder.feed(event)) for event in chunk]
        if last:
            builder.settle(self.now_ns)
            if not log_records and not builder.finished:
                return True
        names = []
        if log_records:
            names.append(self._enqueue("logs", records.logs_request(self.repository, log_records)))
        if builder.finished:
            names.append(self._enqueue("traces", records.traces_request(self.repository, builder.finished)))
            builder.finished = []
        if chunk:
            self.cursor.seq, self.cursor.segment = chunk[-1].seq, segment
        self.cursor.traces = copy.deepcopy(builder.state())
        self.cursor.queue += names
        save_cursor(self.directory, self.cursor)
        return self._drain()

    def _enqueue(self, signal: str, request: dict) -> str:
        encoding = self.settings.encoding
        body = (to_protobuf(MESSAGE[signal], request) if encoding == "protobuf"
                else json.dumps(to_json(MESSAGE[signal], request), separators=(",", ":")).encode())
        self.cursor.made += 1
        name = f"{self.cursor.made:010d}-{signal}-{_count(signal, request)}.{EXTENSIONS[encoding]}"
        write_atomic(self.directory / name, body)
        return name

    def _drain(self) -> bool:
        """Send the queue in order; stop at the first request the collector did not take."""
        while self.cursor.queue:
            name = self.cursor.queue[0]
            signal, count = name.split("-")[1], int(name.split("-")[2].split(".")[0])
            encoding = "json" if name.endswith(".json") else "protobuf"
            try:
                body = (self.directory / name).read_bytes()
            except FileNotFoundError:  # deleted by hand: said once, not retried forever
                self.cursor.queue.pop(0)
                self.cursor.last_error = f"the queued request {name} was missing; its {count} item(s) are lost"
                save_cursor(self.directory, self.cursor)
                continue
            delivery = self.sender.send(signal, body, encoding)
            if not delivery.ok:
                self.cursor.last_error = delivery.error
                save_cursor(self.directory, self.cursor)
                return False
            self._count_sent(signal, count - delivery.rejected, delivery.rejected)
            self.cursor.queue.pop(0)
            save_cursor(self.directory, self.cursor)
            (self.directory / name).unlink(missing_ok=True)
            if self._out_of_time() and self.cursor.queue:
                self.result.done = False
                return False
        return True

    def _count_sent(self, signal: str, accepted: int, rejected: int) -> None:
        self.result.requests += 1
        self.cursor.rejected += rejected
        self.cursor.last_ok, self.cursor.last_error = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), ""
        if signal == "logs":
            self.cursor.records += accepted
            self.result.records += accepted
        else:
            self.cursor.spans += accepted
            self.result.spans += accepted

    def _drop_orphans(self) -> None:
        """Request files a killed run wrote before its cursor named them: that chunk is read again."""
        queued = set(self.cursor.queue)
        for path in self.directory.iterdir():
            if path.name[:1].isdigit() and path.name not in queued:
                path.unlink(missing_ok=True)

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


def _count(signal: str, request: dict) -> int:
    if signal == "logs":
        return sum(len(scope["log_records"]) for item in request["resource_logs"] for scope in item["scope_logs"])
    return sum(len(scope["spans"]) for item in request["resource_spans"] for scope in item["scope_spans"])


def _events_after(log: EventLog, seq: int, segment_hint: int) -> Iterator[tuple[int, schema.Event]]:
    """The events with a seq above `seq`, with their segment's number, starting at the hinted segment when
    it is where `seq` was read (a gc rewrite renumbers segments: then from the start)."""
    segments = log.segments()
    numbers = [segment_number(path) for path in segments]
    start = next((index for index, number in enumerate(numbers) if number >= segment_hint), len(numbers))
    if seq and start and not _starts_at_or_before(log, start, seq + 1):
        start = 0
    for index in range(start, len(segments)):
        for content in log.iter_contents(start=index, stop=index + 1):
            for line in content.split(b"\n"):
                event = _decode(line)
                if event is not None and event.seq > seq:
                    yield numbers[index], event


def _starts_at_or_before(log: EventLog, index: int, seq: int) -> bool:
    for content in log.iter_contents(start=index, stop=index + 1):
        first = _decode(content.split(b"\n", 1)[0])
        return first is not None and first.seq <= seq
    return False


def _decode(line: bytes) -> schema.Event | None:
    if not line:
        return None
    try:
        event = schema.decode(line)
        schema.parse_ts(event.ts)
        return event
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None  # `gitobs doctor` reports such lines; a collector gets none of them


def forget(obs: ObsPaths) -> None:
    """`gitobs purge`: queued requests hold events, so they go too (each export's lock taken first, so a
    running export is not cut off in the middle of a write). The new log's events are all unsent."""
    for directory in sorted((obs.root / "export").glob("otlp-*")):
        with exclusive(directory / "lock", 30.0):
            shutil.rmtree(directory, ignore_errors=True)


def describe(common_dir: Path, seq: int) -> list[str]:
    """`gitobs status`'s lines for the configured export (none when it is off); `seq`: the log's last."""
    settings = OtlpSettings.load(common_dir)
    if not settings.endpoint:
        return []
    directory = queue_dir(ObsPaths(common_dir), settings.endpoint)
    cursor = load_cursor(directory, settings.endpoint) if directory.is_dir() else Cursor()
    line = (f"export otlp: {inert(settings.endpoint)} ({settings.encoding}"
            f"{', names in clear' if not settings.redact else ''}); {cursor.records} record(s) and "
            f"{cursor.spans} span(s) sent, last at {cursor.last_ok or 'never'}; "
            f"{max(0, seq - cursor.seq)} event(s) not yet read, {len(cursor.queue)} request(s) queued")
    lines = [line]
    if cursor.rejected:
        lines.append(f"export otlp: the collector refused {cursor.rejected} record(s) or span(s)")
    if cursor.last_error:
        lines.append(f"export otlp: last error: {inert(cursor.last_error)}")
    return lines
