"""``OutputGuard`` through its public call, frame by frame: what goes out in each case the CLI
tests cannot stage here (a lost remote server has no Triton to lose on this machine)."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.errors import ConfigError
from realtime.frame import SWAP_MISSED, Face, Frame
from realtime.pipeline.guard import OutputGuard, pixelate
from realtime.remote.guard import RemoteGuard

BOX = (40.0, 30.0, 100.0, 110.0)


def face() -> Face:
    return Face(np.array(BOX), 0.9, np.zeros((5, 2)))


def raw(i: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + i).integers(0, 255, (160, 200, 3), dtype=np.uint8)


def frame(
    i: int, swapped: bool, faces: int = 1, pts_step: float = 1 / 30, flags: tuple[str, ...] = ()
) -> Frame:
    f = Frame(i, 0.0, raw(i), tuple(face() for _ in range(faces)), pts=i * pts_step, flags=frozenset(flags))
    if swapped:
        img = f.image.copy()
        img[30:110, 40:100] = 255 - img[30:110, 40:100]
        f = f.with_image(img).with_swapped(faces)
    return f


def test_pass_changes_nothing() -> None:
    g = OutputGuard("pass")
    f = frame(0, False)
    assert g(f) is f


def test_before_the_first_swap_a_neutral_frame_goes_out() -> None:
    g = OutputGuard("hold")
    out = g(frame(0, False))
    assert out.image.std() < 30 and not np.array_equal(out.image, raw(0))
    assert g.report["on_miss"]["neutral"] == 1 and g.report["on_miss"]["state"] == "waiting"


def test_hold_repeats_the_last_swap_for_a_second_then_pixelates_the_whole_frame() -> None:
    g = OutputGuard("hold", hold_s=1.0)
    good = g(frame(0, True))
    lost = [g(frame(i, False, faces=0)) for i in range(1, 46)]  # 1.5 s with no face found
    held = [f for f in lost if np.array_equal(f.image, good.image)]
    assert 29 <= len(held) <= 31  # one second of frames at 30 fps
    blurred = lost[len(held) :]
    assert blurred and all(np.array_equal(f.image, pixelate(raw(f.index), 24)) for f in blurred)
    counts = g.report["on_miss"]
    assert counts["held"] == len(held) and counts["blurred"] == len(blurred)
    back = g(frame(50, True))
    assert back.image is not None and g.report["on_miss"]["state"] == "live"


def test_blur_pixelates_where_the_unswapped_face_is_and_keeps_the_rest() -> None:
    g = OutputGuard("blur")
    g(frame(0, True))
    f = frame(1, False, flags=(SWAP_MISSED,))
    out = g(f).image
    x1, y1, x2, y2 = (int(v) for v in BOX)
    assert not np.array_equal(out[y1:y2, x1:x2], f.image[y1:y2, x1:x2])
    assert np.array_equal(out[:, 150:], f.image[:, 150:])  # far from the face: untouched
    # No face known in the frame (a lost track): the whole frame.
    assert np.array_equal(g(frame(2, False, faces=0)).image, pixelate(raw(2), 24))


def test_a_pause_freezes_on_the_last_swapped_frame() -> None:
    g = OutputGuard("blur")
    good = g(frame(0, True))
    for i in range(1, 100):
        out = g(frame(i, False, flags=("passthrough",)))
        assert np.array_equal(out.image, good.image)
    assert g.report["on_miss"]["frozen"] == 99


def test_a_partly_swapped_frame_is_a_miss() -> None:
    g = OutputGuard("hold")
    good = g(frame(0, True, faces=2))
    partly = frame(1, True, faces=2).with_swapped(1).with_flag(SWAP_MISSED)
    assert np.array_equal(g(partly).image, good.image)


def test_a_lost_remote_server_marks_the_frame_and_it_is_held() -> None:
    from realtime.inference.triton import RemoteLost

    class Gone:
        name = "swap"
        thread_safe = True

        def __call__(self, f: Frame) -> Frame:
            raise RemoteLost("the server went away")

    remote = RemoteGuard(Gone())
    g = OutputGuard("hold")
    good = g(frame(0, True))
    passed = remote(frame(1, False))
    assert SWAP_MISSED in passed.flags and passed.swapped == 0
    assert np.array_equal(g(passed).image, good.image)


def test_an_unknown_policy_is_refused_by_its_declaration() -> None:
    from realtime.options import check, find
    from realtime.settings import Settings

    with pytest.raises(ConfigError, match="on_miss must be one of hold, blur, pass"):
        check(find(Settings, "on_miss"), "maybe")
