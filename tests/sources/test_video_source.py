from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from realtime.errors import InputError
from realtime.sources.base import Source
from realtime.sources.video import Pacer, VideoSource, is_url


def _read_all(src: VideoSource, limit: int = 1000) -> list:
    out = []
    for _ in range(limit):
        got = src.read()
        if got is None:
            break
        out.append(got)
    return out


def _level(image: np.ndarray) -> float:
    """Grey level of a clip frame, away from the white marker block."""
    return float(image[image.shape[0] // 2 :, image.shape[1] // 2 :].mean())


def test_missing_file_is_one_line_input_error(tmp_path: Path) -> None:
    src = VideoSource(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="video not found") as err:
        src.open()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 1000, bytes(range(256)) * 64])
def test_unreadable_file_is_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    src = VideoSource(path, realtime=False)
    with pytest.raises(InputError) as err:
        src.open()
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)
    src.close()


def test_random_bytes_are_input_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.mkv"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError):
        VideoSource(path, realtime=False).open()


def test_file_mode_reads_every_frame_in_order_with_increasing_pts(clip) -> None:
    path = clip(n=12, fps=24, size=(64, 48))
    src = VideoSource(path, realtime=False)
    assert isinstance(src, Source)
    assert src.live is False
    src.open()
    assert (src.width, src.height, src.fps) == (64, 48, 24.0)
    assert src.has_audio is False and src.rotation == 0
    assert src.duration == pytest.approx(0.5, abs=0.1)
    frames = _read_all(src)
    assert len(frames) == 12
    assert src.read() is None
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert np.diff(pts) == pytest.approx(np.full(11, 1 / 24), abs=1e-3)
    levels = [_level(f.image) for f in frames]
    assert levels == pytest.approx([20 + 15 * i for i in range(12)], abs=4)
    img = frames[0].image
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.flags.c_contiguous
    src.close()
    src.close()  # idempotent


def test_loop_starts_over_and_pts_keep_increasing(clip) -> None:
    path = clip(n=6, fps=20)
    src = VideoSource(path, realtime=False, loop=True)
    src.open()
    frames = [src.read() for _ in range(15)]
    src.close()
    assert all(f is not None for f in frames)
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert np.diff(pts) == pytest.approx(np.full(14, 1 / 20), abs=2e-3)
    levels = [round((_level(f.image) - 20) / 15) for f in frames]
    assert levels == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2]


def test_realtime_playback_is_paced_to_the_clip_rate(clip) -> None:
    path = clip(n=10, fps=25)
    src = VideoSource(path, realtime=True)
    assert src.live is True
    src.open()
    t0 = time.monotonic()
    frames = _read_all(src)
    elapsed = time.monotonic() - t0
    src.close()
    assert len(frames) == 10
    nominal = 9 / 25  # the first frame is due at once
    assert 0.8 * nominal <= elapsed <= nominal + 1.0


def test_rotation_from_display_matrix_turns_pictures_upright(clip) -> None:
    # A display matrix of +90 degrees (counter-clockwise) is what players apply.
    path = clip(n=3, size=(64, 48), rotation=90)
    src = VideoSource(path, realtime=False)
    src.open()
    assert src.rotation == 270
    assert (src.width, src.height) == (48, 64)
    img = src.read().image
    assert img.shape == (64, 48, 3)
    # The marker at the stored top-left ends at the bottom-left after a 90° CCW turn.
    assert img[-8:, :8].mean() > 200 and img[:8, :8].mean() < 100
    src.close()
    raw = VideoSource(path, realtime=False, autorotate=False)
    raw.open()
    assert raw.rotation == 0 and raw.read().image.shape == (48, 64, 3)
    raw.close()


def test_audio_is_reported(clip) -> None:
    src = VideoSource(clip(n=4, audio=True), realtime=False)
    src.open()
    assert src.has_audio is True
    assert len(_read_all(src)) == 4
    src.close()


def test_urls_are_live_and_an_unreachable_stream_is_input_error() -> None:
    assert is_url("rtsp://cam.local/stream") and is_url("HTTPS://x/y.m3u8")
    assert not is_url("/tmp/rtsp.mp4") and not is_url("C:\\videos\\a.mp4")
    src = VideoSource("http://127.0.0.1:9/none.mp4", realtime=False, timeout=2.0)
    assert src.live is True  # a stream arrives at its own pace
    t0 = time.monotonic()
    with pytest.raises(InputError, match="cannot open stream") as err:
        src.open()
    assert time.monotonic() - t0 < 5
    assert "\n" not in str(err.value)


def test_pacer_sleeps_until_due_and_reanchors_after_a_stall(fake_clock) -> None:
    pacer = Pacer(max_lag=0.5, clock=fake_clock, sleep=fake_clock.sleep)
    pacer.wait(10.0)  # anchors
    pacer.wait(10.1)
    pacer.wait(10.2)
    assert fake_clock.sleeps == pytest.approx([0.1, 0.1])
    fake_clock.t += 3.0  # the reader stalled
    pacer.wait(10.3)  # late: no sleep, re-anchor
    pacer.wait(10.4)
    assert fake_clock.sleeps == pytest.approx([0.1, 0.1, 0.1])
