"""Which faces of a frame get swapped: all of them, the largest, or one track."""

from __future__ import annotations

from collections.abc import Sequence

from realtime.errors import ConfigError
from realtime.frame import Face

SELECT_MODES = ("all", "largest", "track")


def check_mode(mode: str, track_id: int | None) -> None:
    """``ConfigError`` for an unknown mode or a ``track`` mode without a track id."""
    if mode not in SELECT_MODES:
        raise ConfigError(
            f"swap.select must be one of {', '.join(SELECT_MODES)}, got {mode!r}",
            fix="use 'all', 'largest' or 'track' with a track id",
        )
    if mode == "track" and (track_id is None or track_id < 0):
        raise ConfigError("swap.select 'track' needs a track id >= 0", fix="set swap.track_id")


def select_faces(faces: Sequence[Face], mode: str = "all", track_id: int | None = None) -> list[Face]:
    """The faces to swap, in their given order; an empty list when none qualifies."""
    check_mode(mode, track_id)
    if mode == "all":
        return list(faces)
    if mode == "largest":
        return [max(faces, key=lambda f: f.area)] if faces else []
    return [f for f in faces if f.track_id == track_id]
