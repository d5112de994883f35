"""Face tracking: detect only when needed, follow each face with its own landmarks.

BlazeFace runs at the start, when a track is lost (FaceMesh presence below threshold) and
every ``detect_every`` frames while fewer than ``max_faces`` are tracked, to pick up newcomers.
In between, each face's next crop comes from its previous landmarks, which costs one FaceMesh
run per face and no detection.

Faces too small for the detector over the whole frame (under ~10 % of its width for the
short-range model) are found by a tiled re-detect: the first frame is searched tile by tile
(a still has only that one), and each later detection also runs the detector on one tile of a
``tile_rows`` grid, the next one each time, where a face of 4 % of the frame's
width fills a fifth of the tile. While a tile finds someone new, the scan goes on at every
frame until a whole round finds nobody; afterwards it takes one tile per detection, so a
frame that only tracks costs exactly what it did (``tools/bench_detect.py`` measured the
choice: 8 tiles at 1.6-2 ms each found every face of 4 % at 720p and 1080p, the full-range
model over the whole frame found none of them, at 5 ms).

Detections are matched to tracks by IoU so ids stay stable; landmarks are smoothed by a One
Euro filter that resets on large jumps.

Live (``background=True``), the look for newcomers runs beside the frames on a thread of its
own, and its faces join the tracks when it is done, a frame or two later: the faces already
followed are tracked on every frame meanwhile, so a detection frame costs what any other does
(with it inline, a 1080p frame that also searched took 20-30 ms under one lock, and the live
pipeline dropped frames). A frame with no face yet, or one that lost a face, still detects
inline: there is nothing to follow until it does. File jobs detect inline, so that their
output does not depend on timing.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from realtime.faces.config import AnalysisSettings
from realtime.faces.detector import Detection, FaceDetector, Region, box_cover, box_iou, tile_grid
from realtime.faces.landmarks import FaceMesh, Roi, five_points, mesh_box
from realtime.faces.smoothing import OneEuroFilter
from realtime.frame import Face

log = logging.getLogger(__name__)


@dataclass
class Track:
    """One followed face: the crop for the next frame, its landmarks and its filter."""

    track_id: int
    roi: Roi
    filter: OneEuroFilter
    raw: np.ndarray | None = None  # (468, 3) this frame's unsmoothed landmarks
    mesh: np.ndarray | None = None  # (468, 3) smoothed
    presence: float = 0.0
    hits: int = 0
    box: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))


@dataclass(frozen=True)
class TrackerConfig:
    """Tracking knobs; see ``AnalysisSettings`` for what each one means."""

    detect_every: int = 10
    presence_threshold: float = 0.5
    max_faces: int = 4
    min_cutoff: float = 0.3
    beta: float = 30.0
    iou_match: float = 0.3
    iou_duplicate: float = 0.5
    reset_jump: float = 0.5
    tile_rows: int = 2  # 0: no tiled re-detect

    @classmethod
    def from_settings(cls, settings: AnalysisSettings) -> TrackerConfig:
        """The tracking part of the face analysis settings."""
        return cls(
            detect_every=settings.detect_every,
            presence_threshold=settings.presence_threshold,
            max_faces=settings.max_faces,
            min_cutoff=settings.min_cutoff,
            beta=settings.beta,
            iou_match=settings.iou_match,
            reset_jump=settings.reset_jump,
            tile_rows=settings.tile_rows,
        )


def _face_scale(mesh: np.ndarray, eyes: tuple[int, int]) -> float:
    """Distance between the outer eye corners: the face's size unit for smoothing."""
    d = mesh[eyes[1], :2] - mesh[eyes[0], :2]
    return max(float(np.hypot(d[0], d[1])), 1.0)


