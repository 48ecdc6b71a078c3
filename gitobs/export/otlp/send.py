"""OTLP/HTTP delivery of one encoded request: gzip, a timeout, and retries with backoff where the
protocol says a retry may succeed (429, 502, 503, 504, and no answer at all), honouring Retry-After."""

from __future__ import annotations

import gzip
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from gitobs import __version__
from gitobs.export.otlp.wire import read_rejected

PATHS = {"logs": "/v1/logs", "traces": "/v1/traces"}
CONTENT_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}
RETRYABLE = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class Retry:
    attempts: int = 5  # in all, the first included
    base_s: float = 0.5  # the first wait; doubled each time, with jitter
    cap_s: float = 8.0


@dataclass
class Delivery:
    ok: bool
    retryable: bool = False  # worth trying again later (the collector is down or busy)
    error: str = ""
    rejected: int = 0  # the collector's partial success: accepted the request, refused these items


class Sender:
    def __init__(self, endpoint: str, headers: dict[str, str], timeout_s: float, retry: Retry = Retry(),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.headers = headers
        self.timeout_s = timeout_s
        self.retry = retry
        self.sleep = sleep

    def send(self, signal: str, body: bytes, encoding: str) -> Delivery:
        delivery = Delivery(ok=False)
        for attempt in range(self.retry.attempts):
            delivery, wait_s = self._post(signal, body, encoding)
            if delivery.ok or not delivery.retryable or attempt == self.retry.attempts - 1:
                break
            backoff = min(self.retry.cap_s, self.retry.base_s * 2 ** attempt) * random.uniform(0.5, 1.0)
            self.sleep(wait_s if wait_s is not None else backoff)
        return delivery

    def _post(self, signal: str, body: bytes, encoding: str) -> tuple[Delivery, float | None]:
        request = urllib.request.Request(
            self.endpoint + PATHS[signal], data=gzip.compress(body, 6), method="POST",
            headers={**self.headers, "Content-Type": CONTENT_TYPES[encoding], "Content-Encoding": "gzip",
                     "User-Agent": f"gitobs/{__version__}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - http(s) only
                answer = response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            retryable = exc.code in RETRYABLE
            detail = _printable(exc.read(300)) if not retryable else ""
            return (Delivery(False, retryable, f"{signal}: HTTP {exc.code} {exc.reason}{detail}"),
                    _retry_after(exc.headers.get("Retry-After")) if retryable else None)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return Delivery(False, True, f"{signal}: {self.endpoint}: {reason}"), None
        rejected, message = _partial_success(answer, kind, signal)
        return Delivery(True, rejected=rejected, error=message), None


def _partial_success(answer: bytes, kind: str, signal: str) -> tuple[int, str]:
    if "protobuf" in kind:
        return read_rejected(answer)
    if "json" in kind:
        try:
            partial = json.loads(answer or b"{}").get("partialSuccess") or {}
            count = partial.get("rejectedLogRecords" if signal == "logs" else "rejectedSpans", 0)
            return int(count or 0), str(partial.get("errorMessage", ""))
        except (ValueError, AttributeError, TypeError):
            return 0, ""
    return 0, ""


def _retry_after(value: str | None) -> float | None:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(value))) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _printable(raw: bytes) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in raw.decode("utf-8", "replace")).strip()
    return f": {text}" if text else ""
