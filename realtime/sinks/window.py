"""A local preview window (OpenCV ``imshow``) with a heads-up display and hotkeys.

q or Esc stops the run, space pauses processing (pressed twice: the first press asks on the
picture; a pause freezes the last swapped frame unless ``--on-miss pass``) or resumes it, r reloads
the face photo: each key names a command of the run's one command surface (``realtime.control``),
the same the browser panel sends. The HUD
is drawn on a copy by a pure function, so what the other sinks get is never touched and
the drawing is testable without a display. The OpenCV build here uses Qt, which aborts the
whole process when no display is reachable, so the display is checked before any GUI call.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.base import SinkBase, SinkContext

log = logging.getLogger(__name__)

NO_DISPLAY_FIX = "use --sink mjpeg and open http://127.0.0.1:8080/ in a browser"
KEY_ESC = 27
CONFIRM_S = 2.0  # a second space within this pauses


class Gui(Protocol):
    """The ``cv2`` HighGUI calls this sink makes (a fake stands in for it in tests)."""

    def namedWindow(self, winname: str, flags: int = ...) -> None: ...

    def imshow(self, winname: str, mat: np.ndarray) -> None: ...

    def waitKey(self, delay: int = ...) -> int: ...

    def getWindowProperty(self, winname: str, prop_id: int) -> float: ...

    def destroyWindow(self, winname: str) -> None: ...


def display_problem(env: Mapping[str, str] | None = None, system: str | None = None) -> str | None:
    """Why no window can be shown here, or ``None`` when a display looks reachable.

    Only Linux/BSD need a check: Windows and macOS always have a desktop session when run
    interactively, and OpenCV reports their failures as ``cv2.error``.
    """
    env = os.environ if env is None else env
    system = system or platform.system()
    if system in ("Windows", "Darwin"):
        return None
    display = env.get("DISPLAY", "")
    wayland = env.get("WAYLAND_DISPLAY", "")
    if not display and not wayland:
        return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    if display and not wayland and display.startswith(":"):
        # A local X display :N is a socket; a stale DISPLAY would make Qt abort the process.
        number = display[1:].split(".", 1)[0]
        if number.isdigit() and not _x_socket_exists(number):
            return f"X display {display} is not running"
    return None


def _x_socket_exists(number: str) -> bool:
    """The X server's socket, as a file or (some setups only) in the abstract namespace."""
    name = f"/tmp/.X11-unix/X{number}"
    if Path(name).exists():
        return True
    try:
        table = Path("/proc/net/unix").read_text(errors="replace")
    except OSError:
        return True  # cannot tell: let OpenCV try
    return any(line.endswith(("@" + name, " " + name)) for line in table.splitlines())


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.1f}"
    return str(value)


def hud_lines(status: Mapping[str, Any]) -> list[str]:
    """The HUD text for a pipeline status snapshot; keys it does not know are left out."""
    lines: list[str] = []
    fps = status.get("fps_out", status.get("fps"))
    if isinstance(fps, (int, float)):
        lines.append(f"{_fmt(float(fps))} fps")
    latency = status.get("latency_ms")
    p50 = latency.get("p50") if isinstance(latency, Mapping) else status.get("latency_p50_ms")
    if isinstance(p50, (int, float)) and not math.isnan(float(p50)):
        lines.append(f"latency p50 {float(p50):.0f} ms")
    provider = status.get("provider")
    if provider:
        lines.append(f"provider {provider}")
    dropped = status.get("dropped")
    if isinstance(dropped, int):
        lines.append(f"drops {dropped}")
    processing = status.get("processing")
    if processing is False:
        lines.append("PAUSED: picture frozen (space resumes)")
    guard = status.get("on_miss")  # what the outputs show instead of a missed swap
    if isinstance(guard, Mapping) and guard.get("state") not in (None, "live", "pass"):
        lines.append(f"on air: {guard['state']} (not the camera)")
    confirm = status.get("confirm")
    if confirm:
        lines.append(str(confirm))
    return lines


