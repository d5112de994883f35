"""Settings: typed, frozen dataclasses, filled from a TOML preset and then from CLI flags.

A preset in ``configs/`` has the sections of ``Settings`` (``[source]``, ``[output]``,
``[pipeline]``, ``[faces]``, ``[swap]``) plus top-level keys. An unknown key or a value of the
wrong type is an error that names the key and the file.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from realtime.errors import ConfigError
from realtime.faces.config import AnalysisSettings
from realtime.paths import resolved
from realtime.swap.config import MeshSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class SourceSettings:
    """Where frames come from: exactly one of camera, input (file, image or URL), demo."""

    camera: str | None = None
    input: str | None = None
    demo: bool = False
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    loop: bool = False
    api: str | None = None  # OpenCV capture backend override (v4l2, dshow, msmf, avfoundation)


@dataclass(frozen=True)
class OutputSettings:
    """Where frames go. Several sinks may run at once."""

    sinks: tuple[str, ...] = ()
    output: str | None = None
    force: bool = False
    vcam_backend: str | None = None
    vcam_device: str | None = None
    mjpeg_host: str = "127.0.0.1"
    mjpeg_port: int = 8080
    mjpeg_token: str | None = None
    stream_url: str | None = None  # --sink stream: udp://HOST:PORT or srt://HOST:PORT
    codec: str = "libx264"  # or h264, h265, vp9
    crf: int = 20
    bitrate: int | None = None  # bits per second; replaces crf when set
    size: tuple[int, ...] | None = None  # output (width, height) of a file job
    audio: bool = True  # carry the input's audio into a file job
    preset: str | None = None  # None: ultrafast for live recordings, veryfast for file jobs


@dataclass(frozen=True)
class PipelineSettings:
    """``split``: face analysis and the swap run in two threads (overlapping on two cores);
    ``workers``: data-parallel workers, used when the chain is not split."""

    workers: int = 1
    split: bool = True
    hang_timeout_s: float = 2.0


@dataclass(frozen=True)
class Settings:
    source: SourceSettings = field(default_factory=SourceSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    faces: AnalysisSettings = field(default_factory=AnalysisSettings)
    swap: MeshSettings = field(default_factory=MeshSettings)
    face: tuple[str, ...] = ()
    face_index: int | None = None
    swapper: str = "auto"
    provider: str | None = None
    models_dir: str | None = None
    trust_unverified: bool = False
    face_select: str = "many"  # one | many | reference (neural swappers)
    reference: tuple[str, ...] = ()
    enhance: str | None = None  # an enhancer model name, e.g. gfpgan_1.4
    enhance_every: int = 1
    draw_landmarks: bool = False
    duration: float | None = None
    log_level: str = "info"
    stats_json: str | None = None
    remote: str | None = None  # a Triton server URL: the neural models run there
    remote_fallback: str = "pass"  # when it is lost: pass faces through, or "mesh"
    on_miss: str | None = None  # hold | blur | pass; None: hold live, pass in file jobs


def _type_ok(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        args = get_args(hint)
        return isinstance(value, (list, tuple)) and all(_type_ok(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def build(cls: type, data: dict[str, Any], where: str, prefix: str = "") -> Any:
    """Make a ``cls`` dataclass from ``data``, naming any unknown key or wrong type."""
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"{where}: unknown key {name!r}", fix=f"known keys: {', '.join(sorted(known))}")
        hint = hints[key]
        if is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {name!r} must be a table ([{name}])")
            kwargs[key] = build(hint, value, where, prefix=f"{name}.")  # type: ignore[arg-type]
            continue
        if not _type_ok(value, hint):
            raise ConfigError(
                f"{where}: {name!r} must be {_type_name(hint)}, got {type(value).__name__} {value!r}"
            )
        if get_origin(hint) is tuple:
            value = tuple(value)
        elif hint is float or hint == float | None:
            value = float(value) if value is not None else None
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # a value out of range: say which file it came from
        raise ConfigError(f"{where}: {exc.message}", fix=exc.fix) from exc


# Keys of a preset that name files or folders the program writes to.
WRITE_PATHS = (("output", "output"), (None, "stats_json"), (None, "models_dir"))


def _contain_paths(data: dict[str, Any], path: Path) -> None:
    """A preset may only write inside its own folder: relative paths are resolved there, and
    an absolute path or one that climbs out with ``..`` is refused. Paths outside it must be
    named by the user on the command line."""
    root = path.resolve().parent
    for section, key in WRITE_PATHS:
        table = data.get(section, {}) if section else data
        if not isinstance(table, dict) or not isinstance(table.get(key), str):
            continue
        raw = table[key]
        name = f"{section}.{key}" if section else key
        target = resolved(root / raw)
        if Path(raw).is_absolute() or not target.is_relative_to(root):
            raise ConfigError(
                f"{path}: {name!r} = {raw!r} points outside the preset's folder {root}",
                fix=f"give it on the command line instead (--{key.replace('_', '-')})",
            )
        table[key] = str(target)


def _keep_preview_private(data: dict[str, Any], path: Path) -> None:
    """A preset may not expose the MJPEG preview: serving the camera to other machines
    (``output.mjpeg_host`` off loopback) and its token (known to whoever wrote the preset) must
    be the user's own choice, made on the command line."""
    from realtime.sinks.mjpeg import is_loopback

    table = data.get("output", {})
    if not isinstance(table, dict):
        return
    host = table.get("mjpeg_host")
    if host is not None and not (isinstance(host, str) and is_loopback(host)):
        raise ConfigError(
            f"{path}: 'output.mjpeg_host' = {host!r} would serve the camera preview to other "
            "machines; a preset may not do that",
            fix="remove it from the preset and give --mjpeg-host HOST --token SECRET on the command line",
        )
    if "mjpeg_token" in table:
        raise ConfigError(
            f"{path}: 'output.mjpeg_token' is set; a preset may not choose the preview's token",
            fix="remove it from the preset and give --token SECRET on the command line",
        )


def load_preset(path: Path) -> Settings:
    """Read a TOML preset into ``Settings``."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", fix="see configs/ for the shipped presets")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    _contain_paths(data, path)
    _keep_preview_private(data, path)
    return build(Settings, data, str(path))


def merge(base: Settings, overrides: dict[str, Any]) -> Settings:
    """Apply ``{"section.key" or "key": value}`` overrides (from CLI flags) onto ``base``."""
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in overrides.items():
        if "." in key:
            sec, sub = key.split(".", 1)
            sections.setdefault(sec, {})[sub] = value
        else:
            top[key] = value
    out = base
    for sec, vals in sections.items():
        current = getattr(out, sec)
        if isinstance(current, dict):
            merged: dict[str, Any] = {sec: {**current, **vals}}
            out = replace(out, **merged)
        else:
            checked = build(type(current), vals, "command line", prefix=f"{sec}.")
            changed = {k: getattr(checked, k) for k in vals}
            out = replace(out, **{sec: replace(current, **changed)})
    if top:
        checked_top = build(Settings, top, "command line")
        out = replace(out, **{k: getattr(checked_top, k) for k in top})
    return out


def as_dict(settings: Settings) -> dict[str, Any]:
    return dataclasses.asdict(settings)


def _presets_dir() -> Path:
    """The shipped presets (``configs/`` in a checkout, ``realtime/_configs`` in a wheel)."""
    from importlib import resources

    return Path(str(resources.files("realtime._configs")))


PRESETS_DIR = _presets_dir()
