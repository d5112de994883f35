"""How faces are found and followed: the face analysis' own small typed config.

Kept apart from the models, so a preset can be checked (and ``--help`` can list the keys)
without loading any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from realtime.errors import ConfigError

DETECTOR_MODELS = {"short": "face_detection_short_range", "full": "face_detection_full_range"}


@dataclass(frozen=True)
class AnalysisSettings:
    """How faces are found and followed.

    - ``detector``: ``"short"`` (faces within ~2 m, fastest) or ``"full"`` (small, distant faces).
    - ``score_threshold``: minimum BlazeFace score of a detection.
    - ``detect_every``: frames between detections looking for new faces while tracking.
    - ``presence_threshold``: FaceMesh presence below which a track is lost.
    - ``max_faces``: faces tracked at most (0: no limit).
    - ``min_cutoff`` (Hz), ``beta``: One Euro smoothing; lower ``min_cutoff`` = steadier at
      rest, higher ``beta`` = less lag in motion (speed in outer-eye-corner distances per s).
    - ``tile_rows``: rows of the tile grid searched one tile per detection for faces too
      small for the whole-frame pass (down to ~4 % of the frame width with 2; 0: off).
    - ``threads``: intra-op threads of each model (1 leaves the other core to the pipeline).
    """

    detector: str = "short"
    score_threshold: float = 0.5
    detect_every: int = 10
    presence_threshold: float = 0.5
    max_faces: int = 4
    min_cutoff: float = 0.3
    beta: float = 30.0
    threads: int = 1
    nms_threshold: float = 0.3
    iou_match: float = 0.3
    reset_jump: float = 0.5
    tile_rows: int = 2

    def __post_init__(self) -> None:
        if self.detector not in DETECTOR_MODELS:
            raise ConfigError(
                f"faces.detector must be one of {', '.join(DETECTOR_MODELS)}, got {self.detector!r}",
                fix="use 'short' for faces near the camera or 'full' for distant ones",
            )
        for name in ("score_threshold", "presence_threshold", "nms_threshold", "iou_match"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"faces.{name} must be within [0, 1], got {v}", fix="e.g. 0.5")
        if self.detect_every < 1:
            raise ConfigError(f"faces.detect_every must be >= 1, got {self.detect_every}", fix="e.g. 10")
        if self.max_faces < 0:
            raise ConfigError(f"faces.max_faces must be >= 0, got {self.max_faces}", fix="0 means no limit")
        if self.min_cutoff <= 0 or self.beta < 0:
            raise ConfigError(
                f"faces.min_cutoff must be > 0 and beta >= 0, got {self.min_cutoff}, {self.beta}",
                fix="e.g. min_cutoff=0.3, beta=30",
            )
        if self.threads < 1:
            raise ConfigError(f"faces.threads must be >= 1, got {self.threads}", fix="e.g. 1")
        if not 0 <= self.tile_rows <= 4:
            raise ConfigError(
                f"faces.tile_rows must be within [0, 4], got {self.tile_rows}", fix="e.g. 2; 0 is off"
            )
        if self.reset_jump <= 0:
            raise ConfigError(f"faces.reset_jump must be > 0, got {self.reset_jump}", fix="e.g. 0.5")
