"""Face analysis for the pipeline (``FaceAnalyzer``) and for still photos (``analyze_image``).

Both use the bundled MediaPipe models (BlazeFace + FaceMesh), so a fresh install finds faces
offline. Every ``Face`` carries a box, a score (FaceMesh face presence), the 5 alignment
points and the 468-point mesh, all in frame pixels.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from realtime.errors import ConfigError, InputError
from realtime.faces.config import RESTART_ONLY, AnalysisSettings
from realtime.faces.detector import FaceDetector, box_iou
from realtime.faces.landmarks import FaceMesh, five_points, mesh_box
from realtime.faces.tracker import FaceTracker, TrackerConfig
from realtime.frame import Face, Frame
from realtime.inference.session import BuildCallback

log = logging.getLogger(__name__)


def _check_image(image: object) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise InputError(
            f"face analysis needs an HxWx3 uint8 BGR image, got {type(image).__name__} {shape}",
            fix="load the photo with cv2.imread",
        )
    return np.ascontiguousarray(image)


class FaceAnalyzer:
    """The face-tracking processor: adds tracked ``Face``s (with mesh) to each frame.

    Stateful (tracks, filters), so calls are serialised by a lock; feed frames in order.
    """

    name = "faces"
    thread_safe = True  # serialised by ``_lock`` (tracking needs frames one at a time)

    def __init__(
        self,
        settings: AnalysisSettings | None = None,
        *,
        provider: str | None = None,
        on_build: BuildCallback | None = None,
        still: bool = False,
        live: bool = False,
    ) -> None:
        """``on_build`` reports a TensorRT engine build (first run on a GPU only). ``still``:
        every frame is a photo of its own (still mode), analysed as ``analyze_image`` does.
        ``live``: newcomers are looked for beside the frames (``realtime.faces.tracker``)."""
        settings = settings or AnalysisSettings()
        self.settings = settings
        self.provider = provider
        self._on_build = on_build
        self.detector = self._make_detector(settings.detector)
        self.mesh = FaceMesh(threads=settings.threads or 1, provider=provider, on_build=on_build)
        self.tracker = FaceTracker(
            self.detector, self.mesh, TrackerConfig.from_settings(settings), background=live
        )
        self._full: FaceDetector | None = None
        self._lock = threading.Lock()
        self.still = still

    def __call__(self, frame: Frame) -> Frame:
        if self.still:
            return frame.with_faces(self.analyze_image(frame.image))
        with self._lock:
            faces = self.tracker.step(frame.image, frame.captured_at)
        return frame.with_faces(faces)

    RESTART_ONLY = RESTART_ONLY

    def set_settings(self, settings: AnalysisSettings) -> None:
        """Follow faces with ``settings`` from the next frame on (thread-safe). The tracking
        settings change live; ``RESTART_ONLY`` ones raise ``ConfigError``."""
        changed = [n for n in self.RESTART_ONLY if getattr(settings, n) != getattr(self.settings, n)]
        if changed:
            raise ConfigError(
                f"faces.{changed[0]} cannot change while running", fix="save a preset and restart with it"
            )
        with self._lock:
            self.tracker.config = TrackerConfig.from_settings(settings)
            self.settings = settings

    def reset(self) -> None:
        """Forget every track (e.g. when the source restarts or jumps)."""
        with self._lock:
            self.tracker.reset()

    def _make_detector(self, model: str) -> FaceDetector:
        s = self.settings
        return FaceDetector(
            model,
            score_threshold=s.score_threshold,
            nms_threshold=s.nms_threshold,
            max_faces=s.max_faces,
            threads=s.threads or 1,
            provider=self.provider,
            on_build=self._on_build,
        )

    def _full_range(self) -> FaceDetector:
        if self._full is None:
            self._full = self._make_detector("full")
        return self._full

    def analyze_image(self, image_bgr: np.ndarray) -> list[Face]:
        """Faces in a still image (no tracking, ``track_id`` -1), largest first.

        Each face gets two FaceMesh passes: the second on the crop placed by the first
        one's landmarks, which is tighter and better levelled than the detector's. With the
        short-range detector, the full-range one runs too, for the small faces of a large
        photo (common in source photos); a still is not a frame budget.
        """
        image = _check_image(image_bgr)
        s = self.settings
        h, w = image.shape[:2]
        with self._lock:
            dets = self.detector.detect(image)
            if s.detector == "short":  # also look for small faces the short-range model misses
                for extra in self._full_range().detect(image):
                    if not dets or box_iou(extra.box, np.stack([d.box for d in dets])).max() <= 0.3:
                        dets.append(extra)
            faces: list[Face] = []
            for det in dets:
                mesh, presence = self.mesh.run(image, self.mesh.roi_from_detection(det))
                if presence < s.presence_threshold:
                    continue
                refined, presence2 = self.mesh.run(image, self.mesh.roi_from_mesh(mesh))
                if presence2 >= s.presence_threshold:
                    mesh, presence = refined, presence2
                faces.append(Face(mesh_box(mesh, w, h), presence, five_points(mesh), mesh=mesh))
        faces.sort(key=lambda f: -f.area)
        kept: list[Face] = []
        for f in faces:  # two detections converging on one face
            if all(box_iou(f.box, k.box)[0, 0] <= 0.5 for k in kept):
                kept.append(f)
        if s.max_faces > 0:
            kept = kept[: s.max_faces]
        return kept


def analyze_image(
    image_bgr: np.ndarray, settings: AnalysisSettings | None = None, *, provider: str | None = None
) -> list[Face]:
    """Faces in one still image (detect + landmarks, no tracking), largest first.

    Opens the models for this one call; to analyse many photos, keep a ``FaceAnalyzer`` and
    call its ``analyze_image``.
    """
    return FaceAnalyzer(settings, provider=provider).analyze_image(image_bgr)