def draw_hud(image: np.ndarray, status: Mapping[str, Any]) -> np.ndarray:
    """A copy of ``image`` with the status drawn top-left on a dimmed panel."""
    out = image.copy()
    lines = hud_lines(status)
    if not lines:
        return out
    h, w = out.shape[:2]
    scale = max(0.4, min(1.0, h / 720.0 * 0.7))
    thickness = 1 if scale < 0.7 else 2
    sizes = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0] for t in lines]
    line_h = max(s[1] for s in sizes) + int(10 * scale) + 2
    pad = int(8 * scale) + 2
    x1 = min(w, max(s[0] for s in sizes) + 2 * pad)
    y1 = min(h, line_h * len(lines) + pad)
    panel = out[0:y1, 0:x1]
    panel[...] = (panel.astype(np.uint16) * 2 // 5).astype(np.uint8)  # dim to 40%
    for i, text in enumerate(lines):
        y = pad + line_h * i + sizes[i][1]
        cv2.putText(
            out, text, (pad, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA
        )
    return out


class WindowSink(SinkBase):
    """Shows frames in a window; keys: q/Esc stop, space toggles processing."""

    name = "window"
    steady = False
    preview = True  # in a file job it shows what it can and never holds the conversion up
    retry = False

    def __init__(self, title: str = "realtime", *, gui: Gui | None = None, hud: bool = True) -> None:
        self.title = title
        self.hud = hud
        self._gui: Any = gui
        self._ctx: SinkContext | None = None
        self._confirm_until = 0.0

    def open(self, ctx: SinkContext) -> None:
        if self._ctx is not None:
            return
        gui = self._gui
        if gui is None:
            problem = display_problem()
            if problem:
                raise SinkError(f"cannot open a preview window: {problem}", fix=NO_DISPLAY_FIX)
            gui = cv2
        try:
            gui.namedWindow(self.title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "OpenCV GUI error"
            raise SinkError(f"cannot open a preview window ({reason})", fix=NO_DISPLAY_FIX) from exc
        self._gui = gui
        self._ctx = ctx

    def write(self, frame: Frame) -> None:
        ctx, gui = self._ctx, self._gui
        if ctx is None:
            raise SinkError("preview window written before open()", fix="call open(ctx) first")
        status = ctx.status()
        confirm = time.monotonic() < self._confirm_until
        if confirm:
            status = {**status, "confirm": "press space again to pause (the picture freezes)"}
        image = draw_hud(frame.image, status) if self.hud or confirm else frame.image
        try:
            gui.imshow(self.title, image)
            key = gui.waitKey(1)
            visible = gui.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE)
        except cv2.error as exc:
            raise SinkError(f"preview window failed: {exc}", fix=NO_DISPLAY_FIX) from exc
        key = key & 0xFF if key >= 0 else -1  # -1: no key pressed
        if key in (ord("q"), ord("Q"), KEY_ESC) or (visible is not None and visible < 1):
            log.info("preview window: stop requested")
            ctx.run("stop")
        elif key == ord(" "):
            # Pausing is on air: one stray key may not do it. The first press asks (on the
            # picture), a second within CONFIRM_S pauses; resuming takes one press.
            if not status.get("processing", True) or confirm:
                self._confirm_until = 0.0
                ctx.run("toggle_processing")
            else:
                self._confirm_until = time.monotonic() + CONFIRM_S
        elif key in (ord("r"), ord("R")):
            ctx.run("reload_face")

    def close(self) -> None:
        ctx, self._ctx = self._ctx, None
        if ctx is None:
            return
        try:
            self._gui.destroyWindow(self.title)
            self._gui.waitKey(1)  # lets HighGUI process the destroy event
        except cv2.error as exc:
            log.debug("closing preview window: %r", exc)
