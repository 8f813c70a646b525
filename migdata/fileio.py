"""Atomic file writes: every file migdata writes appears whole or not at all.

The content is written to a temporary file in the target's folder and then renamed over the
target (``os.replace`` is atomic on one file system), so a crash or a full disk never leaves a
half-written workbook, report or data file where a user expects a good one.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> atomic_write_text(p, "hello").read_text()
    'hello'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from migdata.errors import UsageError


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` to fill a temporary file, then rename it to ``path``.

    The temporary file keeps the target's extension (some writers choose their format by it).
    A failure to create or replace the file is a :class:`~migdata.errors.UsageError` (MD005)
    naming the path; the temporary file is always removed.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}",
                                   dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise UsageError("MD005", path=target, detail=exc.strerror or str(exc)) from None
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    except OSError as exc:
        raise UsageError("MD005", path=target, detail=exc.strerror or str(exc)) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding))
