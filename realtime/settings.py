"""Settings: typed, frozen dataclasses, filled from a TOML preset and then from CLI flags.

A preset in ``configs/`` has the sections of ``Settings`` (``[source]``, ``[output]``,
``[pipeline]``, ``[faces]``, ``[swap]``) plus top-level keys. An unknown key or a value of the
wrong type is an error that names the key and the file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from realtime.errors import ConfigError
from realtime.faces.config import AnalysisSettings
from realtime.inference.models import REMOTE_FALLBACKS
from realtime.options import check, declared, from_table, opt, validate
from realtime.paths import resolved
from realtime.pipeline.guard import POLICIES as ON_MISS
from realtime.plan import SINK_NAMES
from realtime.swap.config import FACE_SELECT, MeshSettings
from realtime.web import is_loopback

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def parse_size(text: str) -> tuple[int, int]:
    """``1280x720`` -> ``(1280, 720)``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must look like 1280x720, got {text!r}") from None
    if w < 2 or h < 2:
        raise ValueError(f"size must be at least 2x2, got {text!r}")
    return w, h


@dataclass(frozen=True)
class SourceSettings:
    """Where frames come from: exactly one of camera, input (file, image or URL), demo."""

    SECTION: ClassVar[str] = "source"

    camera: str | None = opt(None, "camera index (0) or device path (/dev/video0)", flag="--camera")
    input: str | None = opt(None, "video file, image, or rtsp:// / http:// URL", flag="--input", short="-i")
    demo: bool = opt(False, "built-in synthetic camera with a bundled face", flag="--demo")
    size: tuple[int, ...] = opt((1280, 720), "capture size", flag="--size", parse=parse_size, metavar="WxH")
    fps: float = opt(30.0, "capture and output frame rate", flag="--fps", minimum=0, open_min=True)
    loop: bool = opt(False, "loop a video input", flag="--loop")
    api: str | None = opt(
        None, "OpenCV capture backend: v4l2, dshow, msmf, avfoundation", flag="--camera-api"
    )

    def __post_init__(self) -> None:
        validate(self)

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]


_TOKEN_WHY = "whoever wrote the preset would know it: choose it yourself on the command line"


