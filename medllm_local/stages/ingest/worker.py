"""Untrusted files are read in a child process with a memory and a time limit, so a
decompression bomb or a parser stuck on a hostile file fails that file alone instead
of taking down the app (ingest runs inside it) or the batch.

One child serves a whole batch (start-up costs a fraction of a second). For each file
it caps its own address space (``RLIMIT_AS``) at what it holds after receiving the
file plus ``read_memory_mb``, reads it with ``read_document``, and lifts the cap again
to send the result back. A child that runs out of memory, crashes or overruns
``read_timeout_s`` is ended; that file gets a one-line reason and the next file gets a
fresh child. The child is a new interpreter (``python -m medllm_local.stages.ingest.worker``),
not a fork of an app that holds threads and perhaps a GPU context, and not
multiprocessing's "spawn", which would re-run the caller's main script.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from multiprocessing.connection import Connection, wait
from pathlib import Path

from medllm_local.stages.ingest.read import (Document, IngestError, IngestSettings, OcrEngine, SourceFile,
                                 read_document)
from medllm_local.stages.ingest.base import MiB

PACKAGE_PARENT = Path(__file__).resolve().parents[3]  # where medllm_local is importable


class IsolatedReader:
    """``read(source)`` is ``read_document`` run in a child process under limits."""

    def __init__(self, settings: IngestSettings):
        self.settings = settings
        self.process: subprocess.Popen | None = None
        self.connection: Connection | None = None
        # The child's temporary files (OCR page images) go in a private folder inside
        # this process's temporary folder (the workspace's, when there is one), removed
        # at close even if the child was killed.
        self.folder = tempfile.mkdtemp(prefix="reader-")

    def __enter__(self) -> IsolatedReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, source: SourceFile) -> Document:
        if self.process is None:
            self._start()
        timed_out = False
        try:
            self.connection.send(source)
            timed_out = not wait([self.connection], self.settings.read_timeout_s)
            if not timed_out:
                kind, value = self.connection.recv()  # EOFError: the child died
                if kind == "ok":
                    return value
                if kind == "last":  # the child ends after this answer
                    self._end()
                raise IngestError(value)
        except (EOFError, OSError):
            pass
        raise IngestError(self._give_up(timed_out))

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "medllm_local.stages.ingest.worker", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], cwd=PACKAGE_PARENT,
                # stdout is the CLI's JSON: nothing a library prints may land there
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.connection = Connection(ours.detach())
        self.connection.send((self.settings, self.folder))

    def _give_up(self, timed_out: bool) -> str:
        """End the child and say why the file failed; the next file starts a new one."""
        code = self._end()
        if timed_out:
            return (f"reading it took longer than {self.settings.read_timeout_s} s "
                    "(--read-timeout-s); it was stopped")
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"exit {code}"
        return (f"the reader crashed ({name}), most likely out of memory: reading it needs "
                f"more than the {self.settings.read_memory_mb} MB limit (--read-memory-mb)")

    def _end(self) -> int:
        """Stop the child now (if it still runs); its exit code."""
        process, self.process = self.process, None
        if process.poll() is None:
            process.kill()
        self.connection.close()
        return process.wait()

    def close(self) -> None:
        if self.process is not None:
            try:
                self.connection.send(None)  # the child closes its OCR engine and ends
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._end()
        shutil.rmtree(self.folder, ignore_errors=True)


def _address_space() -> int:
    """This process's virtual memory size in bytes (what RLIMIT_AS counts)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def serve(connection: Connection) -> None:
    """The child: read each file sent until told to stop (None) or the parent is gone.
    Answers ("ok", Document), ("error", reason), or ("last", reason) before ending."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    settings, tempfile.tempdir = connection.recv()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    ocr = OcrEngine(settings)
    try:
        while (source := connection.recv()) is not None:
            limit = _address_space() + settings.read_memory_mb * MiB
            if hard != resource.RLIM_INFINITY:
                limit = min(limit, hard)
            try:
                resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
                try:
                    reply = ("ok", read_document(source, settings, ocr))
                finally:
                    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
            except IngestError as error:
                reply = ("error", str(error))
            except MemoryError:
                # memory may be fragmented or a library left half-way: end, start afresh
                connection.send(("last", "reading it needs more than the "
                                         f"{settings.read_memory_mb} MB memory limit "
                                         "(--read-memory-mb)"))
                return
            except Exception as error:  # a library bug must not leak text: name the type only
                reply = ("error", f"unexpected {type(error).__name__} while reading")
            connection.send(reply)
    except EOFError:  # the parent is gone
        return
    finally:
        ocr.close()


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