class FaceTracker:
    """Stateful: ``step(image, t)`` per frame, in order; ``reset()`` to start over."""

    def __init__(
        self, detector: FaceDetector, mesh: FaceMesh, config: TrackerConfig, *, background: bool = False
    ) -> None:
        self.detector = detector
        self.background = background
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[tuple[list[Detection], set[int]]] | None = None
        self.mesh = mesh
        self.config = config
        self.tracks: list[Track] = []
        self._next_id = 0
        self._since_detect = 0
        self.frames = 0
        self.detections_run = 0
        self.detected_last_step = False
        self._tiles: list[Region] = []
        self._tiles_for: tuple[int, int] = (0, 0)
        self._next_tile = 0
        self._scan_left = 0  # tiles still to search at every frame (someone new was found)

    def reset(self) -> None:
        self._drop_pending()  # a search of the old scene
        self.tracks = []
        self._next_id = 0
        self._since_detect = 0
        self.frames = 0
        self.detections_run = 0
        self.detected_last_step = False
        self._next_tile = 0
        self._scan_left = 0

    def _tile(self, image: np.ndarray) -> Region | None:
        """The next tile of the re-detect grid for this frame size (None: tiling is off)."""
        if self.config.tile_rows < 1:
            return None
        h, w = image.shape[:2]
        if self._tiles_for != (w, h):
            self._tiles = tile_grid(w, h, self.config.tile_rows)
            self._tiles_for, self._next_tile = (w, h), 0
        if len(self._tiles) < 2:
            return None
        tile = self._tiles[self._next_tile % len(self._tiles)]
        self._next_tile = (self._next_tile + 1) % len(self._tiles)
        return tile

    def _regions(self, image: np.ndarray) -> list[Region]:
        """The tiles this search looks at besides the whole frame."""
        tile = self._tile(image)
        if tile is None:
            return []
        self._scan_left = max(0, self._scan_left - 1)
        # The first frame (a still has no other) gets every tile at once: ~15 ms at 720p.
        return list(self._tiles) if self.frames == 1 else [tile]

    def _search(self, image: np.ndarray, tiles: list[Region]) -> tuple[list[Detection], set[int]]:
        """The whole frame, then ``tiles``; a face seen by both is kept once. Also says which
        detections (by ``id``) only a tile saw. Touches no state: it may run on another thread."""
        dets = self.detector.detect(image)
        if not tiles:
            return dets, set()
        tile_only: set[int] = set()
        for region in tiles:
            for d in self.detector.detect_region(image, region):
                if not dets or box_iou(d.box, np.stack([k.box for k in dets])).max() <= self.config.iou_match:
                    dets.append(d)
                    tile_only.add(id(d))
        return sorted(dets, key=lambda d: -d.score), tile_only

    def _new_filter(self) -> OneEuroFilter:
        return OneEuroFilter(self.config.min_cutoff, self.config.beta, vector=True)

    def _detect(self, image: np.ndarray) -> list[Track]:
        """Run BlazeFace here and now; start a track for every detection no track explains."""
        self._drop_pending()  # an older search beside the frames: this newer one replaces it
        self.detections_run += 1
        self._since_detect = 0
        self.detected_last_step = True
        return self._born(*self._search(image, self._regions(image)))

    def _detect_beside(self, image: np.ndarray) -> None:
        """Start a search of ``image`` on the detection thread (one at a time)."""
        if self._pending is not None:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="realtime-detect")
        # A copy: the frame's buffer goes back to its ring before the search is done.
        self._pending = self._pool.submit(self._search, image.copy(), self._regions(image))
        self.detections_run += 1
        self._since_detect = 0

    def _collect(self) -> list[Track]:
        """The tracks born of a search done beside the frames, once it is done."""
        pending = self._pending
        if pending is None or not pending.done():
            return []
        self._pending = None
        return self._born(*pending.result())

    def _drop_pending(self) -> None:
        """Wait for a search beside the frames and forget it (one detector call at a time)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.exception()  # waits; its faces, or its failure, are no longer wanted

    def _born(self, dets: list[Detection], tile_only: set[int]) -> list[Track]:
        if not dets:
            return []
        free = self.config.max_faces - len(self.tracks) if self.config.max_faces > 0 else len(dets)
        if self.tracks:
            boxes = np.stack([t.box for t in self.tracks])
            dboxes = np.stack([d.box for d in dets])
            # A detection box is larger than the landmarks' box of the same face (and a tile
            # may cut it): where their IoU stays low, most of the track's box lies inside it.
            explained = (box_iou(dboxes, boxes).max(axis=1) > self.config.iou_match) | (
                box_cover(dboxes, boxes).max(axis=1) > self.config.iou_duplicate
            )
        else:
            explained = np.zeros(len(dets), dtype=bool)
        born: list[Track] = []
        small_born = False
        for det, seen in zip(dets, explained):  # best score first
            if seen or len(born) >= free:
                continue
            small_born |= id(det) in tile_only
            roi = self.mesh.roi_from_detection(det)
            born.append(Track(self._next_id, roi, self._new_filter(), box=det.box.copy()))
            self._next_id += 1
        if born:
            log.debug("new face track(s): %s", [t.track_id for t in born])
        if small_born:  # a small face: others may be out there too, look at every tile now
            self._scan_left = len(self._tiles)
        return born

    def _follow(self, image: np.ndarray, tracks: list[Track], t: float) -> tuple[list[Track], bool]:
        """Run FaceMesh on each track's crop; keep those still holding a face. Also says
        whether any track was lost."""
        kept: list[Track] = []
        lost = False
        h, w = image.shape[:2]
        eyes = self.mesh.eye_corners
        for tr in tracks:
            raw, presence = self.mesh.run(image, tr.roi)
            if presence < self.config.presence_threshold:
                log.debug("face track %d lost (presence %.2f)", tr.track_id, presence)
                lost = True
                continue
            scale = _face_scale(raw, eyes)
            if tr.raw is not None:
                jump = float(np.linalg.norm(raw[:, :2].mean(axis=0) - tr.raw[:, :2].mean(axis=0)))
                if jump > self.config.reset_jump * scale:
                    tr.filter.reset()
            tr.raw = raw
            tr.mesh = tr.filter(raw, t, scale).astype(np.float32)
            tr.presence = presence
            tr.hits += 1
            tr.roi = self.mesh.roi_from_mesh(raw)
            tr.box = mesh_box(raw, w, h)
            kept.append(tr)
        return kept, lost

    def _dedupe(self, tracks: list[Track]) -> list[Track]:
        """Two tracks on one face (e.g. a re-detection drifting onto it): keep the older."""
        if len(tracks) < 2:
            return tracks
        tracks = sorted(tracks, key=lambda tr: tr.track_id)
        # Over the smaller box: a young track inside an older one's box is the same face.
        iou = box_cover(np.stack([t.box for t in tracks]), np.stack([t.box for t in tracks]))
        keep: list[int] = []
        for i in range(len(tracks)):
            if all(iou[i, j] <= self.config.iou_duplicate for j in keep):
                keep.append(i)
        return [tracks[i] for i in keep]

    def step(self, image: np.ndarray, t: float) -> list[Face]:
        """Faces in this frame, with stable track ids, ordered by track id."""
        cfg = self.config
        self.frames += 1
        self._since_detect += 1
        self.detected_last_step = False
        full = cfg.max_faces > 0 and len(self.tracks) >= cfg.max_faces
        due = (self._since_detect >= cfg.detect_every or self._scan_left > 0) and not full
        pending: list[Track] = list(self.tracks)
        if self.background and self.tracks and due:
            self._detect_beside(image)
        elif not self.tracks or due:
            pending += self._detect(image)
        pending += self._collect()
        tracks, lost = self._follow(image, pending, t)
        if lost and not self.detected_last_step:
            # a face was lost: look again now rather than show a frame without it
            self.tracks = tracks
            tracks += self._follow(image, self._detect(image), t)[0]
        self.tracks = self._dedupe(tracks)
        h, w = image.shape[:2]
        return [self._face(tr, w, h) for tr in self.tracks]

    @staticmethod
    def _face(tr: Track, width: int, height: int) -> Face:
        assert tr.mesh is not None
        return Face(
            box=mesh_box(tr.mesh, width, height),
            score=tr.presence,
            kps=five_points(tr.mesh),
            track_id=tr.track_id,
            mesh=tr.mesh,
        )