@dataclass(frozen=True)
class OutputSettings:
    """Where frames go. Several sinks may run at once."""

    SECTION: ClassVar[str] = "output"

    sinks: tuple[str, ...] = opt(
        (),
        "vcam, window, file, mjpeg, null (repeatable; default vcam, or file with --output)",
        flag="--sink",
        choices=SINK_NAMES,
    )
    output: str | None = opt(
        None, "output file (video or image)", flag="--output", short="-o", write_path=True
    )
    force: bool = opt(False, "overwrite an existing output file", flag="--force")
    vcam_backend: str | None = opt(
        None, "pyvirtualcam backend (v4l2loopback, obs, unitycapture)", flag="--vcam-backend"
    )
    vcam_device: str | None = opt(None, "virtual camera device, e.g. /dev/video10", flag="--vcam-device")
    mjpeg_host: str = opt("127.0.0.1", "address of the MJPEG preview", flag="--mjpeg-host")
    mjpeg_port: int = opt(8080, "port of the MJPEG preview", flag="--mjpeg-port", minimum=1, maximum=65535)
    mjpeg_token: str | None = opt(
        None,
        "token required by a non-local MJPEG preview",
        flag="--token",
        where=("cli",),
        why=_TOKEN_WHY,
    )
    codec: str = opt("libx264", "video codec of the output: h264, h265, vp9", flag="--codec")
    crf: int = opt(20, "constant quality (lower is better)", flag="--crf", minimum=0, maximum=63, step=1)
    bitrate: int | None = opt(None, "target bits per second (instead of --crf)", flag="--bitrate", minimum=1)
    size: tuple[int, ...] | None = opt(
        None,
        "size of the output video (file jobs)",
        flag="--output-size",
        parse=parse_size,
        metavar="WxH",
    )
    audio: bool = opt(True, "do not carry the input's audio over", flag="--no-audio")
    preset: str | None = opt(
        None,
        "encoder preset, e.g. ultrafast, veryfast, medium (default: ultrafast live, veryfast for a file job)",
        flag="--preset",
    )
    stream_url: str | None = opt(
        None,
        "where --sink stream sends H.264 in MPEG-TS: udp://HOST:PORT or srt://HOST:PORT",
        flag="--stream-url",
    )

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class PipelineSettings:
    """``split``: face analysis and the swap run in two threads (overlapping on two cores);
    ``workers``: data-parallel workers, used when the chain is not split."""

    SECTION: ClassVar[str] = "pipeline"

    workers: int = opt(1, "processing threads", flag="--workers", group="run", minimum=1, maximum=64, step=1)
    split: bool = opt(
        True, "run face analysis and the swap in one thread instead of two", flag="--no-split", group="run"
    )
    hang_timeout_s: float = opt(
        2.0,
        "seconds a stage may stall before it is restarted",
        flag="--hang-timeout",
        group="run",
        minimum=0,
        open_min=True,
    )

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class Settings:
    """Everything a run can be told, each option declared once (``realtime.options``)."""

    source: SourceSettings = field(default_factory=SourceSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    faces: AnalysisSettings = field(default_factory=AnalysisSettings)
    swap: MeshSettings = field(default_factory=MeshSettings)
    face: tuple[str, ...] = opt(
        (),
        "photo of the face to put in, or a folder of photos of one person (each frame draws the "
        "one nearest the head's pose); repeat to give each person their own (left to right at "
        "the start, then kept by track: see realtime/swap/mesh/cast.py)",
        group="face",
    )
    face_index: int | None = opt(
        None, "which face of the photo to use (0 = largest)", group="face", minimum=0
    )
    swapper: str = opt("auto", "mesh, a neural swapper name, auto, or none", group="face")
    provider: str | None = opt(None, "force an inference provider (see `realtime doctor`)", group="face")
    models_dir: str | None = opt(
        None,
        "model cache folder (default: $REALTIME_MODELS_DIR or the user cache)",
        group="face",
        write_path=True,
    )
    trust_unverified: bool = opt(False, "accept a model that has no published sha256", group="face")
    face_select: str = opt("many", "which faces a neural swapper swaps", group="face", choices=FACE_SELECT)
    reference: tuple[str, ...] = opt(
        (), "photo of the person to swap (--face-select reference)", group="face"
    )
    enhance: str | None = opt(
        None, "face enhancer model to run after the swap, e.g. gfpgan_1.4", group="face"
    )
    enhance_every: int = opt(
        1,
        "run the enhancer on every Nth frame only",
        group="face",
        minimum=1,
        slider=(1, 10),
        step=1,
        live=True,
        label="Enhance every N frames",
    )
    draw_landmarks: bool = opt(False, "overlay boxes, ids and landmarks", group="face")
    remote: str | None = opt(
        None, "run the neural models on a Triton server, e.g. grpc://gpu-box:8001", group="face"
    )
    remote_fallback: str = opt(
        "pass", "while the server is lost: pass through or mesh", group="face", choices=REMOTE_FALLBACKS
    )
    duration: float | None = opt(None, "stop after this many seconds", minimum=0, open_min=True)
    log_level: str = opt(
        "info", "log level (warning with --quiet)", choices=("debug", "info", "warning", "error")
    )
    stats_json: str | None = opt(None, "write the final stats as JSON to this path", write_path=True)
    on_miss: str | None = opt(
        None,
        "a face not swapped (lost track, swapper error, remote lost, pause): hold the last swapped "
        "frame, blur the face, or pass the camera through (default: hold live, pass in file jobs)",
        group="face",
        choices=ON_MISS,
        live=True,
        label="When the swap misses",
        basic=True,
    )


def _contain_paths(data: dict[str, Any], path: Path) -> None:
    """A preset may only write inside its own folder: relative paths are resolved there, and
    an absolute path or one that climbs out with ``..`` is refused. Paths outside it must be
    named by the user on the command line."""
    root = path.resolve().parent
    for d in declared(Settings):
        table = data.get(d.section, {}) if d.section else data
        if not d.option.write_path or not isinstance(table, dict) or not isinstance(table.get(d.name), str):
            continue
        raw = table[d.name]
        target = resolved(root / raw)
        if Path(raw).is_absolute() or not target.is_relative_to(root):
            raise ConfigError(
                f"{path}: {d.key!r} = {raw!r} points outside the preset's folder {root}",
                fix=f"give it on the command line instead ({d.flag})",
            )
        table[d.name] = str(target)


def _keep_preview_private(data: dict[str, Any], path: Path) -> None:
    """A preset may not serve the MJPEG preview to other machines (``output.mjpeg_host`` off
    loopback): that must be the user's own choice, made on the command line."""
    table = data.get("output", {})
    host = table.get("mjpeg_host") if isinstance(table, dict) else None
    if host is not None and not (isinstance(host, str) and is_loopback(host)):
        raise ConfigError(
            f"{path}: 'output.mjpeg_host' = {host!r} would serve the camera preview to other "
            "machines; a preset may not do that",
            fix="remove it from the preset and give --mjpeg-host HOST --token SECRET on the command line",
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
    return from_table(Settings, data, str(path))  # type: ignore[no-any-return]


def merge(base: Settings, overrides: dict[str, Any]) -> Settings:
    """Apply ``{"section.key" or "key": value}`` overrides (checked values, e.g. from the command
    line) onto ``base``; a rule across fields that they break is named."""
    known = {d.key: d for d in declared(Settings)}
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown setting {key!r}", fix=f"known: {', '.join(known)}")
        sec, _, sub = key.rpartition(".")
        (sections.setdefault(sec, {}) if sec else top)[sub] = check(known[key], value)
    try:
        changed = {sec: replace(getattr(base, sec), **vals) for sec, vals in sections.items()}
        return replace(base, **changed, **top)
    except ConfigError as exc:
        raise ConfigError(f"command line: {exc.message}", fix=exc.fix) from exc


PRESETS_DIR = Path(str(resources.files("realtime._configs")))
"""The shipped presets (``configs/`` in a checkout, ``realtime/_configs`` in a wheel)."""
