from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.commands import cameras as cameras_cmd
from realtime.errors import ConfigError, SourceError
from realtime.sources.base import Source
from realtime.sources.camera import CameraInfo, CameraSource, list_cameras, platform_api


class FakeCapture:
    """A ``cv2.VideoCapture`` stand-in: delivers ``size`` frames (or fails as told)."""

    def __init__(
        self,
        device: int | str,
        api: int,
        *,
        opened: bool = True,
        size: tuple[int, int] = (1280, 720),
        gray: bool = False,
        good_reads: int | None = None,
        fps: float = 30.0,
    ) -> None:
        self.device, self.api = device, api
        self.opened = opened
        self.size, self.gray = size, gray
        self.good_reads = good_reads
        self.fps = fps
        self.props: dict[int, float] = {}
        self.reads = 0
        self.released = 0

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop_id: int, value: float) -> bool:
        self.props[prop_id] = value
        return True

    def get(self, prop_id: int) -> float:
        return self.fps if prop_id == cv2.CAP_PROP_FPS else self.props.get(prop_id, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.reads += 1
        if self.good_reads is not None and self.reads > self.good_reads:
            return False, None
        w, h = self.size
        img = np.full((h, w) if self.gray else (h, w, 3), self.reads % 256, np.uint8)
        return True, img

    def release(self) -> None:
        self.released += 1


class Factory:
    def __init__(self, **kw: object) -> None:
        self.kw = kw
        self.made: list[FakeCapture] = []

    def __call__(self, device: int | str, api: int) -> FakeCapture:
        cap = FakeCapture(device, api, **self.kw)  # type: ignore[arg-type]
        self.made.append(cap)
        return cap


def _camera(factory: Factory, device: int | str = 0, **kw: object) -> CameraSource:
    return CameraSource(device, capture_factory=factory, retry_sleep=lambda s: None, **kw)  # type: ignore[arg-type]


def test_missing_camera_is_one_line_source_error_naming_the_fix() -> None:
    factory = Factory(opened=False)
    cam = _camera(factory, 3)
    with pytest.raises(SourceError) as err:
        cam.open()
    msg = str(err.value)
    assert "camera 3" in msg and "realtime cameras" in msg and "\n" not in msg
    assert factory.made[0].released == 1


def test_real_opencv_with_a_nonexistent_index_is_source_error() -> None:
    with pytest.raises(SourceError, match="camera 97 could not be opened"):
        CameraSource(97).open()


def test_open_requests_mjpg_size_fps_and_a_one_frame_queue() -> None:
    factory = Factory()
    cam = _camera(factory, 0, width=1280, height=720, fps=30.0, api="v4l2")
    assert isinstance(cam, Source) and cam.live is True
    cam.open()
    cap = factory.made[0]
    assert cap.api == cv2.CAP_V4L2
    assert cap.props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter.fourcc(*"MJPG")
    assert cap.props[cv2.CAP_PROP_FRAME_WIDTH] == 1280
    assert cap.props[cv2.CAP_PROP_FRAME_HEIGHT] == 720
    assert cap.props[cv2.CAP_PROP_FPS] == 30.0
    assert cap.props[cv2.CAP_PROP_BUFFERSIZE] == 1
    assert (cam.width, cam.height, cam.fps) == (1280, 720, 30.0)
    frames = [cam.read() for _ in range(3)]
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 3]  # the probe frame is not lost
    assert all(f.pts is None and f.image.shape == (720, 1280, 3) for f in frames)
    cam.close()
    cam.close()
    assert cap.released == 1


def test_another_size_than_asked_is_reported_and_warned(caplog) -> None:
    factory = Factory(size=(640, 480), fps=15.0)
    cam = _camera(factory, 0, width=1920, height=1080, fps=30.0)
    with caplog.at_level(logging.WARNING, logger="realtime.sources.camera"):
        cam.open()
    assert (cam.width, cam.height) == (640, 480)
    assert cam.fps == 15.0
    assert "640x480, not the 1920x1080" in caplog.text
    assert cam.read().image.shape == (480, 640, 3)
    cam.close()


