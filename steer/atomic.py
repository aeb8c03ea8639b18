"""Whole-or-nothing file writes: a reader, a crash or a Ctrl-C never leaves half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing", "write_text_atomic"]


@contextmanager
def replacing(path: str | Path, mode: int = 0o644) -> Iterator[Path]:
    """A temporary path beside ``path`` that becomes ``path`` when the block ends.

    Write the new content to the yielded path (it keeps ``path``'s suffix, so a
    writer that appends one, such as stable-baselines3's ``.zip``, does not
    rename it); when the block ends without an exception the file is forced to
    disk and renamed over ``path`` in one step. On any exception, Ctrl-C
    included, the temporary file is removed and ``path`` keeps its previous
    content.

    Args:
        path: The file to write; its folder is created.
        mode: Permission bits of the new file.

    Yields:
        The temporary path to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all; return ``path``."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
