"""Presets the panel saves and loads: TOML in the ``configs/`` format (``load_preset`` reads
them back, with all of its checks: a preset never sets paths outside its folder or exposes a
server)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from realtime.datadir import safe_name
from realtime.errors import ConfigError
from realtime.plan import SourceSpec
from realtime.settings import PRESETS_DIR


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return (
            "[" + ", ".join(_value(x) for x in v) + "]"
        )  # a TOML basic string: the same escapes as JSON for what we write
    raise ConfigError(f"cannot write {v!r} into a preset")


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    lines = [f"[{name}]"]
    lines += [f"{k} = {_value(v)}" for k, v in values.items() if v is not None]
    return [*lines, ""]


def write_preset(path: Path, settings: Mapping[str, Any], source: SourceSpec, swapper: str | None) -> None:
    """Save ``settings`` (``{"swap": {...}, "faces": {...}}``) and the source's size and rate."""
    lines = ["# Saved by the realtime panel.", f"swapper = {_value(swapper or 'auto')}", ""]
    lines += _table("source", {"size": [source.width, source.height], "fps": float(source.fps)})
    for section in ("faces", "swap"):
        if section in settings:
            lines += _table(section, settings[section])
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)


def find_preset(folder: Path, name: str) -> Path:
    """A preset saved in ``folder``, or one shipped in ``configs/``, by name."""
    file = safe_name(name, ".toml")
    for base in (folder, PRESETS_DIR):
        if (base / file).is_file():
            return base / file
    raise ConfigError(f"no preset named {name!r}", fix="save one first, or use default, low-latency, quality")
