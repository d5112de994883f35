"""File mode: a recorded video in, a swapped video out, every frame processed, audio kept.

It is the live pipeline with the blocking, ordered policy: nothing is dropped and frames are
written in order. The output goes to a temporary name and is renamed into place when it is
complete; Ctrl-C keeps a playable partial file and says where it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.errors import ConfigError
from realtime.frame import Frame
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.processor import Processor
from realtime.sinks.base import SinkContext

log = logging.getLogger(__name__)

CODECS = {"h264": "libx264", "h265": "libx265", "hevc": "libx265", "vp9": "libvpx-vp9"}


@dataclass
class Progress:
    done: int
    total: int | None
    no_face: int
    elapsed_s: float

    @property
    def fps(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


class ProgressSink:
    """Counts frames (and frames where no face was found) and reports progress."""

    name = "progress"
    steady = False
    retry = False

    def __init__(self, total: int | None, on_progress: Callable[[Progress], None] | None, track_faces: bool):
        self.total = total
        self.on_progress = on_progress
        self.track_faces = track_faces
        self.done = 0
        self.no_face = 0
        self.t0 = time.monotonic()

    def open(self, ctx: SinkContext) -> None:
        self.t0 = time.monotonic()

    def write(self, frame: Frame) -> None:
        self.done += 1
        if self.track_faces and not frame.faces:
            self.no_face += 1
        if self.on_progress is not None:
            self.on_progress(self.snapshot())

    def snapshot(self) -> Progress:
        return Progress(self.done, self.total, self.no_face, time.monotonic() - self.t0)

    def close(self) -> None:
        return None


def codec_name(codec: str) -> str:
    return CODECS.get(codec.lower(), codec)


def run_file_job(
    settings: Any,
    processors: list[Processor],
    info: dict[str, Any],
    *,
    on_start: Callable[[Pipeline], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Swap ``settings.source.input`` into ``settings.output.output``; return the summary.

    ``app.check_settings`` has refused an output that is the input; a missing or unreadable
    input is refused by ``VideoSource.open``."""
    from realtime.sinks.file import FileSink
    from realtime.sources.video import VideoSource

    src_path = Path(settings.source.input)
    out_path = Path(settings.output.output)
    source = VideoSource(src_path, realtime=False)
    source.open()  # for the frame count and audio; the pipeline reopens nothing
    total = None
    if source.duration and source.fps:
        total = round(source.duration * source.fps)
    out = settings.output
    size = tuple(out.size) if out.size else None
    if size is not None and (len(size) != 2 or min(size) < 2):
        raise ConfigError(f"--output-size must look like 1280x720, got {out.size}")
    file_sink = FileSink(
        out_path,
        codec=codec_name(out.codec),
        crf=out.crf,
        preset=out.preset or "veryfast",
        overwrite=out.force,
        audio_from=src_path if (out.audio and source.has_audio) else None,
        size=size,  # type: ignore[arg-type]
        bitrate=out.bitrate,
        keep_pts=True,
    )
    has_faces = any(getattr(p, "name", "") == "faces" for p in processors)
    progress = ProgressSink(total, on_progress, has_faces)
    split = settings.pipeline.split and settings.pipeline.workers == 1 and len(processors) > 1
    stages = [processors[:1], processors[1:]] if split else None
    cfg = PipelineConfig(workers=settings.pipeline.workers, live=False)
    pipe = Pipeline(source, processors, [file_sink, progress], cfg, stages=stages)
    if on_start is not None:
        on_start(pipe)
    t0 = time.monotonic()
    stats = pipe.run()
    interrupted = not pipe.source_ended
    elapsed = time.monotonic() - t0
    summary = {
        "input": str(src_path),
        "output": str(out_path),
        "frames": progress.done,
        "frames_expected": total,
        "frames_without_face": progress.no_face if has_faces else None,
        "seconds": round(elapsed, 3),
        "fps": round(progress.done / elapsed, 2) if elapsed > 0 else 0.0,
        "realtime_factor": round((progress.done / elapsed) / source.fps, 2)
        if elapsed > 0 and source.fps
        else None,
        "audio": "copied" if file_sink.audio_from else "none",
        "interrupted": interrupted,
        "stages_ms": stats.get("stages_ms", {}),
        **info,
    }
    if interrupted:
        log.warning("interrupted: the partial output (%d frames) is playable at %s", progress.done, out_path)
    return summary
