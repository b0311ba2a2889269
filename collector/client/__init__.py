"""SiteLensClient: send server-side events from a Python app to a SiteLens collector (stdlib only).

    from collector.client import SiteLensClient
    sitelens = SiteLensClient("https://stats.example.com", token="sl_…")
    sitelens.api_request("GET", "/api/users/{id}", status=200, latency_ms=12.5, ip=user_ip, ua=user_agent)

Events are queued in memory and sent by one background thread in batches: a batch goes out when it holds
`batch_size` events or `flush_interval_s` after its first event, whichever comes first. The client never
blocks the host app and never raises into it: when the queue is full an event is dropped and counted, when
the collector is down a batch is dropped and counted. What is queued is sent at interpreter exit (atexit,
bounded by `close_timeout_s`). `api_request` events may be sampled, but errors (status >= 500 or an
`error`) are always kept; auth, external-call and custom events are never sampled.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import random
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClientStats", "SiteLensClient"]

log = logging.getLogger("sitelens.client")

MAX_BATCH = 1000
"""The collector's limit per request."""
DEFAULT_SKIP = ("/health", "/static")


@dataclass(slots=True)
class ClientStats:
    """What happened to the events handed to the client (read them for your own metrics)."""

    queued: int = 0
    sent: int = 0
    sampled_out: int = 0
    skipped: int = 0
    dropped_queue_full: int = 0
    dropped_send_failed: int = 0
    rejected: int = 0
    """Events the collector refused as invalid (see the log for why)."""
    errors: int = 0
    """Internal errors swallowed so the host app never sees them."""