def test_gray_frames_become_bgr() -> None:
    cam = _camera(Factory(size=(32, 24), gray=True))
    cam.open()
    img = cam.read().image
    assert img.shape == (24, 32, 3) and img.flags.c_contiguous
    cam.close()


def test_camera_that_opens_but_never_delivers() -> None:
    factory = Factory(good_reads=0)
    with pytest.raises(SourceError, match="delivers no frames"):
        _camera(factory, first_frame_attempts=3).open()
    assert factory.made[0].released == 1


def test_unplugged_mid_run_is_source_error() -> None:
    cam = _camera(Factory(good_reads=3), max_read_failures=4)
    cam.open()
    assert cam.read() is not None and cam.read() is not None and cam.read() is not None
    with pytest.raises(SourceError, match="stopped delivering") as err:
        cam.read()
    assert "\n" not in str(err.value)


def test_device_paths_and_digit_strings() -> None:
    factory = Factory()
    _camera(factory, "/dev/video4").open()
    _camera(factory, "2").open()
    assert [c.device for c in factory.made] == ["/dev/video4", 2]


def test_platform_backends_and_unknown_api() -> None:
    assert platform_api("Linux") == cv2.CAP_V4L2
    assert platform_api("Windows") == cv2.CAP_DSHOW
    assert platform_api("Darwin") == cv2.CAP_AVFOUNDATION
    factory = Factory()
    _camera(factory, 0, api="dshow").open()
    assert factory.made[0].api == cv2.CAP_DSHOW
    with pytest.raises(ConfigError, match="unknown capture backend 'bogus'"):
        _camera(factory, 0, api="bogus").open()


def test_list_cameras_on_linux_reads_dev_and_sysfs(tmp_path: Path) -> None:
    dev, sys_dir, virt = tmp_path / "dev", tmp_path / "sys", tmp_path / "devices" / "virtual" / "video10"
    dev.mkdir()
    sys_dir.mkdir()
    virt.mkdir(parents=True)
    for n in ("video0", "video1", "video10", "vbi0", "videoX"):
        (dev / n).touch()
    (sys_dir / "video0").mkdir()
    (sys_dir / "video0" / "name").write_text("HD Webcam C920\n")
    (virt / "name").write_text("realtime\n")
    os.symlink(virt, sys_dir / "video10")
    found = list_cameras(system="Linux", dev_dir=dev, sys_dir=sys_dir)
    assert found == [
        CameraInfo(0, str(dev / "video0"), "HD Webcam C920", False),
        CameraInfo(1, str(dev / "video1"), "video1", False),
        CameraInfo(10, str(dev / "video10"), "realtime", True),
    ]


def test_list_cameras_elsewhere_probes_indices() -> None:
    made: list[FakeCapture] = []

    def factory(device: int | str, api: int) -> FakeCapture:
        cap = FakeCapture(device, api, opened=device in (0, 2))
        made.append(cap)
        return cap

    found = list_cameras(system="Windows", capture_factory=factory)
    assert [c.device for c in found] == ["0", "2"]
    assert len(made) == 10 and all(c.released == 1 and c.api == cv2.CAP_DSHOW for c in made)


def test_cameras_command_table_and_json(monkeypatch, capsys) -> None:
    cams = [
        CameraInfo(0, "/dev/video0", "HD Webcam", False),
        CameraInfo(10, "/dev/video10", "realtime", True),
    ]
    monkeypatch.setattr(cameras_cmd, "list_cameras", lambda: cams)
    parser = argparse.ArgumentParser()
    cameras_cmd.configure(parser)
    assert cameras_cmd.run(parser.parse_args([])) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["CAMERA", "NAME"]
    assert table[1].split() == ["/dev/video0", "HD", "Webcam"]
    assert "virtual" in table[2]
    assert cameras_cmd.run(parser.parse_args(["--json"])) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0] == {"index": 0, "device": "/dev/video0", "name": "HD Webcam", "virtual": False}
    monkeypatch.setattr(cameras_cmd, "list_cameras", lambda: [])
    assert cameras_cmd.run(parser.parse_args([])) == 0
    assert "No cameras found" in capsys.readouterr().out
