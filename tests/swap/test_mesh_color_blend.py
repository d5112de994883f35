"""Colour transfer, its per-track smoothing, the masked low-pass, the feather and the blends."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime.swap.mesh.blend import alpha_blend, composite, feather, two_band
from realtime.swap.mesh.color import (
    ColourStats,
    StatsSmoother,
    colour_stats,
    masked_lowpass,
    shading_offset,
    tone_transfer,
)


def _patch(mean_bgr: tuple[float, float, float], spread: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.normal(mean_bgr, spread, (64, 64, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_tone_transfer_matches_the_target_statistics() -> None:
    src, tgt = _patch((80, 120, 200), 12, 0), _patch((120, 130, 150), 6, 1)
    full = np.full((64, 64), 255, np.uint8)
    s = colour_stats(cv2.cvtColor(src, cv2.COLOR_BGR2YCrCb), full)
    t = colour_stats(cv2.cvtColor(tgt, cv2.COLOR_BGR2YCrCb), full)
    assert s is not None and t is not None
    out = cv2.transform(src, tone_transfer(s, t, 1.0).bgr_matrix())
    o = colour_stats(cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb), full)
    assert o is not None
    np.testing.assert_allclose(o.mean, t.mean, atol=1.0)
    np.testing.assert_allclose(o.std, t.std, rtol=0.15, atol=0.6)
    # Strength 0 changes nothing.
    np.testing.assert_allclose(tone_transfer(s, t, 0.0).bgr_matrix(), np.eye(3, 4), atol=1e-6)


def test_too_little_skin_gives_no_statistics() -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[:2, :2] = 255
    assert colour_stats(_patch((1, 2, 3), 1, 0), mask) is None


def test_smoother_follows_each_track_and_forgets_lost_ones() -> None:
    a = ColourStats(np.zeros(3), np.ones(3))
    b = ColourStats(np.full(3, 10.0), np.ones(3))
    sm = StatsSmoother(weight=0.25, max_age=5)
    sm.update(1, 0, a, a)
    src, _ = sm.update(1, 1, b, b)
    np.testing.assert_allclose(src.mean, 2.5)  # moved a quarter of the way
    src, _ = sm.update(2, 1, b, b)
    np.testing.assert_allclose(src.mean, 10.0)  # another track starts from its own value
    src, _ = sm.update(-1, 1, a, a)
    np.testing.assert_allclose(src.mean, 0.0)  # untracked faces are never smoothed
    sm.update(2, 20, b, b)
    assert len(sm) == 1  # track 1, unseen for 19 frames, is gone
    sm.reset()
    assert len(sm) == 0


def test_masked_lowpass_fills_holes_from_the_surrounding_skin() -> None:
    img = np.full((80, 80), 150.0, np.float32)
    mask = np.ones((80, 80), np.float32)
    img[30:50, 30:50] = 20.0  # a dark feature (an eye, a glasses rim)...
    mask[30:50, 30:50] = 0.0  # ...kept out of the mask
    low = masked_lowpass(img, mask, sigma=6.0)
    assert np.abs(low - 150.0).max() < 0.5


def test_shading_offset_brings_the_target_light() -> None:
    h, w = 40, 60
    ramp = np.tile(np.linspace(60, 180, w, dtype=np.float32), (h, 1))  # lit from the right
    flat = np.full((h, w), 120.0, np.float32)
    skin = np.ones((h, w), np.float32)
    ident = tone_transfer(ColourStats(np.zeros(3), np.ones(3)), ColourStats(np.zeros(3), np.ones(3)), 1.0)
    off = shading_offset(ramp, skin, flat, skin, ident, sigma=1.0, amount=1.0)
    np.testing.assert_allclose(flat + off, ramp, atol=3.0)
    assert np.abs(shading_offset(ramp, skin, flat, skin, ident, 1.0, 0.0)).max() == 0


def test_feather_stays_inside_the_mask_and_ramps_up() -> None:
    mask = np.zeros((100, 100), np.uint8)
    cv2.circle(mask, (50, 50), 40, 255, -1)
    alpha = feather(mask, erode=4.0, ramp=10.0)
    assert alpha.dtype == np.float32
    assert (alpha[mask == 0] == 0).all()
    assert alpha[50, 50] == pytest.approx(1.0)
    assert alpha[50, 12] == 0.0  # within the erosion band (2 px inside the edge)
    row = alpha[50, 10:50]
    assert (np.diff(row) >= -1e-6).all()  # rises monotonically toward the centre


def test_feather_does_not_fade_along_a_frame_border() -> None:
    mask = np.zeros((60, 60), np.uint8)
    mask[:, 20:] = 255  # the face goes on past the right edge of the frame
    closed = feather(mask, 2.0, 8.0)
    opened = feather(mask, 2.0, 8.0, open_edges=(True, True, False, True))
    assert closed[30, 59] == 0.0
    assert opened[30, 59] == pytest.approx(1.0)
    assert opened[30, 20] == 0.0  # the real edge still feathers


def test_blends_at_their_extremes() -> None:
    base, top = _patch((50, 50, 50), 5, 0), _patch((200, 100, 20), 5, 1)
    ones, zeros = np.ones((64, 64), np.float32), np.zeros((64, 64), np.float32)
    np.testing.assert_array_equal(alpha_blend(base, top, ones), top)
    np.testing.assert_array_equal(alpha_blend(base, top, zeros), base)
    np.testing.assert_array_equal(two_band(base, top, zeros, 8.0), base)
    inner = (slice(20, 44), slice(20, 44))
    assert np.abs(two_band(base, top, ones, 8.0)[inner].astype(int) - top[inner]).max() <= 1


def test_composite_applies_colour_shade_keep_and_alpha() -> None:
    out = np.full((20, 20, 3), 10, np.uint8)
    warped = np.full((20, 20, 3), 100, np.uint8)
    colour = np.eye(3, 4, dtype=np.float32)
    colour[:, 3] = 5.0  # +5 on every channel
    shade = np.full((20, 20), 3, np.int16)
    alpha = np.zeros((20, 20), np.float32)
    alpha[:, 10:] = 1.0
    keep_pixels = np.full((4, 4, 3), 222, np.uint8)
    keep = [((12, 0, 16, 4), keep_pixels, np.ones((4, 4), np.float32))]
    composite(out, warped, colour, shade, alpha, keep)
    assert (out[:, :10] == 10).all()  # alpha 0: untouched
    assert (out[5:, 10:] == 108).all()  # 100 + 5 + 3
    assert (out[:4, 12:16] == 222).all()  # the target's own feature
