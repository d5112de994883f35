from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime.errors import SinkError
from realtime.sinks.base import Sink, SinkContext
from realtime.sinks.window import WindowSink, display_problem, draw_hud, hud_lines

STATUS = {
    "fps_out": 29.7,
    "latency_ms": {"p50": 41.6, "p95": 60.0, "n": 100},
    "provider": "CPUExecutionProvider",
    "dropped": 3,
    "processing": False,
    "stages_ms": {"swap": {"p50": 10.0}},
}


def test_hud_lines_from_a_status_snapshot() -> None:
    assert hud_lines(STATUS) == [
        "29.7 fps",
        "latency p50 42 ms",
        "provider CPUExecutionProvider",
        "drops 3",
        "PAUSED: picture frozen (space resumes)",
    ]
    assert hud_lines({"latency_ms": {"p50": float("nan")}, "processing": True}) == []
    assert hud_lines({"fps": 10, "latency_p50_ms": 5.0}) == ["10.0 fps", "latency p50 5 ms"]


def test_draw_hud_draws_on_a_copy_in_the_top_left() -> None:
    image = np.full((240, 320, 3), 200, np.uint8)
    before = image.copy()
    out = draw_hud(image, STATUS)
    assert np.array_equal(image, before)  # the frame other sinks get is untouched
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out[:60, :120], image[:60, :120])
    assert np.array_equal(out[-60:, -60:], image[-60:, -60:])
    plain = draw_hud(image, {})
    assert np.array_equal(plain, image) and plain is not image


def test_display_detection() -> None:
    assert display_problem({}, "Linux") is not None
    assert "not running" in (display_problem({"DISPLAY": ":4321"}, "Linux") or "")
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "Linux") is None
    assert display_problem({"DISPLAY": "remote:10.0"}, "Linux") is None
    assert display_problem({}, "Windows") is None


def test_no_display_suggests_mjpeg(monkeypatch, ctx: SinkContext) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("realtime.sinks.window.platform.system", lambda: "Linux")
    with pytest.raises(SinkError, match="--sink mjpeg") as err:
        WindowSink().open(ctx)
    assert "\n" not in str(err.value)


class FakeGui:
    def __init__(self, keys: list[int], visible: float = 1.0, fail: bool = False) -> None:
        self.keys = list(keys)
        self.visible = visible
        self.fail = fail
        self.shown: list[np.ndarray] = []
        self.destroyed: list[str] = []

    def namedWindow(self, winname: str, flags: int = 0) -> None:
        if self.fail:
            raise cv2.error("The function is not implemented. Rebuild the library with GTK")

    def imshow(self, winname: str, mat: np.ndarray) -> None:
        self.shown.append(mat)

    def waitKey(self, delay: int = 0) -> int:
        return self.keys.pop(0) if self.keys else -1

    def getWindowProperty(self, winname: str, prop_id: int) -> float:
        return self.visible

    def destroyWindow(self, winname: str) -> None:
        self.destroyed.append(winname)


def _ctx(events: list[str]) -> SinkContext:
    return SinkContext(
        width=64,
        height=48,
        fps=30.0,
        request_stop=lambda: events.append("stop"),
        toggle_processing=lambda: events.append("toggle"),
        status=lambda: STATUS,
    )


def test_hotkeys(make_frame) -> None:
    events: list[str] = []
    gui = FakeGui(keys=[-1, ord(" "), ord("q"), 27, 0x100000 | ord(" ")])
    sink = WindowSink("t", gui=gui)
    assert isinstance(sink, Sink) and sink.steady is False
    sink.open(_ctx(events))
    for i in range(5):
        sink.write(make_frame(i))
    assert events == ["toggle", "stop", "stop", "toggle"]
    assert len(gui.shown) == 5
    assert not np.array_equal(gui.shown[0], make_frame(0).image)  # HUD drawn
    sink.close()
    sink.close()
    assert gui.destroyed == ["t"]


def test_closing_the_window_stops(make_frame) -> None:
    events: list[str] = []
    sink = WindowSink(gui=FakeGui(keys=[], visible=0.0))
    sink.open(_ctx(events))
    sink.write(make_frame(0))
    assert events == ["stop"]


def test_gui_error_is_sink_error(ctx: SinkContext) -> None:
    with pytest.raises(SinkError, match="--sink mjpeg"):
        WindowSink(gui=FakeGui(keys=[], fail=True)).open(ctx)


def test_one_stray_space_does_not_pause_a_running_stream(make_frame) -> None:
    """Pausing is on air: the first space only asks, on the picture; a second one pauses."""
    events: list[str] = []
    running = {**STATUS, "processing": True}
    ctx = SinkContext(
        width=64,
        height=48,
        fps=30.0,
        toggle_processing=lambda: events.append("toggle"),
        status=lambda: running,
    )
    gui = FakeGui(keys=[ord(" "), -1])
    sink = WindowSink("t", gui=gui, hud=False)
    sink.open(ctx)
    sink.write(make_frame(0))
    sink.write(make_frame(1))
    assert events == []
    assert not np.array_equal(gui.shown[1], make_frame(1).image)  # the question is on the picture
    gui.keys.append(ord(" "))
    sink.write(make_frame(2))
    assert events == ["toggle"]


def test_the_hud_says_when_the_outputs_hold_or_blur() -> None:
    held = {"processing": True, "on_miss": {"policy": "hold", "state": "holding", "held": 3}}
    assert hud_lines(held) == ["on air: holding (not the camera)"]
    assert hud_lines({"processing": True, "on_miss": {"policy": "hold", "state": "live"}}) == []
