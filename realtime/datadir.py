"""The app's data folder: uploaded faces, recordings, snapshots and presets the panel saves.

``$REALTIME_DATA_DIR`` or platformdirs' user data folder; every name in it is a plain file
name checked by ``safe_name`` (no path, no dot files).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from realtime.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def data_dir() -> Path:
    env = os.environ.get("REALTIME_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir("realtime"))


def folder(name: str) -> Path:
    """``data_dir() / name``, created."""
    path = data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_name(name: str, suffix: str) -> str:
    """``name`` as a plain file name in one of our folders (no path, no dot files)."""
    stem = name.removesuffix(suffix)
    if not NAME.match(stem) or ".." in stem:
        raise ConfigError(f"not a usable name: {name!r}", fix="use letters, digits, '-', '_' and '.'")
    return stem + suffix
