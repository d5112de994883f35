"""The video encoder of a recording, and the ladder of faster settings it climbs when it falls
behind (like OBS's recording, which adapts rather than silently thinning the file).

A live recording must keep every frame it is given, on two cores shared with the swap. The
encoder starts with the settings asked for; when frames pile up in front of it, ``faster()``
flushes it (every frame given so far stays in the file) and opens the next rung: a hardware
H.264 encoder where PyAV has one that opens on this machine, then ever faster x264 presets.
A new encoder starts with a keyframe that carries its own parameter sets, so the file plays
straight through the change.

Every encoder is opened through ``EncoderOpener``, so the hardware path is tested with a fake
(no GPU exists where the tests run).
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av

from realtime.errors import ConfigError, SinkError
from realtime.sinks.pace import Pace
from realtime.sinks.timeline import TIME_BASE

log = logging.getLogger(__name__)

# x264/x265 presets, slowest first.
PRESETS = (
    "placebo",
    "veryslow",
    "slower",
    "slow",
    "medium",
    "fast",
    "faster",
    "veryfast",
    "superfast",
    "ultrafast",
)
X26X = ("libx264", "libx265")
# Hardware H.264 encoders FFmpeg may carry: NVENC, Quick Sync, VAAPI, VideoToolbox, Media Foundation.
HARDWARE_H264 = ("h264_nvenc", "h264_qsv", "h264_vaapi", "h264_videotoolbox", "h264_mf")
# Encoders a recording can be written with (and what each needs to be told).
VIDEO_CODECS = ("libx264", "libx265", "libvpx-vp9", *HARDWARE_H264)


@dataclass(frozen=True)
class Rung:
    """One encoder setting: the codec and its options."""

    codec: str
    options: tuple[tuple[str, str], ...] = ()
    hardware: bool = False

    @property
    def label(self) -> str:
        preset = dict(self.options).get("preset")
        return f"{self.codec} {preset}" if preset and not self.hardware else self.codec


class Encoder(Protocol):
    """What an opened encoder does (a PyAV ``VideoCodecContext``, or a fake in the tests)."""

    def encode(self, frame: Any = None) -> list[Any]: ...


class EncoderOpener(Protocol):
    def __call__(self, rung: Rung, width: int, height: int, rate: Fraction, bit_rate: int) -> Encoder: ...


def open_codec(rung: Rung, width: int, height: int, rate: Fraction, bit_rate: int) -> Encoder:
    """A PyAV encoder for ``rung`` (raises ``av.FFmpegError``/``ValueError`` if it cannot open)."""
    ctx: Any = av.CodecContext.create(rung.codec, "w")
    ctx.width, ctx.height = width, height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = TIME_BASE
    ctx.framerate = rate
    if bit_rate:
        ctx.bit_rate = bit_rate
    ctx.options = dict(rung.options)
    ctx.open()
    return ctx  # type: ignore[no-any-return]


@functools.cache
def probe_hardware(names: tuple[str, ...] = HARDWARE_H264) -> tuple[str, ...]:
    """The hardware H.264 encoders that really open here (a driver and a device behind them).
    Probed once per process: opening one takes a moment where it exists."""
    found = []
    for name in names:
        try:
            open_codec(Rung(name, hardware=True), 256, 144, Fraction(30), 1_000_000)
        except (av.FFmpegError, ValueError, OSError, KeyError) as exc:
            log.debug("hardware encoder %s cannot be used: %r", name, exc)
            continue
        found.append(name)
    if found:
        log.info("hardware encoders available: %s", ", ".join(found))
    return tuple(found)


def codec_options(
    codec: str, preset: str, crf: int, bitrate: int | None, tune: str | None, rate: Fraction, no_bframes: bool
) -> dict[str, str]:
    """The options that ``codec`` is opened with."""
    options = {"g": str(max(1, round(2 * float(rate))))}
    if codec in X26X:
        options["preset"] = preset
        if not bitrate:
            options["crf"] = str(crf)
        if tune:
            options["tune"] = tune
        if no_bframes:  # fragmented MP4 has no edit list: B-frames would delay the start
            options["bf"] = "0"
    elif codec == "libvpx-vp9" and not bitrate:
        options.update(crf=str(crf), b="0", deadline="realtime", **{"cpu-used": "8"})
    return options


def ladder(first: Rung, hardware: Sequence[str]) -> list[Rung]:
    """``first``, then faster settings. With a hardware encoder (it frees the CPU for the swap)
    that is the next step, and ultrafast the last; without one, each faster preset of the same
    codec in turn, down to ultrafast."""
    rungs = [first]
    options = dict(first.options)
    if first.codec == "libx264" and hardware:
        rungs += [Rung(name, (("g", options.get("g", "60")),), hardware=True) for name in hardware]
        if options.get("preset") != "ultrafast":
            rungs.append(Rung(first.codec, tuple({**options, "preset": "ultrafast"}.items())))
    elif first.codec in X26X:
        preset = options.get("preset", "medium")
        start = PRESETS.index(preset) + 1 if preset in PRESETS else len(PRESETS)
        rungs += [Rung(first.codec, tuple({**options, "preset": p}.items())) for p in PRESETS[start:]]
    return rungs


def add_video_stream(
    container: Any,
    codec: str,
    rate: Fraction,
    options: dict[str, str],
    bitrate: int | None,
    size: tuple[int, int],
) -> Any:
    """The recording's video stream: ``size`` padded to even (YUV 4:2:0), the 90 kHz clock."""
    stream = container.add_stream(codec, rate=rate, options=options)
    if bitrate:
        stream.bit_rate = int(bitrate)
    w, h = size
    stream.width, stream.height = w + w % 2, h + h % 2
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = TIME_BASE
    return stream


