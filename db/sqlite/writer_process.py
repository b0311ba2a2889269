"""The writer's SQLite work in a child process, so flushes and rollups never take the collector's GIL.

The parent keeps the queue (db/writer.py) and sends each batch, pickled, over a pipe; the child owns the
connection, writes the batch and runs the flush hooks in one transaction, then answers "ok" or the exception.
The child ignores SIGINT/SIGTERM (the parent flushes through it on shutdown) and exits when the pipe closes,
so it never outlives a killed parent by more than the flush it is in.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from db.batch import Batch
from db.sqlite.batch import FlushHook, checkpoint_and_close, write_batch
from db.sqlite.connection import connect

_BOOTSTRAP = "import sys; sys.path[:0] = {paths!r}; from db.sqlite.writer_process import child_entry; child_entry({fd})"
"""The child's program: a fresh interpreter (no fork of a threaded parent, and unlike multiprocessing's spawn it
does not re-import the parent's main module), with the parent's import path so it finds the same code."""


class WriterProcessDied(Exception):
    """The child went away (crashed or was killed); the batch is kept and a new child is started."""


def child_entry(fd: int) -> None:
    """The child's entry point: the first message names the database, the flush hooks and extra pragmas."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pipe = Connection(fd)
    try:
        path, hooks, pragmas = pipe.recv()
    except (EOFError, OSError):
        return
    child_main(pipe, path, hooks, pragmas)


def child_main(pipe: Connection, path: str, hooks: list[FlushHook], pragmas: tuple[str, ...] = ()) -> None:
    """The child: open the database, then write each batch it is sent until told to close or orphaned."""
    try:
        conn = connect(path, pragmas=pragmas)
    except BaseException as exc:  # the parent reports it like any failed start
        _reply(pipe, ("error", _portable(exc)))
        return
    if not _reply(pipe, ("ok", None)):
        conn.close()
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
            try:
                write_batch(conn, message, hooks)
            except Exception as exc:
                answer: tuple[str, BaseException | None] = ("error", _portable(exc))
            else:
                answer = ("ok", None)
            if not _reply(pipe, answer):
                return
    finally:
        checkpoint_and_close(conn)
    _reply(pipe, ("ok", None))


def _reply(pipe: Connection, answer: tuple[str, BaseException | None]) -> bool:
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
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class WriterProcess:
    """Parent-side handle of the child; every method blocks, so call them on the writer's executor thread."""

    spooled_events = 0
    """SQLite has no spool: a batch is in the file or still queued in the parent."""

    def drain(self) -> bool:
        return True

    def keep(self, batch: Batch) -> None:
        """SQLite has no other place than the file: one more try."""
        self.write(batch)

    def __init__(self, path: Path, hooks: list[FlushHook], pragmas: tuple[str, ...] = ()) -> None:
        self.path = path
        self.hooks = hooks
        self.pragmas = pragmas
        self._pipe: Connection | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the child and wait until it has opened (and migrated) the database."""
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
            self._pipe.send((str(self.path), self.hooks, self.pragmas))
        except (OSError, EOFError):
            self._lost()
            raise WriterProcessDied("writer process did not start") from None
        self._answer()

    def write(self, batch: Batch) -> None:
        """Write one batch in the child (raises what the child raised; the caller keeps the batch)."""
        if self._pipe is None:
            self.start()
        assert self._pipe is not None
        try:
            self._pipe.send(batch)
        except (OSError, EOFError) as exc:
            self._lost()
            raise WriterProcessDied(f"writer process gone: {exc}") from None
        self._answer()

    def close(self) -> None:
        """Ask the child to checkpoint and close the database, then reap it."""
        if self._pipe is not None:
            try:
                self._pipe.send(None)
                self._answer()
            except (OSError, EOFError, WriterProcessDied):
                pass
        self._lost()

    def _answer(self) -> None:
        assert self._pipe is not None
        try:
            status, exc = self._pipe.recv()
        except (OSError, EOFError):
            self._lost()
            raise WriterProcessDied("writer process exited unexpectedly") from None
        if status != "ok":
            raise exc

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
