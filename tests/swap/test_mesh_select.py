"""Which faces get swapped."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.errors import ConfigError
from realtime.frame import Face
from realtime.swap.select import select_faces


def _face(x: float, size: float, track: int) -> Face:
    return Face(np.array([x, 0, x + size, size]), 0.9, np.zeros((5, 2)), track_id=track)


FACES = (_face(0, 50, 3), _face(100, 120, 7), _face(300, 80, 9))


def test_all_keeps_order() -> None:
    assert select_faces(FACES, "all") == list(FACES)


def test_largest() -> None:
    assert select_faces(FACES, "largest") == [FACES[1]]
    assert select_faces((), "largest") == []


def test_track() -> None:
    assert select_faces(FACES, "track", 9) == [FACES[2]]
    assert select_faces(FACES, "track", 4) == []


@pytest.mark.parametrize(("mode", "track"), [("biggest", None), ("track", None), ("track", -1)])
def test_bad_modes(mode: str, track: int | None) -> None:
    with pytest.raises(ConfigError):
        select_faces(FACES, mode, track)
