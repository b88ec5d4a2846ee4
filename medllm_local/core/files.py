"""Writing and hashing workspace files: atomic writes (a reader sees the old file or the
new one, never a part) and the hashes that name files and bind approvals."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

TMP_PREFIX = ".tmp-"  # a temp file's name starts with this and the writer's pid


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_hash(text: str) -> str:
    """What an approval is bound to: the hash of a de-identified text as stored."""
    return sha256_bytes(text.encode("utf-8"))


def atomic_write(path: Path, data: bytes | str, mode: int = 0o600) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never
    a part: temp file in the same folder, fsync, rename, fsync the folder."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    # The writer's pid is in the name, so a sweep never takes a live writer's file.
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def pid_alive(pid: int | str | None) -> bool:
    """Whether process ``pid`` still runs (temp files, build folders and jobs carry their
    writer's pid, so what a dead process left can be cleaned up)."""
    try:
        pid = int(pid or 0)
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    try:  # a finished child we started stays a zombie until reaped: that is not alive
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:  # not our child: kill(0) said it runs
        return True


def csv_rows(text: str) -> list[list[str]]:
    """The rows of CSV text as spreadsheet programs write it: LibreOffice and Excel write
    ";" where "," is the decimal mark, and some export tabs; quoted newlines stay in
    their cell, and a doubled quote is a quote. The separator is the one the header line
    holds most of (csv.Sniffer guesses wrong once a cell holds a doubled quote)."""
    import csv
    import io

    header = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {separator: header.count(separator) for separator in (";", "\t", ",")}
    separator = max(counts, key=counts.get) if any(counts.values()) else ","
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
