"""The virtual camera sink through pyvirtualcam's real ``Camera`` with a recording backend."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvirtualcam
from pyvirtualcam.util import encode_fourcc

from realtime.errors import SinkError
from realtime.sinks import vcam
from realtime.sinks.base import Sink, SinkContext
from realtime.sinks.vcam import VirtualCameraSink


class Recorder:
    """What the registered backend saw, shared by its instances in one test."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.frames: list[np.ndarray] = []
        self.closed = 0
        self.fail_send = False
        self.fail_open: str | None = None


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()

    class RecordingBackend:
        def __init__(
            self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any
        ):
            if rec.fail_open:
                raise RuntimeError(rec.fail_open)
            rec.created.append(dict(width=width, height=height, fps=fps, fourcc=fourcc, device=device))
            self._device = device or "recorder0"

        def close(self) -> None:
            rec.closed += 1

        def send(self, frame: np.ndarray) -> None:
            if rec.fail_send:
                raise OSError("device gone")
            rec.frames.append(frame.copy())

        def device(self) -> str:
            return self._device

        def native_fourcc(self) -> int | None:
            return None

    pyvirtualcam.register_backend("test-recorder", RecordingBackend)
    yield rec
    pyvirtualcam.camera.BACKENDS.pop("test-recorder", None)


def test_frames_reach_the_backend_as_bgr_of_the_stream_size(
    recorder: Recorder, ctx: SinkContext, make_frame
) -> None:
    sink = VirtualCameraSink(backend="test-recorder", device="fake0")
    assert isinstance(sink, Sink) and sink.steady is True
    sink.open(ctx)
    assert recorder.created == [
        dict(width=64, height=48, fps=30.0, fourcc=encode_fourcc("24BG"), device="fake0")
    ]
    assert sink.device_name == "fake0"
    frames = [make_frame(i) for i in range(3)]
    for f in frames:
        sink.write(f)
    assert len(recorder.frames) == 3
    for got, sent in zip(recorder.frames, frames):
        assert got.ndim == 1 and got.dtype == np.uint8
        assert np.array_equal(got.reshape(48, 64, 3), sent.image)
    sink.close()
    sink.close()
    assert recorder.closed == 1


def test_frames_of_another_size_are_resized(recorder: Recorder, ctx: SinkContext, make_frame) -> None:
    sink = VirtualCameraSink(backend="test-recorder")
    sink.open(ctx)
    sink.write(make_frame(0, width=128, height=96))
    sink.write(make_frame(1, width=32, height=24))
    assert [f.size for f in recorder.frames] == [64 * 48 * 3] * 2
    big = recorder.frames[0].reshape(48, 64, 3)
    assert big[5, 2].tolist() == [0, 0, 250]  # still BGR red top-left after resizing
    sink.close()


def test_backend_failure_on_send_is_sink_error(recorder: Recorder, ctx: SinkContext, make_frame) -> None:
    sink = VirtualCameraSink(backend="test-recorder")
    sink.open(ctx)
    recorder.fail_send = True
    with pytest.raises(SinkError, match="stopped accepting frames"):
        sink.write(make_frame(0))
    sink.close()


def test_unknown_backend_lists_the_known_ones(ctx: SinkContext) -> None:
    with pytest.raises(SinkError, match="unknown virtual camera backend 'nope'") as err:
        VirtualCameraSink(backend="nope").open(ctx)
    assert "\n" not in str(err.value)


def test_missing_driver_on_windows_or_mac_names_obs(
    recorder: Recorder, ctx: SinkContext, monkeypatch
) -> None:
    recorder.fail_open = "OBS Virtual Camera is not installed"
    monkeypatch.setattr(vcam.platform, "system", lambda: "Windows")
    with pytest.raises(SinkError) as err:
        VirtualCameraSink(backend="test-recorder").open(ctx)
    msg = str(err.value)
    assert "OBS" in msg and "virtual camera" in msg and "\n" not in msg
    assert "not installed" in msg


@pytest.mark.skipif(platform.system() != "Linux", reason="the v4l2loopback backend is Linux-only")
@pytest.mark.skipif(Path("/sys/module/v4l2loopback").exists(), reason="a v4l2loopback device exists here")
def test_missing_v4l2loopback_names_modprobe(ctx: SinkContext) -> None:
    sink = VirtualCameraSink(backend="v4l2loopback")
    with pytest.raises(SinkError) as err:
        sink.open(ctx)
    msg = str(err.value)
    assert "\n" not in msg
    assert "sudo modprobe v4l2loopback" in msg and "exclusive_caps=1" in msg
    assert "card_label" in msg
    sink.close()  # nothing was opened: still safe
    with pytest.raises(SinkError, match=r"no virtual camera device /dev/video42 .*modprobe"):
        VirtualCameraSink(backend="v4l2loopback", device="/dev/video42").open(ctx)