def setting_error(
    exc: BaseException, path: Path, temp: Path, codec: str, preset: str, rate: Fraction
) -> SinkError:
    """Why a recording could not start, naming the setting (or the disk, if it was the disk)."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, av.FFmpegError):
        setting = f"--codec {codec}" + (f" --preset {preset}" if codec in X26X else "")
        return SinkError(
            f"{path.suffix} output with {setting} at {rate} fps cannot be written: {reason}",
            fix="check --codec, --preset and --bitrate (libx264 with the default preset works)",
        )
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = os.strerror(exc.errno)
    fix = "free some disk space" if getattr(exc, "errno", None) == errno.ENOSPC else "check the disk"
    return SinkError(f"cannot create {temp}: {reason}", fix=fix)


def write_error(
    exc: BaseException, path: Path, written: int, kept: int, container: str, encoder: str
) -> SinkError:
    """Why writing a recording failed after ``written`` frames, naming the setting when FFmpeg
    refused the data (the disk's errors come from our own file object), and what was kept."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    code = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and code is not None:
        reason = os.strerror(code)
    if isinstance(exc, av.FFmpegError) and code not in (errno.ENOSPC, errno.EIO):
        reason = f"the {container} container or the {encoder} encoder refused it: {reason}"
        fix = "try another --output type (.mkv), another --codec, or --no-audio"
    else:
        fix = "free some disk space" if code in (errno.ENOSPC, errno.EFBIG) else "check the disk"
    if kept:
        fix += f"; the recording up to the failure was saved to {path} ({kept} frames)"
    else:
        fix += "; nothing could be saved"
    return SinkError(f"writing {path} failed after {written} frames: {reason}", fix=fix)


def estimated_bit_rate(width: int, height: int, rate: Fraction) -> int:
    """A bit rate for an encoder that has no constant-quality mode (hardware): about what
    x264 spends at crf 20 on camera footage."""
    return int(max(width * height * float(rate) * 0.12, 500_000))


BEHIND = "the encoder fell behind"
STARVED = "the swap dropped frames for want of CPU"


@dataclass
class EncoderChange:
    """One move up the ladder, for the log, the stats and the panel."""

    at_frame: int
    old: str
    new: str
    queued: int
    why: str = BEHIND

    def as_dict(self) -> dict[str, object]:
        move = {"at_frame": self.at_frame, "from": self.old, "to": self.new}
        return {**move, "queued": self.queued, "why": self.why}


@dataclass
class LadderEncoder:
    """Encodes with the current rung; ``faster()`` moves to the next one.

    ``first`` is the container stream's own encoder (the file's header describes it); later
    rungs are opened by ``opener`` and their packets muxed into the same stream.
    """

    first: Encoder
    rungs: list[Rung]
    size: tuple[int, int]
    rate: Fraction
    bit_rate: int | None
    opener: EncoderOpener = open_codec
    changes: list[EncoderChange] = field(default_factory=list)
    _level: int = 0
    _current: Encoder | None = None

    def __post_init__(self) -> None:
        self._current = self.first

    @property
    def label(self) -> str:
        return self.rungs[self._level].label

    @property
    def fastest(self) -> bool:
        return self._level >= len(self.rungs) - 1

    def encode(self, frame: Any) -> list[Any]:
        assert self._current is not None
        return list(self._current.encode(frame))

    def flush(self) -> list[Any]:
        assert self._current is not None
        return list(self._current.encode(None))

    def faster(
        self, at_frame: int, queued: int, mux: Callable[[list[Any]], None], steps: int = 1
    ) -> EncoderChange | None:
        """Flush the current encoder into ``mux`` and open the rung ``steps`` up (or the
        fastest), or the next one after it that opens; ``None`` when none is left. A hardware
        encoder is never stepped over: it frees the CPU whatever its preset."""
        if not self.fastest:
            skip = 0
            for rung in self.rungs[self._level + 1 : self._level + steps]:
                if rung.hardware:
                    break
                skip += 1
            del self.rungs[self._level + 1 : self._level + 1 + skip]
        while not self.fastest:
            rung = self.rungs[self._level + 1]
            w, h = self.size
            rate = self.bit_rate or (estimated_bit_rate(w, h, self.rate) if rung.hardware else 0)
            try:
                nxt = self.opener(rung, w, h, self.rate, rate)
            except (av.FFmpegError, ValueError, OSError) as exc:
                log.warning("encoder %s cannot be used: %s", rung.label, exc)
                del self.rungs[self._level + 1]
                continue
            mux(self.flush())
            change = EncoderChange(at_frame, self.label, rung.label, queued)
            self._level += 1
            self._current = nxt
            self.changes.append(change)
            return change
        return None


def keep_up(
    enc: LadderEncoder,
    pace: Pace,
    queued: int,
    capacity: int,
    mux: Callable[[list[Any]], None],
    at_frame: int,
    what: object,
    starved: int = 0,
) -> EncoderChange | None:
    """After each frame, on the encoder's thread: an encoder slower than the frames arrive
    (with frames waiting), or a queue a quarter full, moves to faster settings, said once.

    ``starved``: frames the swap dropped since the encoder settled (``realtime.sinks.coverage``).
    The encoder shares the cores with the swap, so while the swap drops frames an encoder that
    has run a second moves one rung faster too, though it keeps up itself."""
    if enc.fastest:
        return None
    now = time.monotonic()
    steps, why = pace.behind(queued, capacity, now), BEHIND
    if not steps and starved and pace.settled(now):
        steps, why = 1, STARVED
    if not steps:
        return None
    waiting = queued + pace.sent - pace.out  # some wait inside the encoder
    change = enc.faster(at_frame, waiting, mux, steps)
    if change is not None:
        change.why = why
        pace.changed()
        log.warning(
            "recording %s: %s (%d frames queued); switched from %s to %s",
            what, why, waiting, change.old, change.new,
        )  # fmt: skip
    return change


def check_encoder(codec: str, preset: str | None, bitrate: int | None, crf: int | None) -> None:
    """Refuse encoder settings that cannot work, before anything runs (``ConfigError``, exit 2),
    naming the setting: a codec that is not a video encoder for recordings, a preset the codec
    does not have, a bit rate or quality out of range."""
    if codec not in VIDEO_CODECS:
        raise ConfigError(
            f"--codec {codec} cannot record video files",
            fix="choose h264 (libx264), h265 (libx265) or vp9 (libvpx-vp9)",
        )
    if codec not in av.codecs_available:
        raise ConfigError(f"--codec {codec} is not in this FFmpeg build", fix="choose h264 (libx264)")
    if codec in HARDWARE_H264 and codec not in probe_hardware():
        raise ConfigError(f"--codec {codec} has no device or driver here", fix="choose h264 (libx264)")
    if preset is not None and codec in X26X and preset not in PRESETS:
        raise ConfigError(
            f"--preset {preset} is not an encoder preset", fix=f"choose one of {', '.join(PRESETS)}"
        )
    if bitrate is not None and bitrate <= 0:
        raise ConfigError(f"--bitrate must be positive, got {bitrate}", fix="give bits per second: 4000000")
    top = 51 if codec in X26X else 63
    if crf is not None and not 0 <= crf <= top:
        raise ConfigError(
            f"--crf must be between 0 and {top} for {codec}, got {crf}", fix="20 is a good default"
        )
