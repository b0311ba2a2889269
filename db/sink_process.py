"""A store's sink in a child process, so flushes never take the collector's interpreter lock.

The parent keeps the queue (db/writer.py) and sends each request (a batch to write, a spool to drain), pickled,
over a pipe; the child holds the sink its engine opens there (`opener(*args)`, a module-level function named
by reference) and answers with the result or the exception, and with the depth of its spool. The child ignores
SIGINT/SIGTERM (the parent flushes through it on shutdown) and exits when the pipe closes, so it never outlives
a killed parent by more than the flush it is in.
"""

from __future__ import annotations

import pickle
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from db.batch import Batch
from db.store import Sink

_BOOTSTRAP = "import sys; sys.path[:0] = {paths!r}; from db.sink_process import child_entry; child_entry({fd})"
"""The child's program: a fresh interpreter (no fork of a threaded parent, and unlike multiprocessing's spawn it
does not re-import the parent's main module), with the parent's import path so it finds the same code."""

Opener = Callable[..., Sink]
Answer = tuple[str, Any, int]
"""("ok", result, spooled events) or ("error", exception, spooled events)."""


class WriterProcessDied(Exception):
    """The child went away (crashed or was killed); the batch is kept and a new child is started."""


def child_entry(fd: int) -> None:
    """The child's entry point: the first message names the sink's opener and its arguments."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pipe = Connection(fd)
    try:
        opener, args = pipe.recv()
    except (EOFError, OSError):
        return
    child_main(pipe, opener, args)


def child_main(pipe: Connection, opener: Opener, args: tuple[Any, ...]) -> None:
    """The child: open the sink, then serve each request until told to close or orphaned."""
    try:
        sink = opener(*args)
    except BaseException as exc:  # the parent reports it like any failed start
        _reply(pipe, ("error", _portable(exc), 0))
        return
    if not _reply(pipe, ("ok", None, sink.spooled_events)):
        sink.close()
        return
    try:
        while True:
            try:
                message = pipe.recv()
            except (EOFError, OSError):  # the parent is gone: nothing more can be acknowledged
                _orphaned()
                return
            if message is None:
                break
            method, arguments = message
            try:
                result = getattr(sink, method)(*arguments)
            except Exception as exc:
                answer: Answer = ("error", _portable(exc), sink.spooled_events)
            else:
                answer = ("ok", result, sink.spooled_events)
            if not _reply(pipe, answer):
                return
    finally:
        sink.close()
    _reply(pipe, ("ok", None, sink.spooled_events))


def _reply(pipe: Connection, answer: Answer) -> bool:
    """Send an answer to the parent; False (and one line on stderr) when the parent is gone."""
    try:
        pipe.send(answer)
    except OSError:  # BrokenPipeError, ConnectionResetError: the parent died (kill -9) while we worked
        _orphaned()
        return False
    return True


def _orphaned() -> None:
    """The one line an orphaned child leaves in the service log: what it did is committed or rolled back."""
    print("sitelens writer: collector process gone, closing the database and exiting", file=sys.stderr, flush=True)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError with the same text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class SinkProcess:
    """Parent-side handle of the child, a Sink itself; every method blocks, so call them on the writer's thread."""

    def __init__(self, opener: Opener, args: tuple[Any, ...]) -> None:
        self.opener = opener
        self.args = args
        self.spooled_events = 0
        """The child's spool depth as of its last answer (0 for engines without a spool)."""
        self._pipe: Connection | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the child and wait until it has opened its sink (SQLite: opened and migrated the file)."""
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        paths = [p for p in sys.path if p]
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP.format(paths=paths, fd=fd)],
                stdin=subprocess.DEVNULL,
                pass_fds=(fd,),
            )
        finally:
            theirs.close()
        self._pipe, self._proc = Connection(ours.detach()), proc
        try:
            self._pipe.send((self.opener, self.args))
        except (OSError, EOFError):
            self._lost()
            raise WriterProcessDied("writer process did not start") from None
        self._answer()

    def request(self, method: str, *arguments: Any) -> Any:
        """Call a method of the child's sink (raises what the child raised; starts a child if none runs)."""
        if self._pipe is None:
            self.start()
        assert self._pipe is not None
        try:
            self._pipe.send((method, arguments))
        except (OSError, EOFError) as exc:
            self._lost()
            raise WriterProcessDied(f"writer process gone: {exc}") from None
        return self._answer()

    def write(self, batch: Batch) -> None:
        """Write one batch in the child (raises what the child raised; the caller keeps the batch)."""
        self.request("write", batch)

    def drain(self) -> bool:
        return bool(self.request("drain"))

    def keep(self, batch: Batch) -> None:
        self.request("keep", batch)

    def close(self) -> None:
        """Ask the child to close its sink (SQLite: checkpoint; ClickHouse: a last drain), then reap it."""
        if self._pipe is not None:
            try:
                self._pipe.send(None)
                self._answer()
            except (OSError, EOFError, WriterProcessDied):
                pass
        self._lost()

    def _answer(self) -> Any:
        assert self._pipe is not None
        try:
            status, payload, self.spooled_events = self._pipe.recv()
        except (OSError, EOFError):
            self._lost()
            raise WriterProcessDied("writer process exited unexpectedly") from None
        if status != "ok":
            raise payload
        return payload

    def _lost(self) -> None:
        """Forget the child (closing our end makes an orphaned child exit)."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
