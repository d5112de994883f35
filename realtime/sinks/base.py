"""The one interface every output implements, and what the pipeline hands to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from realtime.frame import Frame


def _noop() -> None:
    return None


def _no_status() -> Mapping[str, object]:
    return {}


@dataclass(frozen=True)
class SinkContext:
    """Stream format plus the controls a sink may use (hotkeys, a heads-up display)."""

    width: int
    height: int
    fps: float
    live: bool = True
    request_stop: Callable[[], None] = _noop
    toggle_processing: Callable[[], None] = _noop
    reload_face: Callable[[], None] = _noop
    status: Callable[[], Mapping[str, object]] = field(default=_no_status)
    # The run's command surface (``realtime.control``): hotkeys name a command, as the panel does.
    command: Callable[[str], object] | None = None

    def run(self, name: str) -> object:
        """Run the command ``name`` (stop, toggle_processing, reload_face) through the run's
        command surface, or through the plain callbacks when there is none."""
        if self.command is not None:
            return self.command(name)
        plain = {
            "stop": self.request_stop,
            "toggle_processing": self.toggle_processing,
            "reload_face": self.reload_face,
        }
        return plain[name]()


@runtime_checkable
class Sink(Protocol):
    """A consumer of finished frames.

    ``open`` is called once with the stream format, ``write`` from the output thread only,
    ``close`` finalises (a file becomes playable) and is safe to call twice. ``steady`` sinks
    (virtual cameras) want a frame at every tick, so the output thread repeats the last frame
    while the source stalls; the others only get new frames. ``retry``: a failed output is
    reopened (a driver that comes back). What a sink reports after the run (``SinkBase`` gives
    every one the defaults): ``path`` of the file it writes, ``temp_path`` while unfinished,
    ``frames_saved`` (what the file really holds), ``audio_mode``, ``encoder`` and its changes,
    ``no_face`` (a still in which nothing was found), ``device_name`` (the device opened).
    """

    name: str
    steady: bool
    retry: bool

    @property
    def path(self) -> Path | None: ...

    @property
    def temp_path(self) -> Path | None: ...

    @property
    def frames_saved(self) -> int | None: ...

    @property
    def frames_captured(self) -> int | None: ...

    @property
    def audio_mode(self) -> str | None: ...

    @property
    def encoder(self) -> str | None: ...

    @property
    def encoder_changes(self) -> list[dict[str, object]]: ...

    @property
    def no_face(self) -> bool: ...

    @property
    def device_name(self) -> str | None: ...

    def open(self, ctx: SinkContext) -> None: ...

    def write(self, frame: Frame) -> None: ...

    def close(self) -> None: ...


class SinkBase:
    """The defaults of ``Sink``'s report members, for sinks that write no file."""

    name = "sink"
    steady = False
    retry = False
    path: Path | None = None
    temp_path: Path | None = None
    frames_saved: int | None = None
    audio_mode: str | None = None  # a recording's audio: "copied", "converted to AAC", or None
    no_face = False

    @property
    def frames_captured(self) -> int | None:
        """A live recording: the frames captured while it recorded (``None``: not one)."""
        return None

    @property
    def encoder(self) -> str | None:
        """The encoder a recording ended with (``None``: no encoder)."""
        return None

    @property
    def encoder_changes(self) -> list[dict[str, object]]:
        """Each change of a recording's encoder settings while it fell behind."""
        return []

    @property
    def device_name(self) -> str | None:
        return None
