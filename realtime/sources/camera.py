"""Webcams through OpenCV, with the platform's native capture backend.

MJPG is requested because most USB cameras only reach 720p30 compressed, and the driver
queue is cut to one buffer so a slow pipeline reads the newest picture, not a stale one.
``cv2.VideoCapture`` sits behind a factory so tests can stand in for a camera.
"""

from __future__ import annotations

import glob
import logging
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from realtime.errors import ConfigError, SourceError
from realtime.sources.base import Captured

log = logging.getLogger(__name__)

APIS: dict[str, int] = {
    "any": cv2.CAP_ANY,
    "v4l2": cv2.CAP_V4L2,
    "dshow": cv2.CAP_DSHOW,
    "msmf": cv2.CAP_MSMF,
    "avfoundation": cv2.CAP_AVFOUNDATION,
    "gstreamer": cv2.CAP_GSTREAMER,
    "ffmpeg": cv2.CAP_FFMPEG,
}

LIST_FIX = "run `realtime cameras` to list devices, then pass --camera N"


class VideoCaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` this module uses."""

    def isOpened(self) -> bool: ...

    def set(self, prop_id: int, value: float) -> bool: ...

    def get(self, prop_id: int) -> float: ...

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


CaptureFactory = Callable[[int | str, int], VideoCaptureLike]


def opencv_capture(device: int | str, api: int) -> VideoCaptureLike:
    """The real factory: ``cv2.VideoCapture(device, api)``."""
    return cv2.VideoCapture(device, api)


def platform_api(system: str | None = None) -> int:
    """The native capture backend: V4L2 on Linux, DirectShow on Windows, AVFoundation on macOS."""
    system = system or platform.system()
    return {"Linux": cv2.CAP_V4L2, "Windows": cv2.CAP_DSHOW, "Darwin": cv2.CAP_AVFOUNDATION}.get(
        system, cv2.CAP_ANY
    )


def resolve_api(api: str | None, system: str | None = None) -> int:
    if api is None:
        return platform_api(system)
    key = api.strip().lower()
    if key not in APIS:
        raise ConfigError(f"unknown capture backend {api!r}", fix=f"choose from {', '.join(APIS)}")
    return APIS[key]


def _as_device(device: int | str) -> int | str:
    """``"0"`` means index 0; anything else (``/dev/video2``, a by-id path) is a path."""
    if isinstance(device, str) and device.strip().isdigit():
        return int(device.strip())
    return device


def _to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


class CameraSource:
    """A capture device as a live source; ``width``/``height``/``fps`` are the actual ones after
    ``open`` (a camera may not support what was asked)."""

    name = "camera"
    live = True

    def __init__(
        self,
        device: int | str,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        api: str | None = None,
        *,
        capture_factory: CaptureFactory = opencv_capture,
        first_frame_attempts: int = 20,
        max_read_failures: int = 25,
        retry_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.device = _as_device(device)
        self.width = int(width)
        self.height = int(height)
        self.fps = float(fps)
        self.api = api
        self.requested = (self.width, self.height, self.fps)
        self._factory = capture_factory
        self._first_attempts = first_frame_attempts
        self._max_failures = max_read_failures
        self._sleep = retry_sleep
        self._cap: VideoCaptureLike | None = None
        self._pending: np.ndarray | None = None

    @classmethod
    def from_spec(cls, target: str, **options: Any) -> CameraSource:
        """Registry entry: ``target`` is an index (``"0"``) or a device path."""
        return cls(target, **options)

    def open(self) -> None:
        if self._cap is not None:
            return
        api = resolve_api(self.api)
        try:
            cap = self._factory(self.device, api)
        except cv2.error as exc:
            raise SourceError(f"camera {self.device} could not be opened: {exc}", fix=LIST_FIX) from exc
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {self.device} could not be opened", fix=LIST_FIX)
        want_w, want_h, want_fps = self.requested
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, want_w)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, want_h)
        cap.set(cv2.CAP_PROP_FPS, want_fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        first = self._first_frame(cap)
        if first is None:
            cap.release()
            raise SourceError(
                f"camera {self.device} opened but delivers no frames",
                fix="close other apps using it, or pick another with `realtime cameras`",
            )
        self.height, self.width = first.shape[:2]
        if (self.width, self.height) != (want_w, want_h):
            log.warning(
                "camera %s delivers %dx%d, not the %dx%d asked for; using %dx%d",
                self.device,
                self.width,
                self.height,
                want_w,
                want_h,
                self.width,
                self.height,
            )
        got_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if got_fps > 0 and abs(got_fps - want_fps) > 0.5:
            log.warning("camera %s runs at %.3g fps, not %.3g", self.device, got_fps, want_fps)
            self.fps = got_fps
        self._cap = cap
        self._pending = first
        log.info("camera %s: %dx%d at %.3g fps", self.device, self.width, self.height, self.fps)

    def _first_frame(self, cap: VideoCaptureLike) -> np.ndarray | None:
        """Cameras often need a few reads to start streaming after a format change."""
        for _ in range(max(1, self._first_attempts)):
            ok, image = cap.read()
            if ok and image is not None and image.size:
                return _to_bgr(image)
            self._sleep(0.05)
        return None

    def read(self) -> Captured | None:
        cap = self._cap
        if cap is None:
            raise SourceError(f"camera {self.device} is not open", fix="call open() first")
        if self._pending is not None:
            image, self._pending = self._pending, None
            return Captured(image, None)
        for _ in range(max(1, self._max_failures)):
            ok, raw = cap.read()
            if ok and raw is not None and raw.size:
                image = _to_bgr(raw)
                h, w = image.shape[:2]
                if (w, h) != (self.width, self.height):
                    log.warning("camera %s switched to %dx%d", self.device, w, h)
                    self.width, self.height = w, h
                return Captured(image, None)
            self._sleep(0.02)
        raise SourceError(
            f"camera {self.device} stopped delivering frames (unplugged or taken by another app?)",
            fix="reconnect it and start again",
        )

    def close(self) -> None:
        cap, self._cap = self._cap, None
        self._pending = None
        if cap is not None:
            cap.release()


@dataclass(frozen=True)
class CameraInfo:
    """One capture device: ``device`` is what to pass to ``--camera``."""

    index: int
    device: str
    name: str
    virtual: bool = False  # a loopback device (possibly our own output), not a real camera


def _linux_cameras(dev_dir: Path, sys_dir: Path) -> list[CameraInfo]:
    found: list[CameraInfo] = []
    for node in glob.glob(str(dev_dir / "video*")):
        m = re.fullmatch(r"video(\d+)", Path(node).name)
        if not m:
            continue
        sys_node = sys_dir / Path(node).name
        try:
            name = (sys_node / "name").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            name = ""
        virtual = "/devices/virtual/" in os.path.realpath(sys_node)
        found.append(CameraInfo(int(m.group(1)), node, name or Path(node).name, virtual))
    return sorted(found, key=lambda c: c.index)


def _probe_cameras(factory: CaptureFactory, api: int, count: int) -> list[CameraInfo]:
    found: list[CameraInfo] = []
    for i in range(count):
        try:
            cap = factory(i, api)
        except cv2.error:
            continue
        try:
            if cap.isOpened():
                found.append(CameraInfo(i, str(i), f"camera {i}"))
        finally:
            cap.release()
    return found


def list_cameras(
    *,
    system: str | None = None,
    capture_factory: CaptureFactory = opencv_capture,
    dev_dir: Path = Path("/dev"),
    sys_dir: Path = Path("/sys/class/video4linux"),
    probe_count: int = 10,
) -> list[CameraInfo]:
    """The capture devices found: on Linux the /dev/video* nodes with their driver names
    (opening them is slow and may disturb a camera in use); elsewhere indices 0..9 probed."""
    system = system or platform.system()
    if system == "Linux":
        return _linux_cameras(dev_dir, sys_dir)
    return _probe_cameras(capture_factory, platform_api(system), probe_count)
