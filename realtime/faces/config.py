"""How faces are found and followed: the face analysis' own small typed config.

Kept apart from the models, so a preset can be checked (and ``--help`` can list the keys)
without loading any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from realtime.options import declared, opt, validate

DETECTOR_MODELS = {"short": "face_detection_short_range", "full": "face_detection_full_range"}


@dataclass(frozen=True)
class AnalysisSettings:
    """How faces are found and followed (the ``[faces]`` section).

    ``min_cutoff`` (Hz) and ``beta`` are One Euro smoothing: lower ``min_cutoff`` = steadier at
    rest, higher ``beta`` = less lag in motion (speed in outer-eye-corner distances per s).
    ``tile_rows`` rows of tiles are searched one tile per detection for faces too small for the
    whole-frame pass (down to ~4 % of the frame width with 2). ``threads``: intra-op threads of
    each model (1 leaves the other core to the pipeline). Options that are not ``live`` need a
    restart: the models and the tile grid are built once.
    """

    SECTION: ClassVar[str] = "faces"

    detector: str = opt(
        "short",
        "short: faces within ~2 m (fastest); full: small, distant faces",
        choices=tuple(DETECTOR_MODELS),
        label="Detector range",
    )
    score_threshold: float = opt(
        0.5,
        "minimum detection score",
        minimum=0,
        maximum=1,
        step=0.05,
        label="Detection confidence",
    )
    detect_every: int = opt(
        10,
        "frames between detections looking for new faces",
        minimum=1,
        slider=(1, 60),
        step=1,
        live=True,
        label="Look for new faces every N frames",
    )
    presence_threshold: float = opt(
        0.5,
        "landmark presence below which a track is lost",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Tracking confidence",
    )
    max_faces: int = opt(
        4,
        "faces tracked at most (0: no limit)",
        minimum=0,
        slider=(0, 16),
        step=1,
        live=True,
        label="Most faces tracked",
    )
    min_cutoff: float = opt(
        0.3,
        "smoothing at rest in Hz (lower: steadier)",
        minimum=0,
        slider=(0.01, 5),
        open_min=True,
        step=0.01,
        live=True,
        label="Smoothing (lower: steadier)",
        basic=True,
    )
    beta: float = opt(
        30.0,
        "smoothing in motion (higher: less lag)",
        minimum=0,
        slider=(0, 200),
        step=1,
        live=True,
        label="Follow fast moves",
    )
    threads: int | None = opt(
        None,
        "threads of each face model (default: from the CPUs this process may use)",
        minimum=1,
        slider=(1, 16),
        step=1,
        label="Model threads",
    )
    nms_threshold: float = opt(
        0.3,
        "overlap above which two detections are one face",
        minimum=0,
        maximum=1,
        step=0.05,
        label="Duplicate overlap",
    )
    iou_match: float = opt(
        0.3,
        "overlap that matches a detection to a track",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Track match overlap",
    )
    reset_jump: float = opt(
        0.5,
        "a jump this large (face sizes) restarts a track's smoothing",
        minimum=0,
        slider=(0.05, 5),
        open_min=True,
        step=0.05,
        live=True,
        label="Jump that restarts smoothing",
    )
    tile_rows: int = opt(
        2,
        "rows of the tile grid searched for small, far faces (0: off)",
        minimum=0,
        maximum=4,
        step=1,
        label="Search rows for far faces",
    )

    def __post_init__(self) -> None:
        validate(self)


# Changing these needs new detector models or a new tile grid: a restart.
RESTART_ONLY = tuple(d.name for d in declared(AnalysisSettings) if not d.option.live)
