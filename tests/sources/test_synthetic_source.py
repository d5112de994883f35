from __future__ import annotations

import time

import numpy as np
import pytest

from realtime.errors import ConfigError
from realtime.sources.base import Source
from realtime.sources.synthetic import SyntheticSource


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_size_type_and_protocol() -> None:
    src = SyntheticSource(width=320, height=240, live=False)
    assert isinstance(src, Source)
    src.open()
    got = src.read()
    assert got is not None and got.pts == 0.0
    img = got.image
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8 and img.flags.c_contiguous
    src.close()


def test_deterministic_for_a_seed() -> None:
    a = SyntheticSource(width=160, height=120, seed=7, live=False)
    b = SyntheticSource(width=160, height=120, seed=7, live=False)
    c = SyntheticSource(width=160, height=120, seed=8, live=False)
    for i in (0, 5, 99):
        assert np.array_equal(a.render(i), b.render(i))
    assert _diff(a.render(40), c.render(40)) > 1.0
    a.open()
    assert np.array_equal(a.read().image, b.render(0))


def test_face_moves_when_motion_is_on() -> None:
    src = SyntheticSource(width=320, height=180, noise=0.0, live=False, seed=3)
    centers = np.array([src.face_center(i) for i in range(0, 90, 10)])
    assert np.ptp(centers[:, 0]) > 5 or np.ptp(centers[:, 1]) > 5
    poses = [src.pose(i) for i in range(0, 90, 10)]
    assert np.ptp([p.angle for p in poses]) > 1.0 and np.ptp([p.scale for p in poses]) > 0.01
    frames = src.frames(3, start=0) + src.frames(1, start=60)
    assert _diff(frames[0], frames[1]) < _diff(frames[0], frames[3])  # smooth: near frames alike
    assert _diff(frames[0], frames[3]) > 2.0


def test_still_apart_from_noise_when_motion_is_zero() -> None:
    quiet = SyntheticSource(width=320, height=180, motion=0.0, noise=0.0, live=False)
    assert np.array_equal(quiet.render(0), quiet.render(77))
    noisy = SyntheticSource(width=320, height=180, motion=0.0, noise=3.0, live=False)
    a, b = noisy.render(0), noisy.render(77)
    assert not np.array_equal(a, b)
    residual = a.astype(np.float32) - quiet.render(0)
    assert residual.std() == pytest.approx(3.0, rel=0.2)  # sensor noise of the asked sigma
    assert abs(float(residual.mean())) < 0.3


def test_bundled_face_is_in_the_frame() -> None:
    src = SyntheticSource(width=320, height=180, motion=0.0, noise=0.0, live=False)
    img = src.render(0).astype(np.int16)
    background = img[5, 5]
    center = img[60:120, 140:180]  # the photo, not the neutral wall
    assert np.abs(center - background).mean() > 20


def test_custom_face_array() -> None:
    face = np.zeros((100, 80, 3), np.uint8)
    face[..., 2] = 255
    src = SyntheticSource(face=face, width=200, height=100, motion=0.0, noise=0.0, live=False)
    img = src.render(0)
    assert img[50, 100].tolist() == [0, 0, 255]


def test_live_is_paced_and_file_mode_is_not() -> None:
    live = SyntheticSource(width=64, height=48, fps=50.0, live=True)
    live.open()
    t0 = time.monotonic()
    for _ in range(6):
        live.read()
    assert time.monotonic() - t0 >= 0.8 * 5 / 50
    fast = SyntheticSource(width=64, height=48, fps=1.0, live=False)
    fast.open()
    t0 = time.monotonic()
    for _ in range(6):
        fast.read()
    assert time.monotonic() - t0 < 1.0  # at 1 fps, pacing would take 5 s


def test_duration_ends_the_stream() -> None:
    src = SyntheticSource(width=64, height=48, fps=10.0, live=False, duration=0.3)
    src.open()
    got = [src.read() for _ in range(5)]
    assert [g is not None for g in got] == [True, True, True, False, False]
    assert [g.pts for g in got[:3]] == pytest.approx([0.0, 0.1, 0.2])


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        SyntheticSource(width=0)
    with pytest.raises(ConfigError):
        SyntheticSource(fps=0)
    with pytest.raises(ConfigError):
        SyntheticSource(noise=-1)


def test_a_720p_frame_is_cheap() -> None:
    src = SyntheticSource(live=False)
    src.open()
    src.render(0)
    times = []
    for i in range(1, 16):
        t0 = time.perf_counter()
        src.render(i)
        times.append(time.perf_counter() - t0)
    assert float(np.median(times)) < 0.02  # ~3 ms here; loose for a busy shared machine


def test_several_faces_side_by_side_are_all_found() -> None:
    from realtime.faces.analysis import analyze_image

    src = SyntheticSource(faces=2, width=1280, height=720, live=False, seed=2)
    src.open()
    faces = analyze_image(src.read().image)
    assert len(faces) == 2
    centres = sorted(float(f.center[0]) for f in faces)
    assert centres[0] < 640 < centres[1]
