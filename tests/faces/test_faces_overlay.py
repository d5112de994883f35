"""The debug overlay draws on a copy and leaves frames without faces alone."""

from __future__ import annotations

import numpy as np

from realtime.faces import FaceAnalyzer
from realtime.faces.overlay import LandmarkOverlay
from realtime.frame import Frame
from realtime.processor import Processor

from .conftest import warp_photo


def test_overlay_draws_boxes_and_landmarks_on_a_copy(photos) -> None:
    img, _ = warp_photo(photos["grace_hopper"], shift=(300, 60), size=(1280, 720))
    frame = FaceAnalyzer()(Frame(index=0, captured_at=0.0, image=img))
    overlay = LandmarkOverlay()
    assert isinstance(overlay, Processor) and overlay.name == "overlay"
    before = frame.image.copy()
    out = overlay(frame)
    np.testing.assert_array_equal(frame.image, before)
    assert out.faces == frame.faces
    changed = np.any(out.image != frame.image, axis=2)
    face = frame.faces[0]
    mesh_px = np.rint(face.mesh[:, :2]).astype(int)
    assert changed[mesh_px[:, 1], mesh_px[:, 0]].mean() > 0.95  # every landmark is drawn
    x1, y1, x2, y2 = (round(float(v)) for v in face.box)
    assert changed[y1, x1 : x2 + 1].mean() > 0.9  # the box's top edge
    outside = changed.copy()
    outside[max(0, y1 - 40) : y2 + 40, max(0, x1 - 40) : x2 + 40] = False
    assert not outside.any()  # nothing drawn away from the face


def test_overlay_passes_frames_without_faces_through() -> None:
    frame = Frame(index=0, captured_at=0.0, image=np.zeros((48, 64, 3), np.uint8))
    assert LandmarkOverlay()(frame) is frame
