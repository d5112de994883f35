"""Paths the user names on the command line or in a preset.

``Path.resolve()`` raises ``RuntimeError`` on a symlink loop and ``Path.is_file()`` hides why
a path cannot be opened; these helpers turn every such case into a one-line ``InputError``
(or a plain answer) instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from realtime.errors import InputError


def why_unreadable(path: str | Path) -> str | None:
    """Why ``path`` is not a regular file that can be read ("not found", "is a symbolic link
    loop", ...), or ``None`` when it is."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "not found"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    return None


def check_input_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a ``Path`` when it names a readable regular file, else ``InputError``.

    ``what`` names the file in the message ("image", "photo", "video").
    """
    p = Path(path)
    why = why_unreadable(p)
    if why is not None:
        fix = "replace the link with the file it should point to" if "loop" in why else "check the path"
        message = f"{what} not found: {p}" if why == "not found" else f"{what} {p} {why}"
        raise InputError(message, fix=fix)
    return p


def resolved(path: str | Path) -> Path:
    """``path`` made absolute with its symlinks followed as far as they go; never raises
    for a symlink loop (the looping part is kept as written)."""
    p = Path(path)
    try:
        return p.resolve()
    except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13)
        return Path(os.path.abspath(p))


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (by path or, when both exist, by inode)."""
    if resolved(a) == resolved(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False
