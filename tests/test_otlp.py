"""OTLP export against a local receiver on 127.0.0.1 that decodes every request with the official
opentelemetry-proto definitions: every event and trace exactly once, through outages and kills."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import commit_file, git, gitobs, user_hook
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from gitobs.capture.install import install
from gitobs.core.homes import data_home
from gitobs.core.redact import Redactor, export_salt
from gitobs.core.repo import locate
from gitobs.export.otlp import delivery
from gitobs.export.otlp.delivery import OtlpSettings, export
from gitobs.export.otlp.send import Retry
from gitobs.export.otlp.wire import to_json, to_protobuf
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan

NO_RETRY = Retry(attempts=1)
SHORT_RETRY = Retry(attempts=4, base_s=0.01, cap_s=0.02)


class Receiver:
    """An OTLP/HTTP collector stand-in: `fail` answers the next N requests with a status; `down` closes it."""

    def __init__(self, port: int = 0) -> None:
        self.logs: list = []  # decoded LogRecords, in arrival order
        self.spans: list = []
        self.requests: list[tuple[str, str, dict]] = []  # path, content type, headers
        self.fail: list[tuple[int, dict]] = []  # (status, headers) for the next requests
        self.reject = 0  # partial success: rejected count in the next logs answer
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append((self.path, self.headers["Content-Type"], dict(self.headers)))
                    if receiver.fail:
                        status, headers = receiver.fail.pop(0)
                        self.send_response(status)
                        for name, value in headers.items():
                            self.send_header(name, value)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    answer = receiver.take(self.path, self.headers["Content-Type"], self.headers, body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def take(self, path: str, content_type: str, headers, body: bytes) -> bytes:
        assert headers["Content-Encoding"] == "gzip"
        raw = gzip.decompress(body)
        message = ExportLogsServiceRequest() if path.endswith("/v1/logs") else ExportTraceServiceRequest()
        if content_type == "application/x-protobuf":
            message.ParseFromString(raw)
        else:
            assert content_type == "application/json"
            json_format.Parse(json.dumps(hex_ids_to_base64(json.loads(raw))), message)
        if path.endswith("/v1/logs"):
            self.logs += [(resource, record) for resource in message.resource_logs
                          for scope in resource.scope_logs for record in scope.log_records]
            if self.reject:
                rejected, self.reject = self.reject, 0
                return ExportLogsServiceResponse(partial_success=ExportLogsPartialSuccess(
                    rejected_log_records=rejected, error_message="too old")).SerializeToString()
        else:
            self.spans += [span for resource in message.resource_spans for scope in resource.scope_spans
                           for span in scope.spans]
        return b""

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()

    def event_ids(self) -> list[str]:
        return [attribute(record, "gitobs.event.id") for _, record in self.logs]

    def traces(self) -> dict[bytes, list]:
        found: dict[bytes, list] = {}
        for span in self.spans:
            found.setdefault(span.trace_id, []).append(span)
        return found


def hex_ids_to_base64(node):
    """OTLP/JSON writes trace and span ids in hex; the protobuf JSON mapping reads bytes as base64."""
    if isinstance(node, dict):
        return {key: base64.b64encode(bytes.fromhex(value)).decode() if key in ("traceId", "spanId", "parentSpanId")
                else hex_ids_to_base64(value) for key, value in node.items()}
    if isinstance(node, list):
        return [hex_ids_to_base64(item) for item in node]
    return node


def attribute(message, key: str):
    for item in message.attributes:
        if item.key == key:
            return getattr(item.value, item.value.WhichOneof("value"))
    return None


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def session(repo, tmp_path):
    """A repository with the user's own pre-commit and commit-msg hooks chained, and a scripted session:
    an editor-timed commit, a blocked one, switches, an amend."""
    user_hook(repo, "pre-commit", "sleep 0.3\ntest ! -e \"$(git rev-parse --git-dir)/block\"\n")
    user_hook(repo, "commit-msg", "sleep 0.2\n")
    install(locate(repo))
    scan(locate(repo).common_dir)
    commit_file(repo, "src/app.py", "a\n")  # message given: no editing
    (repo / "src" / "app.py").write_text("a\nb\n")
    git(repo, "add", "src/app.py")
    git(repo, "commit", "-q", GIT_EDITOR="sh -c 'sleep 1; echo edited > \"$1\"' editor")
    (repo / ".git" / "block").write_text("")
    (repo / "src" / "app.py").write_text("blocked\n")
    git(repo, "commit", "-qam", "refused", ok=False)
    (repo / ".git" / "block").unlink()
    git(repo, "checkout", "-q", "-b", "feature/secret-name")
    git(repo, "checkout", "-q", "main")
    return repo


def logged(repo: Path) -> list:
    scan(locate(repo).common_dir)
    return list(read_events(locate(repo).obs, lambda message: None))


def settings(receiver: Receiver, **changes) -> OtlpSettings:
    return OtlpSettings(endpoint=receiver.url, **changes)


def sent(event_id: str) -> str:
    """An event's id as a redacted export sends it: keyed with the exporters' salt (the log's would let a
    collector check a guessed branch name)."""
    return Redactor(export_salt(data_home())).event_id(event_id)


def export_scanned(common: Path, endpoint: OtlpSettings, *args, **kwargs):
    """What `gitobs export otlp` does: scan, then export."""
    scan(common)
    return export(common, endpoint, *args, **kwargs)


LATER = 4 * 10**18  # a `now` long after everything (2096): every open trace settles


def test_wire_encodings_decode_with_the_official_definitions():
    request = {"resource_logs": [{"resource": {"attributes": [("k", -3)]},
                                  "scope_logs": [{"scope": {"name": "gitobs"}, "log_records": [{
                                      "time_unix_nano": 1_700_000_000_123_000_000, "severity_number": 9,
                                      "event_name": "commit.created", "trace_id": bytes(range(16)),
                                      "span_id": bytes(range(8)), "attributes": [
                                          ("zero", 0), ("no", False), ("f", 0.25), ("path", "dir/\u00e9.py"),
                                          ("files", [{"added": 7}]), ("big", 1 << 62)]}]}]}]}
    from_protobuf = ExportLogsServiceRequest.FromString(to_protobuf("ExportLogsServiceRequest", request))
    from_json = json_format.Parse(json.dumps(hex_ids_to_base64(to_json("ExportLogsServiceRequest", request))),
                                  ExportLogsServiceRequest())
    assert from_protobuf == from_json
    record = from_protobuf.resource_logs[0].scope_logs[0].log_records[0]
    assert record.time_unix_nano == 1_700_000_000_123_000_000 and record.trace_id == bytes(range(16))
    assert [attribute(record, key) for key in ("zero", "no", "f", "path")] == [0, False, 0.25, "dir/\u00e9.py"]
    assert attribute(from_protobuf.resource_logs[0].resource, "k") == -3
    assert record.attributes[4].value.array_value.values[0].kvlist_value.values[0].value.int_value == 7
    assert attribute(record, "big") == 1 << 62


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_every_event_once_and_commits_as_traces_of_their_hook_phases(session, receiver, encoding):
    events = logged(session)
    result = export_scanned(locate(session).common_dir, settings(receiver, encoding=encoding), NO_RETRY, now_ns=LATER)
    assert result.queued == 0 and result.error == ""
    assert sorted(receiver.event_ids()) == sorted(sent(event.id) for event in events)
    assert {content for _, content, _ in receiver.requests} == {
        "application/x-protobuf" if encoding == "protobuf" else "application/json"}
    resource = receiver.logs[0][0].resource
    assert attribute(resource, "service.name") == "gitobs"
    assert attribute(resource, "gitobs.repository").startswith("r")  # redacted: a token, not "work"

    by_id = {attribute(record, "gitobs.event.id"): record for _, record in receiver.logs}
    created = [event for event in events if event.type == "commit.created"]
    assert by_id[sent(created[0].id)].event_name == "commit.created"
    assert attribute(by_id[sent(created[0].id)], "gitobs.added") == created[0].data["added"]
    assert attribute(by_id[sent(created[0].id)], "gitobs.event.seq") == created[0].seq

    traces = receiver.traces()
    roots = {trace: next(span for span in spans if not span.parent_span_id) for trace, spans in traces.items()}
    commits = [trace for trace, root in roots.items() if root.name == "git commit"]
    checkouts = [trace for trace, root in roots.items() if root.name == "git checkout"]
    switches = [event for event in events if event.type == "branch.switch"]
    attempts = [event for event in events if event.type == "commit.attempt"]
    assert len(checkouts) == len(switches) == 2
    assert len(commits) == len(attempts) + 1  # the commit made before install: a reflog-only trace
    edited = next(trace for trace in commits if any(s.name == "message editing" for s in traces[trace]))
    phases = {span.name: span for span in traces[edited]}
    assert set(phases) == {"git commit", "pre-commit", "message editing", "commit-msg"}
    edit = next(event for event in events if event.type == "commit.message_edit")
    editing = phases["message editing"]
    assert abs((editing.end_time_unix_nano - editing.start_time_unix_nano) / 1e9 - edit.data["seconds"]) < 0.002
    hook_seconds = {event.data["hook"]: event.data["seconds"] for event in events if event.type == "hook.ran"
                    and event.ts >= attempts[1].ts and event.ts <= edit.ts}
    pre_commit = phases["pre-commit"]
    assert abs((pre_commit.end_time_unix_nano - pre_commit.start_time_unix_nano) / 1e9
               - hook_seconds["pre-commit"]) < 0.002
    assert pre_commit.end_time_unix_nano <= editing.start_time_unix_nano <= editing.end_time_unix_nano
    assert phases["commit-msg"].start_time_unix_nano >= editing.end_time_unix_nano - 2_000_000
    root = phases["git commit"]
    assert root.start_time_unix_nano <= pre_commit.start_time_unix_nano
    assert root.end_time_unix_nano >= phases["commit-msg"].end_time_unix_nano - 2_000_000
    blocked = next(trace for trace in commits if roots[trace].status.code == 2)
    refused = next(span for span in traces[blocked] if span.parent_span_id)
    assert refused.name == "pre-commit" and refused.status.code == 2
    # each event of a commit's trace links to it
    assert by_id[sent(edit.id)].trace_id == edited


def test_a_collector_outage_loses_nothing_and_duplicates_nothing(session, receiver):
    common = locate(session).common_dir
    endpoint = settings(receiver)
    receiver.fail = [(503, {})] * 3
    first = export_scanned(common, endpoint, NO_RETRY, now_ns=LATER)
    assert first.queued == 2 and "503" in first.error and receiver.logs == []  # its logs and traces
    commit_file(session, "src/more.py", "x\n")
    receiver.close()  # down altogether: connection refused
    down = export_scanned(common, endpoint, SHORT_RETRY, now_ns=LATER, sleep=lambda s: None)
    assert down.queued == 2 and down.records == 0
    revived = Receiver(port=receiver.port)  # back, at the same address
    try:
        export_scanned(common, endpoint, NO_RETRY, now_ns=LATER)
        assert sorted(revived.event_ids()) == sorted(sent(event.id) for event in logged(session))
        assert len(revived.traces()) == len({span.trace_id for span in revived.spans})
    finally:
        revived.close()


def test_retries_until_the_collector_answers_and_sends_each_request_once(session, receiver):
    common = locate(session).common_dir
    waits: list[float] = []
    receiver.fail = [(503, {}), (429, {"Retry-After": "1"}), (502, {})]
    result = export_scanned(common, settings(receiver), SHORT_RETRY, now_ns=LATER, sleep=waits.append)
    assert result.queued == 0
    assert waits[1] == 1.0 and all(0 < wait <= 0.02 for wait in (waits[0], waits[2]))
    events = logged(session)
    commit_file(session, "src/next.py", "y\n")
    receiver.fail = [(503, {})] * 10
    stuck = export_scanned(common, settings(receiver), NO_RETRY, now_ns=LATER)
    assert stuck.queued and receiver.event_ids().count(sent(events[0].id)) == 1
    receiver.fail = []
    export_scanned(common, settings(receiver), NO_RETRY, now_ns=LATER)
    ids = receiver.event_ids()
    assert len(ids) == len(set(ids)) == len(logged(session))
    spans = [(span.trace_id, span.span_id) for span in receiver.spans]
    assert len(spans) == len(set(spans))


def test_a_killed_export_resumes_without_loss_or_duplicates(session, receiver, monkeypatch):
    common = locate(session).common_dir
    monkeypatch.setattr(delivery, "CHUNK_EVENTS", 3)
    real_send = delivery.Sender.send
    calls = {"n": 0}

    def dies_on_the_third(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed between queueing a chunk and sending it
        return real_send(self, *args)

    monkeypatch.setattr(delivery.Sender, "send", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        export_scanned(common, settings(receiver), NO_RETRY, now_ns=LATER)
    monkeypatch.setattr(delivery.Sender, "send", real_send)
    export_scanned(common, settings(receiver), NO_RETRY, now_ns=LATER)
    ids = receiver.event_ids()
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(sent(event.id) for event in logged(session))
    spans = [span.span_id for span in receiver.spans]
    assert len(spans) == len(set(spans))


def test_partial_success_is_counted_not_resent(session, receiver):
    receiver.reject = 2
    result = export_scanned(locate(session).common_dir, settings(receiver), NO_RETRY, now_ns=LATER)
    cursor = delivery.load_cursor(delivery.queue_dir(locate(session).obs, receiver.url), receiver.url)
    assert cursor.rejected == 2 and result.records == len(receiver.logs) - 2 and result.queued == 0


def test_names_are_redacted_unless_the_user_says_otherwise(session, receiver, tmp_path, monkeypatch):
    common = locate(session).common_dir
    export_scanned(common, settings(receiver), NO_RETRY, now_ns=LATER)
    sent = [str(record) for _, record in receiver.logs] + [str(span) for span in receiver.spans]
    assert not any("secret-name" in text or "src/app.py" in text for text in sent)
    switch = next(record for _, record in receiver.logs if record.event_name == "branch.switch")
    assert attribute(switch, "gitobs.to").startswith("n")
    # the repository's own config cannot turn redaction off (or set an endpoint)
    (session / ".gitobs.toml").write_text('[export.otlp]\nredact = false\nendpoint = "http://127.0.0.1:9"\n')
    assert OtlpSettings.load(common) == OtlpSettings(endpoint="")
    # the user's config can
    user = tmp_path / "user-config"
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(user))
    second = Receiver()
    try:
        gitobs("config", "set", "--user", "export.otlp.redact", "false", cwd=session)
        gitobs("config", "set", "--user", "export.otlp.endpoint", second.url, cwd=session)
        gitobs("export", "otlp", cwd=session)
        texts = [str(record) for _, record in second.logs]
        assert any("feature/secret-name" in text for text in texts)
    finally:
        second.close()


def test_a_redacted_export_hashes_linked_worktree_names_as_it_hashes_branches(watched, receiver, tmp_path):
    linked = tmp_path / "secret-lane"  # the worktree's name is its directory's: secret-lane, as its branch
    git(watched, "worktree", "add", "-q", "-b", "secret-lane", str(linked))
    commit_file(linked, "lane.txt", "l\n", "in the linked worktree")
    commit_file(watched, "main.txt", "m\n", "in the main worktree")
    export_scanned(locate(watched).common_dir, settings(receiver), NO_RETRY, now_ns=LATER)
    sent = [str(record) for _, record in receiver.logs] + [str(span) for span in receiver.spans]
    assert sent and not any("secret-lane" in text for text in sent)
    commits = [record for _, record in receiver.logs if record.event_name == "commit.created"]
    worktrees = {attribute(record, "gitobs.worktree"): attribute(record, "gitobs.branch") for record in commits}
    [lane] = set(worktrees) - {"."}  # the main worktree stays "."
    assert lane == worktrees[lane] and lane.startswith("n")  # the branch's token: the same name, the same token


def test_scans_export_continuously_when_the_user_configures_it(session, receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "user-config"))
    gitobs("config", "set", "--user", "export.otlp.endpoint", receiver.url, cwd=session)
    gitobs("scan", cwd=session)
    first = len(receiver.logs)
    assert first == len(logged(session))
    commit_file(session, "src/after.py", "z\n")
    gitobs("scan", cwd=session)
    assert sorted(receiver.event_ids()) == sorted(sent(event.id) for event in logged(session))
    status = gitobs("status", cwd=session).stdout
    assert "otlp" in status and receiver.url in status


def test_the_command_reports_a_collector_down_and_exits_1(session):
    done = gitobs("export", "otlp", "--endpoint", "http://127.0.0.1:9", cwd=session, ok=False)
    assert done.returncode == 1 and "kept for the next run" in done.stderr and "Traceback" not in done.stderr
    bad = gitobs("export", "otlp", "--endpoint", "ftp://x", cwd=session, ok=False)
    assert bad.returncode == 2 and "http://" in bad.stderr
    none = gitobs("export", "otlp", cwd=session, ok=False)
    assert none.returncode == 2 and "no OTLP endpoint" in none.stderr


def test_hostile_names_travel_as_valid_otlp(repo, receiver):
    install(locate(repo))
    git(repo, "checkout", "-q", "-b", "evil\"quote'<b>\u00e9")
    name = os.fsdecode(b"caf\xe9-\x1b[2J.txt")  # not UTF-8, and a terminal escape
    (repo / name).write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "odd")
    for encoding in ("protobuf", "json"):
        receiver.logs.clear()
        export_scanned(locate(repo).common_dir, OtlpSettings(endpoint=receiver.url + f"/{encoding}",
                                                             encoding=encoding, redact=False), NO_RETRY, now_ns=LATER)
        switch = [record for _, record in receiver.logs if record.event_name == "branch.switch"][-1]
        assert attribute(switch, "gitobs.to") == "evil\"quote'<b>\u00e9"  # in clear, as asked
        created = [record for _, record in receiver.logs if record.event_name == "commit.created"][-1]
        files = created.attributes[[a.key for a in created.attributes].index("gitobs.files")]
        path = files.value.array_value.values[0].kvlist_value.values[0].value.string_value
        assert path == "caf\\xe9-\x1b[2J.txt"  # the log keeps a byte that was not UTF-8 as text


def test_imported_history_is_sent_once_each_commit_a_one_span_trace(repo, receiver):
    for number in range(5):
        commit_file(repo, f"old/{number}.py", "x\n" * number, f"old {number}")
    shutil.rmtree(repo / ".git" / "logs")  # as after a clone: history the reflogs never saw
    install(locate(repo))
    gitobs("import", cwd=repo)
    export_scanned(locate(repo).common_dir, settings(receiver), NO_RETRY, now_ns=LATER)
    imported = [event for event in logged(repo) if event.src == "import" and event.type == "commit.created"]
    assert len(imported) == 6  # the fixture's first commit and these five
    traces = receiver.traces()
    by_event = {attribute(record, "gitobs.event.id"): record for _, record in receiver.logs}
    for event in imported:
        spans = traces[by_event[sent(event.id)].trace_id]
        assert [span.name for span in spans] == ["git commit"]
        assert spans[0].start_time_unix_nano == spans[0].end_time_unix_nano
    assert sorted(receiver.event_ids()) == sorted(sent(event.id) for event in logged(repo))


def test_traces_that_settle_later_are_sent_and_nothing_queued_is_overwritten(session, receiver):
    common = locate(session).common_dir
    receiver.fail = [(503, {})]
    export_scanned(common, settings(receiver), NO_RETRY)  # now: the last checkout may still get its hook
    export(common, settings(receiver), NO_RETRY, now_ns=LATER)  # the queue first, then what settled
    roots = [span for span in receiver.spans if not span.parent_span_id]
    switches = [event for event in logged(session) if event.type == "branch.switch"]
    attempts = [event for event in logged(session) if event.type == "commit.attempt"]
    assert sum(root.name == "git checkout" for root in roots) == len(switches)
    assert sum(root.name == "git commit" for root in roots) == len(attempts) + 1
    assert len({root.trace_id for root in roots}) == len(roots)
