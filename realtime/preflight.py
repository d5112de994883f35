"""Before anything opens: what mode the settings describe (live, file, still) and every
check across options that one option's own declaration cannot make. A contradiction or a
missing file is one ``ConfigError`` line here (exit 2), never a failure halfway through."""

from __future__ import annotations

import os
from pathlib import Path

from realtime.errors import ConfigError
from realtime.paths import check_input_file, resolved, same_file
from realtime.settings import Settings
from realtime.sinks.encoder import check_encoder
from realtime.sinks.stream import check_url
from realtime.web import is_loopback

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
CODECS = {"h264": "libx264", "h265": "libx265", "hevc": "libx265", "vp9": "libvpx-vp9"}


def is_url(s: str) -> bool:
    return "://" in s


def is_image_path(s: str) -> bool:
    return Path(s).suffix.lower() in IMAGE_EXTS


def mode_of(settings: Settings) -> str:
    """``still`` (image in, image out), ``file`` (video in, video out, nothing dropped) or
    ``live`` (camera, stream, demo, or anything shown in a window or virtual camera)."""
    src, out = settings.source, settings.output
    # A preview window beside the file output keeps it a file job (the window is added).
    plain = not out.sinks or (set(out.sinks) <= {"file", "window"} and "file" in out.sinks)
    if src.input and out.output and plain:
        if is_image_path(src.input) and not out.sinks:
            return "still"
        if not is_url(src.input) and not is_image_path(src.input):
            return "file"
    return "live"


def check_settings(settings: Settings) -> None:
    """Refuse contradictory settings with one clear line each."""
    src, out = settings.source, settings.output
    chosen = [n for n, v in (("--camera", src.camera), ("--input", src.input), ("--demo", src.demo)) if v]
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(chosen)} cannot be used together", fix="choose one source")
    if not chosen:
        raise ConfigError("no source given", fix="use --camera 0, --input FILE or --demo")
    if "file" in out.sinks and not out.output:
        raise ConfigError("--sink file needs --output PATH")
    if "stream" in out.sinks:
        if not out.stream_url:
            raise ConfigError(
                "--sink stream needs --stream-url", fix="e.g. --stream-url udp://127.0.0.1:5600"
            )
        check_url(out.stream_url)
    if out.output and resolved(out.output).is_dir():  # found now, not after the whole run
        raise ConfigError(f"--output is a folder: {out.output}", fix="name a file in it, e.g. out.mp4")
    if src.input and not is_url(src.input):
        kind = "image" if is_image_path(src.input) else "video"
        check_input_file(src.input, kind)  # a missing file or a symlink loop: one line
        if out.output and same_file(out.output, src.input):
            raise ConfigError("--output is the same file as --input", fix="choose another output path")
    if not is_loopback(out.mjpeg_host) and not out.mjpeg_token:
        raise ConfigError(
            f"the MJPEG preview on {out.mjpeg_host} needs --token",
            fix="bind to 127.0.0.1 or give --token SECRET",
        )
    if settings.stats_json:
        _check_stats_json(settings)
    if settings.face_select == "reference" and not settings.reference:
        raise ConfigError("--face-select reference needs --reference PHOTO")
    if settings.reference and settings.face_select != "reference":
        raise ConfigError("--reference is only used with --face-select reference")
    if mode_of(settings) == "file" and src.loop and not settings.duration:
        raise ConfigError("--loop in a file job never ends", fix="give --duration SECONDS as well")
    if mode_of(settings) == "still" and not settings.face:
        raise ConfigError("a still image needs --face PHOTO")
    if out.output and not is_image_path(out.output) and ("file" in out.sinks or not out.sinks):
        check_encoder(CODECS.get(out.codec.lower(), out.codec), out.preset, out.bitrate, out.crf)


def _check_stats_json(settings: Settings) -> None:
    """``--stats-json`` is an output like any other: never the input or another output, never
    over an existing file without ``--force``, in a folder that exists and can be written."""
    path, out = settings.stats_json, settings.output
    assert path is not None
    target = resolved(path)
    if not target.parent.is_dir():
        raise ConfigError(f"--stats-json folder does not exist: {Path(path).parent}", fix="create it first")
    for flag, other in (("--input", settings.source.input), ("--output", out.output)):
        if other and not is_url(other) and same_file(path, other):
            raise ConfigError(
                f"--stats-json is the same file as {flag}", fix="choose another --stats-json path"
            )
    for photo in settings.face:
        if same_file(path, photo):
            raise ConfigError("--stats-json is the same file as a --face photo", fix="choose another path")
    if target.is_dir():
        raise ConfigError(
            f"--stats-json is a folder: {path}", fix=f"name a file in it, e.g. {Path(path) / 'stats.json'}"
        )
    if target.exists() and not out.force:
        raise ConfigError(f"--stats-json file exists: {path}", fix="choose another name or pass --force")
    if not os.access(target.parent, os.W_OK):
        raise ConfigError(
            f"cannot write --stats-json in {target.parent}", fix="choose a folder you can write to"
        )
