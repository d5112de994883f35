"""Changing the source face at run time: file watch and hotkey path."""

import shutil
import time
from pathlib import Path

import numpy as np

from realtime.app import ASSETS
from realtime.faces.analysis import FaceAnalyzer
from realtime.swap.reload import FaceReloader


class Recorder:
    def __init__(self):
        self.sources = []

    def set_source(self, source):
        self.sources.append(source)


def test_a_new_photo_saved_over_the_face_is_picked_up(tmp_path: Path):
    face = tmp_path / "me.jpg"
    shutil.copy(ASSETS / "faces" / "astronaut.jpg", face)
    swapper = Recorder()
    reloader = FaceReloader([face], swapper, FaceAnalyzer(), poll_s=0.05)
    reloader.start()
    try:
        time.sleep(0.2)
        assert swapper.sources == []  # nothing changed yet
        shutil.copy(ASSETS / "faces" / "grace_hopper.jpg", face)
        deadline = time.monotonic() + 10
        while not swapper.sources and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        reloader.stop()
    assert len(swapper.sources) == 1
    src = swapper.sources[0]
    assert src.path == face


def test_a_photo_without_a_face_keeps_the_current_one(tmp_path: Path, caplog):
    face = tmp_path / "me.png"
    import cv2

    cv2.imwrite(str(face), np.full((200, 200, 3), 128, np.uint8))
    swapper = Recorder()
    reloader = FaceReloader([face], swapper, FaceAnalyzer())
    assert reloader.reload() is False
    assert swapper.sources == [] and "keeping the current face" in caplog.text