class SiteLensClient:
    """Batched, sampled, non-blocking sender of server-side events to POST /api/ingest."""

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        batch_size: int = 100,
        flush_interval_s: float = 2.0,
        sample_rate: float = 1.0,
        skip_prefixes: tuple[str, ...] = DEFAULT_SKIP,
        queue_size: int = 10_000,
        timeout_s: float = 5.0,
        close_timeout_s: float = 3.0,
        rng: random.Random | None = None,
    ) -> None:
        base = endpoint.rstrip("/")
        self.url = base if base.endswith("/api/ingest") else base + "/api/ingest"
        self.token = token
        self.batch_size = max(1, min(MAX_BATCH, batch_size))
        self.flush_interval_s = max(0.01, flush_interval_s)
        self.sample_rate = min(1.0, max(0.0, sample_rate))
        self.skip_prefixes = tuple(skip_prefixes)
        self.timeout_s = timeout_s
        self.close_timeout_s = close_timeout_s
        self.stats = ClientStats()
        self._queue: queue.Queue[dict[str, Any] | threading.Event | None] = queue.Queue(maxsize=max(1, queue_size))
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        # atexit holds only a weak reference: a client that is garbage-collected needs no exit flush.
        self._atexit = _closer(weakref.ref(self))
        atexit.register(self._atexit)

    # ------------------------------------------------------------------------------------ event kinds

    def api_request(
        self,
        method: str,
        endpoint: str,
        status: int,
        latency_ms: float = 0.0,
        *,
        request_bytes: int = 0,
        response_bytes: int = 0,
        user_id: str = "",
        ip: str = "",
        ua: str = "",
        error: str = "",
        ts: float | None = None,
    ) -> None:
        """Record one request your API served (the end user's ip and ua, not your server's)."""
        try:
            if endpoint.startswith(self.skip_prefixes):
                self.stats.skipped += 1
                return
            is_error = status >= 500 or bool(error)
            if not is_error and self.sample_rate < 1.0 and self._rng.random() >= self.sample_rate:
                self.stats.sampled_out += 1
                return
            self._enqueue(
                _compact(
                    {
                        "type": "api_request",
                        "method": method,
                        "endpoint": endpoint,
                        "status": int(status),
                        "latency_ms": float(latency_ms),
                        "request_bytes": int(request_bytes),
                        "response_bytes": int(response_bytes),
                        "user_id": user_id,
                        "ip": ip,
                        "ua": ua,
                        "error": error,
                        "ts": ts if ts is not None else time.time(),
                    }
                )
            )
        except Exception:  # never into the host app
            self.stats.errors += 1

    def auth(
        self,
        action: str,
        *,
        success: bool | None = None,
        user_id: str = "",
        ip: str = "",
        ua: str = "",
        error: str = "",
        ts: float | None = None,
    ) -> None:
        """Record an auth event: signup, login, logout, login_failed, token_refresh or password_reset."""
        self._build_and_track(
            lambda: {
                "type": "auth",
                "action": action,
                "success": success,
                "user_id": user_id,
                "ip": ip,
                "ua": ua,
                "error": error,
                "ts": ts if ts is not None else time.time(),
            }  # fmt: skip
        )

    def external_call(
        self,
        service: str,
        endpoint: str = "",
        *,
        status: int = 0,
        latency_ms: float = 0.0,
        cost_usd: float = 0.0,
        tokens: int = 0,
        user_id: str = "",
        error: str = "",
        ts: float | None = None,
    ) -> None:
        """Record a call your server made to another service (with its cost, e.g. an LLM API)."""
        self._build_and_track(
            lambda: {
                "type": "external_call",
                "service": service,
                "endpoint": endpoint,
                "status": int(status),
                "latency_ms": float(latency_ms),
                "cost_usd": float(cost_usd),
                "tokens": int(tokens),
                "user_id": user_id,
                "error": error,
                "ts": ts if ts is not None else time.time(),
            }  # fmt: skip
        )

    def custom(
        self,
        name: str,
        props: Mapping[str, str | int | float | bool] | None = None,
        *,
        user_id: str = "",
        ip: str = "",
        ua: str = "",
        ts: float | None = None,
    ) -> None:
        """Record a custom business event (`signup_completed`, `invoice_paid` …) with properties."""
        self._build_and_track(
            lambda: {
                "type": "custom",
                "name": name,
                "props": dict(props or {}),
                "user_id": user_id,
                "ip": ip,
                "ua": ua,
                "ts": ts if ts is not None else time.time(),
            }  # fmt: skip
        )

    def _build_and_track(self, build: Callable[[], dict[str, Any]]) -> None:
        """Build an event and queue it; a mistake in the arguments is counted, never raised."""
        try:
            self._enqueue(_compact(build()))
        except Exception:
            self.stats.errors += 1

    def track(self, event: Mapping[str, Any]) -> None:
        """Queue any event in the collector's /api/ingest shape (empty fields are left out)."""
        self._build_and_track(lambda: dict(event))

    # --------------------------------------------------------------------------------------- sending

    def _enqueue(self, event: dict[str, Any]) -> None:
        """Put an event in the bounded queue without waiting; count it as dropped when full or closed."""
        if self._closed:
            self.stats.dropped_queue_full += 1
            return
        self._ensure_thread()
        try:
            self._queue.put_nowait(event)
            self.stats.queued += 1
        except queue.Full:
            self.stats.dropped_queue_full += 1

    def _ensure_thread(self) -> None:
        """Start the sender thread on first use (so forking servers start it in each worker)."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sitelens-client", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Sender loop: a batch goes out when full or `flush_interval_s` after its first event.

        The queue also carries control items, handled in order after the events queued before them:
        a threading.Event (flush: send now, then set it) and None (close: send now, then stop).
        """
        batch: list[dict[str, Any]] = []
        deadline = 0.0
        while True:
            try:
                item: object
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()) if batch else None)
                except queue.Empty:
                    item = _TIME_UP
                if isinstance(item, dict):
                    if not batch:
                        deadline = time.monotonic() + self.flush_interval_s
                    batch.append(item)
                    if len(batch) >= self.batch_size:
                        batch = self._send(batch)
                    continue
                if batch:
                    batch = self._send(batch)
                if isinstance(item, threading.Event):
                    item.set()
                elif item is None:
                    return
            except Exception:  # the thread must survive anything
                batch = []
                self.stats.errors += 1
                log.debug("sitelens client error", exc_info=True)

    def _send(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST one batch; failures are counted and logged (debug), never raised. Returns a new batch."""
        body = json.dumps(batch, separators=(",", ":"), default=str).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read() or b"{}")
            rejected = len(answer.get("rejected", ())) if isinstance(answer, dict) else 0
            self.stats.sent += len(batch) - rejected
            self.stats.rejected += rejected
            if rejected:
                log.warning("sitelens collector rejected %d events: %s", rejected, answer.get("rejected")[:3])
        except urllib.error.HTTPError as exc:
            if exc.code == 400:
                self.stats.rejected += len(batch)
                log.warning("sitelens collector rejected a batch: %s", exc.read()[:300])
            else:
                self.stats.dropped_send_failed += len(batch)
                log.debug("sitelens collector answered %s", exc.code)
            exc.close()
        except Exception as exc:  # connection refused, timeout, bad answer: drop, count, carry on
            self.stats.dropped_send_failed += len(batch)
            log.debug("sitelens collector unreachable: %s", exc)
        return []

    # ----------------------------------------------------------------------------------------- control

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Send everything queued so far; True when it was handled (sent, or dropped) within the timeout."""
        try:
            if self._closed or self._thread is None or not self._thread.is_alive():
                return self._queue.empty()
            done = threading.Event()
            self._queue.put(done, timeout=timeout_s)
            return done.wait(timeout_s)
        except Exception:  # queue.Full after the timeout, or anything else
            self.stats.errors += 1
            return False

    def close(self) -> None:
        """Send what is queued (waiting at most `close_timeout_s`) and stop the thread; idempotent."""
        try:
            if self._closed:
                return
            self._closed = True
            atexit.unregister(self._atexit)
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            try:
                self._queue.put(None, timeout=self.close_timeout_s)
            except queue.Full:
                return
            thread.join(self.close_timeout_s)
        except Exception:
            self.stats.errors += 1

    def __enter__(self) -> SiteLensClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_TIME_UP = object()


def _closer(ref: weakref.ref[SiteLensClient]) -> Callable[[], None]:
    """An atexit callback closing the client if it still exists."""

    def close() -> None:
        client = ref()
        if client is not None:
            client.close()

    return close


def _compact(event: dict[str, Any]) -> dict[str, Any]:
    """The event without None, "" and numeric zeros (the collector's defaults); booleans stay."""
    return {
        k: v
        for k, v in event.items()
        if v is not None and v != "" and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != 0)
    }
