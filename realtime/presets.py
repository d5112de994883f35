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


def write_preset(
    path: Path,
    settings: Mapping[str, Any],
    source: SourceSpec,
    swapper: str | None,
    face: list[str] | None = None,
    on_miss: str | None = None,
) -> None:
    """Save ``settings`` (``{"swap": {...}, "faces": {...}}``), the source's size and rate, the
    face photo(s) in use (absolute paths: a preset may read files anywhere) and the on-miss
    policy."""
    lines = ["# Saved by the realtime panel.", f"swapper = {_value(swapper or 'auto')}"]
    if face:
        lines.append(f"face = {_value([str(Path(f).resolve()) for f in face])}")
    if on_miss:
        lines.append(f"on_miss = {_value(on_miss)}")
    lines.append("")
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


def apply_face(reloader: Any, faces: tuple[str, ...]) -> str:
    """Swap in a preset's face photo(s); ``InputError`` (the current face stays) when one is
    gone or has no usable face. Returns the first photo's name."""
    from realtime.errors import InputError

    paths = [Path(f) for f in faces]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(
            f"the preset's face photo {missing[0]} is gone", fix="pick a face and save the preset again"
        )
    old = reloader.paths
    reloader.paths = paths
    if not reloader.reload():
        reloader.paths = old
        raise InputError(f"no usable face in {paths[0].name}; the current face stays")
    return paths[0].name
