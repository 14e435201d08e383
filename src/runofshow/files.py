"""Atomic file writes: the one helper the service layer (`runofshow.app`) and the reports
(`runofshow.reports`) both use. It sits outside the layers, like `runofshow.ledger_chain`.

Every write goes through a temporary file in the same folder (`.<name>.<random>.tmp`), is
flushed and fsynced, renamed over the target with `os.replace`, and the folder is fsynced. A
writer that dies part-way leaves the previous file (or none), never half of a new one; the
temporary file it may leave behind is removed by `remove_stale_temps`. OSError becomes
`EvidenceError` naming the file.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from runofshow.errors import EvidenceError

log = logging.getLogger(__name__)

TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as err:
        log.debug("fsync of the folder %s failed: %s", folder, err)
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: str | Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Open `path` for writing through a temporary file in the same folder; on a clean exit it is
    flushed, fsynced and renamed over `path`. If the body raises, the temporary file is removed
    and `path` is left as it was."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise EvidenceError(f"{target}: cannot write: {err.strerror or err}") from None
    try:
        mode = "wb" if binary else "w"
        with os.fdopen(fd, mode, **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise EvidenceError(f"{target}: cannot write: {err.strerror or err}") from None
        raise
    fsync_dir(target.parent)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8, newlines as given) to `path` atomically; the path."""
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_open(path, binary=True) as f:
        f.write(data)
    return Path(path)


def remove_stale_temps(folder: str | Path) -> list[str]:
    """Temporary files a killed writer left behind (`.<name>.<random>.tmp`); removed, names returned."""
    root = Path(folder)
    if not root.is_dir():
        return []
    removed = []
    for p in root.iterdir():
        if p.is_file() and TEMP_NAME.match(p.name):
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


__all__ = ["TEMP_NAME", "atomic_open", "atomic_write_bytes", "atomic_write_text", "fsync_dir",
           "remove_stale_temps"]
