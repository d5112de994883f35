"""The virtual camera that video-call apps see, through pyvirtualcam.

v4l2loopback on Linux, the OBS virtual camera on Windows and macOS. A missing driver is the
most common first-run failure, so its error names the exact command that fixes it.
"""

from __future__ import annotations

import logging
import platform
from typing import Any

import cv2
import numpy as np
import pyvirtualcam

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.base import SinkBase, SinkContext

log = logging.getLogger(__name__)

LINUX_FIX = 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="realtime"'
OBS_FIX = "install OBS Studio and start its virtual camera once (Start Virtual Camera), then retry"


def driver_fix(system: str | None = None) -> str:
    """How to get a virtual camera device on this platform."""
    return LINUX_FIX if (system or platform.system()) == "Linux" else OBS_FIX


def fit_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` at exactly width x height (area filter when shrinking, linear when growing)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    shrink = width * height < w * h
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


class VirtualCameraSink(SinkBase):
    """Sends BGR frames to a virtual camera opened at the stream's size and rate.

    ``steady``: video-call apps expect a frame every tick, so the pipeline repeats the last
    one while the source stalls. ``retry``: a driver that goes away (OBS closed) may come back.
    """

    name = "vcam"
    steady = True
    retry = True

    def __init__(self, backend: str | None = None, device: str | None = None) -> None:
        self.backend = backend
        self.device = device
        self._cam: Any = None
        self._size = (0, 0)
        self.frames_sent = 0

    def open(self, ctx: SinkContext) -> None:
        if self._cam is not None:
            return
        if ctx.width < 1 or ctx.height < 1 or ctx.fps <= 0:
            raise SinkError(
                f"virtual camera needs a size and rate, got {ctx.width}x{ctx.height} at {ctx.fps}"
            )
        if self.backend is not None and self.backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(pyvirtualcam.camera.BACKENDS) or "none on this platform"
            raise SinkError(f"unknown virtual camera backend {self.backend!r}", fix=f"use one of: {known}")
        try:
            cam = pyvirtualcam.Camera(
                ctx.width,
                ctx.height,
                ctx.fps,
                fmt=pyvirtualcam.PixelFormat.BGR,
                backend=self.backend,
                device=self.device,
            )
        except Exception as exc:  # pyvirtualcam raises RuntimeError, backends anything
            reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            where = f" {self.device}" if self.device else ""
            raise SinkError(
                f"no virtual camera device{where} ({reason or type(exc).__name__})",
                fix=driver_fix(),
            ) from exc
        self._cam = cam
        self._size = (ctx.width, ctx.height)
        log.info(
            "virtual camera %s (%s backend) at %dx%d %.3g fps",
            cam.device,
            cam.backend,
            ctx.width,
            ctx.height,
            ctx.fps,
        )

    @property
    def device_name(self) -> str | None:
        """The device actually in use (e.g. /dev/video10), once open."""
        return None if self._cam is None else str(self._cam.device)

    def write(self, frame: Frame) -> None:
        cam = self._cam
        if cam is None:
            raise SinkError("virtual camera written before open()", fix="call open(ctx) first")
        image = fit_to(frame.image, *self._size)
        try:
            cam.send(np.ascontiguousarray(image))
        except Exception as exc:
            raise SinkError(
                f"virtual camera {cam.device} stopped accepting frames: {exc}",
                fix="check that the device still exists",
            ) from exc
        self.frames_sent += 1

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            cam.close()
