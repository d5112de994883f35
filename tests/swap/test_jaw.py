"""The fade narrows toward the chin (issue 24: no band of the target's chin, a "goatee",
inside the blend): below the mouth the swap reaches nearer the mask's edge."""

from __future__ import annotations

import cv2
import numpy as np

from realtime.swap.mesh.blend import feather


def test_the_fade_is_narrower_at_the_chin_than_at_the_cheeks() -> None:
    mask = np.zeros((200, 160), np.uint8)
    cv2.ellipse(mask, (80, 100), (70, 95), 0, 0, 360, 255, -1)
    plain = feather(mask, 4.0, 16.0)
    jaw = feather(mask, 4.0, 16.0, jaw=(130.0, 195.0))
    col = 80  # down the middle: the chin is at row 195

    def full_from_bottom(a: np.ndarray) -> int:
        return int(195 - np.flatnonzero(a[:, col] >= 0.99).max())

    assert full_from_bottom(jaw) < 0.6 * full_from_bottom(plain)
    assert np.allclose(jaw[:120], plain[:120], atol=1e-3)  # above the mouth: unchanged
    assert jaw.max() <= 1.0 and jaw.min() >= 0.0
